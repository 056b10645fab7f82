"""Percent-encoded text (``%7B%22imei%22…``), decoded once more: the decoded text holds
everything the encoded one did, so it replaces it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._sniff import B_PCT, PCT_RE, unquote

if TYPE_CHECKING:
    from ._decode import _Walker


class UrlEncode:
    name = "urlencode"
    binary = False
    declared = False
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return B_PCT in data and PCT_RE.search(data) is not None

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        w.content(unquote(data), loc, (*chain, self.name), depth + 1)
        return True


DECODER: UrlEncode = UrlEncode()
