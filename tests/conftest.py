"""Test-wide setup: tests never see the user's own data (imported tracker lists)."""

from __future__ import annotations

import os
import tempfile

# Set before any TrackerDB is built, and inherited by every subprocess a test starts.
os.environ["CONSENTSCOPE_DATA_DIR"] = tempfile.mkdtemp(prefix="consentscope-test-data-")
