"""gzip found by its header, whatever the headers said (SDKs gzip a batch and send it as
``application/octet-stream``, or inside base64)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _compress as _z

if TYPE_CHECKING:
    from ._decode import _Walker


class Gzip:
    name = "gzip"
    binary = True
    declared = False
    blob = False
    firsts = b"\x1f"

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        # magic, deflate method, no reserved flags: 1 random 10-byte string in 134 million
        return data[0] == 0x1F and _z.gzip_header(data)

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        out, status = _z.inflate(data, 31, w.cap(len(data)))
        return w.inflated(self.name, out, status, loc, chain, depth)


DECODER: Gzip = Gzip()
