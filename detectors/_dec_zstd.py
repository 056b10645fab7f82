"""zstd found by its 4-byte magic number, read up to the walker's cap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _compress as _z

if TYPE_CHECKING:
    from ._decode import _Walker


class Zstd:
    name = "zstd"
    binary = True
    declared = False
    blob = False
    firsts = _z.ZSTD_MAGIC[:1]

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return data[:4] == _z.ZSTD_MAGIC

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        out, status = _z.unzstd(data, w.cap(len(data)))
        return w.inflated(self.name, out, status, loc, chain, depth)


DECODER: Zstd = Zstd()
