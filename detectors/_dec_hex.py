"""Hex text: a token of an even number of hex digits, decoded when its bytes are text or
start a compressed stream. Most hex tokens are digests and ids (md5, UUIDs without
dashes), values in their own right: they are scanned as they are and yield no child."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from ._sniff import BLOB_FIRSTS, HEX_CLASS, ByteClass, all_in, is_hex

if TYPE_CHECKING:
    from ._decode import _Walker

#: first hex digits of byte pairs that can be UTF-8 text (0 too: tab, newline, CR)
_HEX_TEXT_HIGH: Final = ByteClass(b"023456789abcdefABCDEF")
_HEX_MAGIC_STARTS: Final = frozenset((b"1f", b"1F", b"28", *(b"%d8" % i for i in range(8))))


def _hex_magic(blob: bytes) -> bool:
    """Hex text starting with a gzip, zstd or zlib header."""
    head = blob[:8].lower()
    return (head[1:2] == b"8" and head[0] in b"01234567") or head[:4] == b"1f8b" or head == b"28b52ffd"


class Hex:
    name = "hex"
    binary = False
    declared = False
    blob = True
    firsts = BLOB_FIRSTS

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        blob = w.blob_token(data)
        return blob is not None and is_hex(blob)

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        w.blob(data, loc, chain, depth)
        return True

    def unwrap(self, blob: bytes) -> tuple[bytes, str] | Literal[False] | None:
        if not blob or len(blob) & 1 or not all_in(blob, HEX_CLASS):
            return False  # not hex (``is_hex``): base64's
        if not all_in(blob[::2], _HEX_TEXT_HIGH) and (blob[:2] not in _HEX_MAGIC_STARTS or not _hex_magic(blob)):
            return None  # a byte below 0x20 that is no tab or newline: not text (md5s end here)
        return bytes.fromhex(blob.decode("ascii")), self.name


DECODER: Hex = Hex()
