"""gRPC framing (``application/grpc*``): 1 flag byte, a 4-byte length, the message; each
message is decoded as protobuf. Framing that does not add up to the body is not gRPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._decode import _Walker


class Grpc:
    name = "grpc"
    binary = False
    declared = True
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return ctype.lower().startswith("application/grpc")

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        messages = []
        i, n = 0, len(data)
        while i + 5 <= n and data[i] in (0, 1):
            end = i + 5 + int.from_bytes(data[i + 1 : i + 5], "big")
            if end > n:
                break
            messages.append(data[i + 5 : end])
            i = end
        if i != n or not messages:
            return False
        for message in messages:
            w.content(message, loc, chain, depth, "application/x-protobuf")
        return True


DECODER: Grpc = Grpc()
