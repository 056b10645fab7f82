"""zlib found by its 2-byte header. The header is weak evidence (1 random pair in 496
passes), so the sniff wants binary after it and the decode keeps only a stream that
inflates cleanly, or to text when cut short; a miss is no anomaly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from . import _compress as _z
from ._sniff import is_text

if TYPE_CHECKING:
    from ._decode import _Walker

#: Bytes after which a zlib header must not be followed by text: deflated data is binary
#: from its first bytes, and "x^" or "H=" open many words.
HEAD: Final = 64


class Zlib:
    name = "zlib"
    binary = True
    declared = False
    blob = False
    firsts = bytes(b for b in range(0x80) if b & 0x0F == 8)  # deflate method, window <= 32K

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return data[0] & 0x0F == 8 and _z.zlib_header(data) and not is_text(data[:HEAD])

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        out, status = _z.inflate(data, 15, w.cap(len(data)))
        if status == _z.INVALID or (status == _z.INCOMPLETE and not is_text(out)):
            return False
        return w.inflated(self.name, out, status, loc, chain, depth)


DECODER: Zlib = Zlib()
