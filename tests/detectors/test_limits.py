"""Every bound in one place (``_limits.py``): each ``Limits`` field defaults to the module
constant that gives its reason, and no other detectors module holds a bound of its own."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import consentscope.detectors as detectors
from consentscope.detectors import DEFAULT_LIMITS, MAX_BODY_SCAN_BYTES, Limits, _limits


def test_each_field_defaults_to_its_documented_constant() -> None:
    source = (Path(detectors.__file__).parent / "_limits.py").read_text(encoding="utf-8")
    for f in dataclasses.fields(Limits):
        constant = f.name.upper()
        assert getattr(_limits, constant) == f.default == getattr(DEFAULT_LIMITS, f.name)
        assert re.search(rf"#: [^\n]+\n(?:#:[^\n]*\n)*{constant} = ", source), f"{constant} has no reason"
    assert MAX_BODY_SCAN_BYTES == DEFAULT_LIMITS.max_body_scan_bytes == 8 * 1024 * 1024


#: the modules that decode and scan a request (``_expand.py`` holds the profile's matching
#: thresholds, which are no bounds on a request's work)
_REQUEST_MODULES = ("_decode.py", "_dec_*.py", "_decoders.py", "_pairs.py", "_sniff.py", "_compress.py", "_scan.py",
                    "_jsonpath.py", "_location.py", "_match.py", "_view.py")


def test_no_bound_outside_limits() -> None:
    """Module-level MAX_/MIN_ names and the old per-module bounds live in ``_limits.py`` only."""
    folder = Path(detectors.__file__).parent
    for path in {p for pattern in _REQUEST_MODULES for p in folder.glob(pattern)}:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^(MAX|MIN)_\w+\s*(?::[^=]+)?=", text, re.M), path.name
        assert not re.search(r"^(BROTLI_STEP|MAX_FIELDS)\b", text, re.M), path.name
