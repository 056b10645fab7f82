"""Open a capture whatever its compression, and tell its format by content, not name."""

from __future__ import annotations

import gzip
import io
import lzma
import zlib
from typing import Any, BinaryIO

from . import _magic
from ._base import CaptureError


def _decompress_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


_PIECE = 64 * 1024


class _Checked(io.RawIOBase):
    """A decompressing stream whose every failure is a ``CaptureError`` naming the file and
    the decompressed offset reached: gzip raises ``zlib.error``, xz ``LZMAError`` and zstd
    ``ZstdError`` on corrupt data, none of them an ``OSError``, and each used to escape the
    readers when damage lay past the first read."""

    def __init__(self, path: str, inner: BinaryIO, kind: str) -> None:
        self._path, self._inner, self._kind = path, inner, kind
        self._pos = 0
        self._errors = _decompress_errors()
        self._error: CaptureError | None = None

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes, decompressed 64 KiB at a time: when damage stops the
        decompressor, what came before it is returned first and the error raised on the
        next read, so a reader reading ahead in large chunks loses no complete record."""
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        got = 0
        while n < 0 or got < n:
            try:
                data = self._inner.read(_PIECE if n < 0 else min(_PIECE, n - got))
            except self._errors as e:
                self._error = CaptureError(self._path, f"cannot decompress: {e}", self._pos + got)
                if not parts:
                    raise self._error from None
                break
            if not data:
                break
            parts.append(data)
            got += len(data)
        self._pos += got
        return b"".join(parts)

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def open_maybe_compressed(path: str) -> BinaryIO:
    """A binary stream of the capture, decompressing gzip, xz or zstd transparently; a
    corrupt compressed stream raises ``CaptureError`` from ``read``."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as e:
        raise CaptureError(path, f"cannot open: {e.strerror or e}") from None
    head = raw.read(6)
    raw.seek(0)
    kind = _magic.compression_of(head)
    if kind == "gzip":
        return _Checked(path, gzip.GzipFile(fileobj=raw), kind)  # type: ignore[return-value, arg-type]
    if kind == "xz":
        return _Checked(path, lzma.LZMAFile(raw), kind)  # type: ignore[return-value, arg-type]
    if kind == "zstd":
        import zstandard

        stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
        return _Checked(path, stream, kind)  # type: ignore[return-value]
    return raw


def detect_format(path: str) -> str:
    """"mitm", "har", "pcap", "pcapng", or "unknown"."""
    with open_maybe_compressed(path) as fh:
        head = fh.read(4096)
    kind = _magic.packet_format_of(head)
    if kind is not None:
        return kind
    if _magic.is_zlib(head):  # mitmproxy's .zhar
        try:
            head = zlib.decompressobj().decompress(head, 64)
        except zlib.error:
            return "unknown"
    text = head.lstrip(_magic.UTF8_BOM + b" \t\r\n")
    if text[:1] == b"{":
        return "har"
    if text[:1].isdigit() and b":" in text[:12]:
        return "mitm"
    if not head:
        return "empty"
    return "unknown"
