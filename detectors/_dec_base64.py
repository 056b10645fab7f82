"""Base64 in the standard or the URL-safe alphabet (the step says which), padded or not,
and wrapped in lines as MIME and Android's ``Base64.DEFAULT`` send it. Tokens made of
hex digits and '-' only (md5s, UUIDs, numbers) are never taken for base64."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Literal

from ._sniff import B_NL, BLOB_FIRSTS, HEXISH_CLASS, all_in, b64_alphabet

if TYPE_CHECKING:
    from ._decode import _Walker


class Base64:
    name = "base64"
    binary = False
    declared = False
    blob = True
    firsts = BLOB_FIRSTS

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return w.blob_token(data) is not None

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        w.blob(data, loc, chain, depth)
        return True

    def unwrap(self, blob: bytes) -> tuple[bytes, str] | Literal[False] | None:
        """The last blob decoder: whatever hex left is base64's or nothing (never False)."""
        if B_NL in blob:  # MIME / Android Base64.DEFAULT wraps lines at 76 characters
            blob = blob.translate(None, b"\r\n")
        alphabet = b64_alphabet(blob)
        if not alphabet or all_in(blob.rstrip(b"="), HEXISH_CLASS):
            return None
        padded = blob + b"=" * (-len(blob) % 4)
        try:
            out = base64.urlsafe_b64decode(padded) if alphabet == 2 else base64.b64decode(padded)
        except (binascii.Error, ValueError):
            return None
        return out, ("base64url" if alphabet == 2 else "base64")


DECODER: Base64 = Base64()
