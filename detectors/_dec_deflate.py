"""Headerless (raw) DEFLATE, tried last on binary nothing else claimed and only without a
Content-Type: it has no magic, so it is kept only when it inflates to text and ends
cleanly (or runs long: a capture cut short). Random bytes "inflate" to a few bytes before
failing, and those can look like text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from . import _compress as _z
from ._sniff import is_text

if TYPE_CHECKING:
    from ._decode import _Walker

#: Output a stream that stops early must reach to count: random binary inflates to a few
#: bytes before failing.
TRUSTED_CUT_OUTPUT: Final = 64


class RawDeflate:
    name = "deflate"
    binary = True
    declared = False
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return not ctype and w.binary(data)

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        out, status = _z.inflate(data, -15, w.cap(len(data)))
        if (
            status == _z.INVALID
            or (status == _z.INCOMPLETE and len(out) < TRUSTED_CUT_OUTPUT)
            or not is_text(out)
        ):
            return False
        if status == _z.LIMIT:
            w.anomaly("decompression-limit")
        w.content(out, loc, (*chain, self.name), depth + 1)
        return True


DECODER: RawDeflate = RawDeflate()
