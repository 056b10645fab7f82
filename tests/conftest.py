"""Test-wide setup: tests never see the user's own data (imported tracker lists)."""

from __future__ import annotations

import os
import tempfile

from hypothesis import settings

# `make test` tries the same property-test examples on every run, so a red CI is never a
# coin toss; HYPOTHESIS_PROFILE=explore searches afresh (as `make fuzz` does, far longer).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Set before any TrackerDB is built, and inherited by every subprocess a test starts.
os.environ["CONSENTSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="consentscope-test-data-")


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    """Tests that patch detectors' internals run on the interpreted sources only: compiled
    code calls its module's functions directly, so the patch would change nothing and the
    test would pass without testing. ``tests/detectors/test_compiled.py`` runs them."""
    import pytest

    from consentscope.detectors import COMPILED

    if not COMPILED:
        return
    skip = pytest.mark.skip(reason="patches detectors' internals: run interpreted by test_compiled.py")
    for item in items:
        if item.get_closest_marker("interpreted"):
            item.add_marker(skip)
