"""The package face (``__init__.py``): public names re-exported, and nothing but pure
Python behind them: no mitmproxy, no database, no sockets."""

from __future__ import annotations

import subprocess
import sys

import consentscope.detectors as detectors


def test_public_names_are_exported() -> None:
    for name in detectors.__all__:
        assert getattr(detectors, name) is not None
    for name in ("Scanner", "RequestRecord", "Finding", "Limits", "DEFAULT_LIMITS", "MAX_BODY_SCAN_BYTES",
                 "decode_request", "DecodedRequest", "View", "GeoPoint", "ScanProfile", "Identifier"):
        assert name in detectors.__all__


def test_import_pulls_in_no_io_library() -> None:
    program = (
        "import consentscope.detectors, sys;"
        "print(sorted(m for m in ('mitmproxy', 'sqlalchemy', 'socket', 'ssl', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, check=True, text=True).stdout
    assert out.strip() == "[]"
