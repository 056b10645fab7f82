"""Hex text: a token of an even number of hex digits, decoded when its bytes are text or
start a compressed stream. Most hex tokens are digests and ids (md5, UUIDs without
dashes), values in their own right: they are scanned as they are and yield no child."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from ._sniff import BLOB_FIRSTS, HEX_CLASS, ByteClass, is_hex

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

    from ._decode import _Walker

_IS_HEX_DIGIT: Final = HEX_CLASS.marks
#: first hex digits of byte pairs that can be UTF-8 text (0 too: tab, newline, CR)
_TEXT_HIGH: Final = ByteClass(b"023456789abcdefABCDEF").marks
#: what ``_hex_pairs`` tells of a blob
_NOT_HEX: Final = 0
_BINARY: Final = 1  # hex, but a pair is a byte below 0x20 that is no tab or newline
_TEXTLIKE: Final = 2  # hex, and every pair a byte that text may hold


def _hex_pairs(blob: bytes) -> int:
    """``_NOT_HEX`` (empty, odd or not all hex digits), ``_BINARY`` or ``_TEXTLIKE``, in one
    compiled pass over the digits. (Two ``all_in`` tests and the slice of every other digit
    cost 6x this on an md5: an SDK batch sends a hundred new ids, each asked once.)"""
    n: i64 = len(blob)
    if n == 0 or n & 1:
        return _NOT_HEX
    digit = _IS_HEX_DIGIT
    high = _TEXT_HIGH
    textlike = True
    i: i64 = 0
    while i < n:
        c = blob[i]
        if not digit[c] or not digit[blob[i + 1]]:
            return _NOT_HEX
        if not high[c]:
            textlike = False
        i += 2
    return _TEXTLIKE if textlike else _BINARY
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
        kind = _hex_pairs(blob)
        if kind == _NOT_HEX:
            return False  # not hex (``is_hex``): base64's
        if kind == _BINARY and (blob[:2] not in _HEX_MAGIC_STARTS or not _hex_magic(blob)):
            return None  # a byte below 0x20 that is no tab or newline: not text (md5s end here)
        return bytes.fromhex(blob.decode("ascii")), self.name


DECODER: Hex = Hex()
