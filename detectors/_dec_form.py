"""A form body (``application/x-www-form-urlencoded``, or sniffed: two or more ``k=v``
pairs with name-like keys and no spaces), its values at ``body.form:<name>``. A
Content-Type can claim a form for any body: only name-like keys count. The pairs go
through the one query/form path, ``_pairs.pairs``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from ._pairs import pairs
from ._sniff import B_AMP, B_EQ, FORM_KEY, FORM_RE

if TYPE_CHECKING:
    from ._decode import _Walker

#: every non-empty pair opens with a name-like key, then "=" or its end (or a last "\n").
#: Possessive: a key ends at a byte outside its alphabet or at 64, a value at "&", so no
#: shorter take of any part lets the rest match (the same answers; 1.35x faster)
FORM_PAIRS_RE: Final = re.compile(rb"&*+(?:" + FORM_KEY + rb"(?:=[^&]*+|\n?)(?:&++|\Z))*+")
#: Bytes at the start of a body where a sniffed form must show its first "=".
SNIFF_HEAD: Final = 256


class Form:
    name = "form"
    binary = False
    declared = False
    blob = False
    firsts = None  # a declared form may open with anything

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        if ctype and "x-www-form-urlencoded" in ctype.lower():
            return True
        return B_EQ in data[:SNIFF_HEAD] and B_AMP in data and FORM_RE.fullmatch(data) is not None

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        if not data.strip(b"&") or not FORM_PAIRS_RE.fullmatch(data):
            return False
        pairs(w, data, w.join(loc, self.name, ""), chain, depth + 1)
        return True


DECODER: Form = Form()
