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
