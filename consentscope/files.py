"""Writing files that hold personal data: owner-only, complete or not at all."""

from __future__ import annotations

import os
import tempfile


def write_private(path: str, data: str | bytes) -> None:
    """Write atomically with mode 0600 (reports and exports carry identifiers)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".consentscope-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
