"""Bounded decompression: gzip, zlib, raw DEFLATE, brotli and zstd, each stopped at a cap.

Captured traffic is hostile (a 1 KB gzip bomb inflates to gigabytes), so no stream is ever
decompressed without an output bound: zlib through ``decompressobj(...).decompress(data,
max_length)``, zstd through a stream reader read up to the cap, brotli with an output limit
where the installed binding has one (brotli >= 1.2) and otherwise in small input steps,
since one input byte can expand to about 1.3 MB (measured: 16-byte steps of a 512 MB bomb
never produced more than 32 MB at once).

A truncated stream yields what it decoded, marked ``INCOMPLETE``: a capture often keeps
only a prefix of a body, and identifiers sit near the start.
"""

from __future__ import annotations

import zlib
from typing import Final

import brotli
import zstandard

from ._limits import BROTLI_STEP

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final[bytes] = b"\x28\xb5\x2f\xfd"

#: Outcome of one decompression, besides the bytes it produced.
OK: Final = "ok"
INCOMPLETE: Final = "incomplete"  # the stream ends early: output is what it held
LIMIT: Final = "limit"  # the output cap was reached: output is cut there
INVALID: Final = "invalid"  # not this format (nothing useful decoded)

_BROTLI_HAS_LIMIT: Final = hasattr(brotli.Decompressor, "can_accept_more_data")


def gzip_header(data: bytes) -> bool:
    """Magic, deflate method and no reserved flag bits: 1 random 10-byte string in 134
    million, where the bare 2-byte magic turns up once in 65,536 (a hex id now and then)."""
    return len(data) >= 10 and data[:3] == b"\x1f\x8b\x08" and not data[3] & 0xE0


def zlib_header(data: bytes) -> bool:
    """A valid 2-byte zlib header (deflate method, check bits): 1 in 496 random pairs pass,
    so callers confirm with a trial decompression."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


def inflate(data: bytes, wbits: int, cap: int) -> tuple[bytes, str]:
    """zlib family: ``wbits`` 31 gzip (all members), 15 zlib, -15 raw DEFLATE."""
    if cap <= 0:  # max_length=0 would mean "unbounded" to zlib
        return b"", LIMIT
    out = b""
    while True:
        d = zlib.decompressobj(wbits)
        try:
            out += d.decompress(data, cap - len(out))
        except zlib.error:
            return out, (INCOMPLETE if out else INVALID)
        if d.unconsumed_tail or (len(out) >= cap and not d.eof):
            return out, LIMIT
        if not d.eof:
            return out, INCOMPLETE
        data = d.unused_data
        # concatenated gzip members are one body (RFC 1952 §2.2); other trailing bytes are ignored
        if wbits != 31 or data[:2] != GZIP_MAGIC:
            return out, OK
        if len(out) >= cap:
            return out, LIMIT


def unzstd(data: bytes, cap: int) -> tuple[bytes, str]:
    """zstd frames (all of them), read up to the cap."""
    if cap <= 0:
        return b"", LIMIT
    chunks: list[bytes] = []
    got = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
        while got <= cap:
            chunk = reader.read(cap + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except zstandard.ZstdError:
        return b"".join(chunks), (INCOMPLETE if chunks else INVALID)
    out = b"".join(chunks)
    if got > cap:
        return out[:cap], LIMIT
    try:
        size = zstandard.frame_content_size(data)  # -1: not in the header (then a cut is not seen)
    except zstandard.ZstdError:
        return out, (INCOMPLETE if out else INVALID)
    return out, (INCOMPLETE if got < size else OK)


def unbrotli(data: bytes, cap: int, step: int = BROTLI_STEP) -> tuple[bytes, str]:
    """brotli, which has no magic number: an error means "not brotli". ``step``: input
    bytes per call when the binding has no output limit (``Limits.brotli_step``)."""
    if cap <= 0:
        return b"", LIMIT
    d = brotli.Decompressor()
    try:
        if _BROTLI_HAS_LIMIT:
            out = d.process(data, output_buffer_limit=cap + 1)
        else:
            parts: list[bytes] = []
            got = 0
            for i in range(0, len(data), step):
                part = d.process(data[i : i + step])
                if part:
                    parts.append(part[: cap + 1 - got])  # keep no more than the cap
                    got += len(part)
                    del part
                    if got > cap:
                        break
            out = b"".join(parts)
    except brotli.error:
        return b"", INVALID
    if len(out) > cap:
        return out[:cap], LIMIT
    return out, (OK if d.is_finished() else INCOMPLETE)
