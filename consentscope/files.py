"""The user's files: TOML read with errors that name the file, and files that hold personal
data written owner-only, complete or not at all."""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

#: The database a command uses without ``--db``: a SQLite file in the working directory.
#: Named here, not in ``storage``, so the command line reads it without importing
#: SQLAlchemy (about 40 MB in each of a replay's scan workers, forked before it is needed).
DEFAULT_DB_URL = "sqlite:///consentscope.db"


def read_toml(path: str | Path, error: type[Exception], what: str = "file") -> dict:
    """A TOML file as a dict; ``error`` (the caller's own exception) names the file and, for
    a syntax error, the line, so a typo in a profile or project file is one clear line."""
    p = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise error(f"{p}: cannot read {what}: {e.strerror or e}") from None
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))  # a BOM (Windows editors) is not an error
    except UnicodeDecodeError as e:
        raise error(f"{p}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{p}: not valid TOML: {e}") from None


def write_private(path: str, data: str | bytes | Iterable[str | bytes]) -> None:
    """Write atomically with mode 0600 (reports and exports carry identifiers). ``data`` may
    be pieces, written as they come (a large JSON report is never held whole).

    A path that is not a regular file (``/dev/stdout``, ``/dev/null``, a named pipe) is
    written to as it is: renaming over it would replace the device with a file."""
    import stat

    pieces = (data,) if isinstance(data, str | bytes) else data
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(path, "wb") as fh:
            _write_pieces(fh, pieces)
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".consentscope-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_pieces(fh, pieces)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_pieces(fh: BinaryIO, pieces: Iterable[str | bytes]) -> None:
    for piece in pieces:
        fh.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
