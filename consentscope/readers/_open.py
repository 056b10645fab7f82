"""Open a capture whatever its compression, and tell its format by content, not name."""

from __future__ import annotations

import gzip
import io
import lzma
import zlib
from typing import BinaryIO

from ._base import CaptureError

_GZIP = b"\x1f\x8b"
_XZ = b"\xfd7zXZ\x00"
_ZSTD = b"\x28\xb5\x2f\xfd"
_PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
_PCAPNG = b"\x0a\x0d\x0d\x0a"


def open_maybe_compressed(path: str) -> BinaryIO:
    """A binary stream of the capture, decompressing gzip, xz or zstd transparently."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as e:
        raise CaptureError(path, f"cannot open: {e.strerror or e}") from None
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if head.startswith(_XZ):
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if head.startswith(_ZSTD):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))  # type: ignore[arg-type]
    return raw


def detect_format(path: str) -> str:
    """"mitm", "har", "pcap", "pcapng", or "unknown"."""
    with open_maybe_compressed(path) as fh:
        try:
            head = fh.read(4096)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise CaptureError(path, f"cannot decompress: {e}", 0) from None
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG:
        return "pcapng"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:  # zlib: mitmproxy's .zhar
        try:
            head = zlib.decompressobj().decompress(head, 64)
        except zlib.error:
            return "unknown"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"{":
        return "har"
    if text[:1].isdigit() and b":" in text[:12]:
        return "mitm"
    if not head:
        return "empty"
    return "unknown"
