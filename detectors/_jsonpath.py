"""Where in a JSON document a byte offset lies, as a JSONPath — computed only on a hit.

Most JSON bodies carry no escapes; the decoder then hands the document to the matcher as
one view instead of one view per value, and asks for the path of the few places where
something was found. The answer is the same path a full walk would give.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate, repeat
from typing import Final

from ._sniff import B_BSLASH

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_RE = re.compile(
    rb'\s*(?:("(?:[^"\\]|\\.)*")|(-?[0-9][0-9.eE+-]*)|(true|false|null|NaN|-?Infinity)|([{}\[\],:]))'
)


def json_key(path: str, key: str) -> str:
    """``path`` extended by an object key: ``$.a`` or ``$['odd key']``."""
    if _IDENT_RE.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def _path(frames: list[list]) -> str:
    path = "$"
    for kind, key, _ in frames:
        path = f"{path}[{key}]" if kind == "arr" else json_key(path, key)
    return path


def jsonpath_at(data: bytes, offset: int) -> str | None:
    """JSONPath of the value (or, for an object key, of the object) at ``offset``."""
    table = token_paths(data)
    i = bisect_right([t[0] for t in table], offset) - 1
    return table[i][2] if i >= 0 and table[i][0] <= offset < table[i][1] else None


def token_paths(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, path) of every scalar and key token, in document order: one pass,
    built once per document when its first hit needs a path."""
    frames: list[list] = []
    out: list[tuple[int, int, str]] = []
    for m in _TOKEN_RE.finditer(data):
        g = m.lastindex or 0
        start, end = m.span(g)
        tok = m.group(g)
        if g == 4:
            if tok in (b"}", b"]"):
                if frames:
                    frames.pop()
            elif tok == b",":
                if frames and frames[-1][0] == "arr":
                    frames[-1][1] += 1
                elif frames:
                    frames[-1][2] = True
            elif tok == b":" and frames:
                frames[-1][2] = False
            elif tok in (b"{", b"["):
                out.append((start, end, _path(frames)))
                frames.append(["obj", None, True] if tok == b"{" else ["arr", 0, False])
            continue
        if frames and frames[-1][0] == "obj" and frames[-1][2]:
            frames[-1][1] = tok[1:-1].decode("utf-8", "replace")
            out.append((start, end, _path(frames[:-1])))
            continue
        out.append((start, end, _path(frames)))
    return out


_BRACKET_SPLIT: Final = re.compile(rb"([{}\[\]])").split
_COLON_NEXT: Final = re.compile(rb"[ \t\r\n]*:")
#: bytes that end a number or a literal (or stand between tokens): outside strings, any
#: other byte is part of one
_BETWEEN: Final = frozenset(b" \t\r\n,:}]")
_ARRAY: Final = 91  # [
#: every byte but the ones the mask must blank inside strings (brackets, ',' and ':')
_NOT_STRUCTURAL: Final = bytes(c for c in range(256) if c not in b"{}[],:")
#: Bytes of C-level counting (``count``/``rfind`` from a hit back to its containers) one
#: document may cost before the token table takes over: a 2 KB SDK upload with a hundred
#: hits spends about 200 KB; a megabyte of hits would spend hits x size without a cap.
DIRECT_BYTES: Final = 1 << 22


class _OverBudget(Exception):
    """``DIRECT_BYTES`` spent: the token table answers from here on."""


class JsonLocator:
    """Resolves an offset in ``data`` to a location string below ``base`` ("body.json:").

    The same answer as a lookup in ``token_paths(data)`` (the path of the scalar, key or
    opening bracket holding the offset, else "$"), without walking the tokens: the decoder
    gives this view escape-free JSON, where every '"' opens or closes a string, so one
    C-level pass blanks the strings' insides (``_mask``), the brackets are paired once, and
    a hit's path is read from the brackets around it, ``rfind``/``count`` of the commas at
    their level and the key after the last one. On real SDK uploads the token table was
    half of the scan's time; this is a few µs per hit. Text with a backslash, or whose
    quotes or brackets do not pair, gets the token table. Each hit's C-level counting may
    span the document, so a hostile one (a megabyte of hits) could cost hits x size: past
    ``DIRECT_BYTES`` of it per document, the token table (one pass, then a lookup per
    hit) answers instead. (A plain class: one is made per JSON view, and a dataclass's
    ``__init__`` cost more than the rest of emitting it.)"""

    __slots__ = ("_children", "_close", "_commas", "_mask", "_opens", "_parent", "_spent", "_table", "base", "data")

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self._mask: bytes | None = None  # built on the first call
        self._table: tuple[list[int], list[tuple[int, int, str]]] | None = None  # the fallback

    def __eq__(self, other: object) -> bool:  # two decodings of one request compare equal
        if not isinstance(other, JsonLocator):
            return NotImplemented
        return self.data == other.data and self.base == other.base

    def __hash__(self) -> int:
        return hash((self.data, self.base))

    def _prepare(self) -> None:
        data = self.data
        parts = data.split(b'"')
        if B_BSLASH not in data and len(parts) & 1:
            strings = parts[1::2]
            if b"".join(strings).translate(None, _NOT_STRUCTURAL):  # a string holds one of {}[],:
                parts[1::2] = map(b" ".__mul__, map(len, strings))  # C-level: no frame per string
                mask = b'"'.join(parts)
            else:  # the usual case: the text is its own mask (no copy of each string)
                mask = data
            opens: list[int] = []
            close: dict[int, int] = {}
            parent: dict[int, int] = {}
            children: dict[int, list[int]] = {}
            stack: list[int] = []
            # the brackets and their offsets from one C-level split (no match object each)
            pieces = _BRACKET_SPLIT(mask)
            offsets = list(accumulate(map(len, pieces)))[0:-1:2]
            for at, c in zip(offsets, b"".join(pieces[1::2]), strict=True):
                if c == 123 or c == 91:  # "{" or "["
                    parent[at] = stack[-1] if stack else -1
                    children[at] = []
                    if stack:
                        children[stack[-1]].append(at)
                    stack.append(at)
                    opens.append(at)
                elif stack and mask[stack[-1]] + 2 == c:  # "{" + 2 == "}", "[" + 2 == "]"
                    close[stack.pop()] = at
                else:
                    break
            else:
                if not stack:
                    self._mask, self._opens, self._close, self._parent = mask, opens, close, parent
                    self._children = children
                    self._commas: dict[int, list[int]] = {}  # an array's members' inner commas, running sums
                    return
        self._use_table()

    def _use_table(self) -> None:
        table = token_paths(self.data)
        self._table = ([t[0] for t in table], table)
        self._mask = b""

    def _spend(self, n: int) -> None:
        """Charge ``n`` bytes of C-level counting to the document (``DIRECT_BYTES``)."""
        self._spent += n
        if self._spent > DIRECT_BYTES:
            raise _OverBudget

    def __call__(self, offset: int) -> str:
        if self._mask is None:
            self._spent = 0
            self._prepare()
        if self._table is None:
            try:
                return self.base + self._direct(offset)
            except _OverBudget:
                self._use_table()
        assert self._table is not None
        starts, table = self._table
        i = bisect_right(starts, offset) - 1
        inside = i >= 0 and table[i][0] <= offset < table[i][1]
        return self.base + (table[i][2] if inside else "$")

    def _direct(self, offset: int) -> str:
        data = self.data
        if not 0 <= offset < len(data):
            return "$"
        c = data[offset]
        self._spend(offset)
        quotes = data.count(b'"', 0, offset)
        if quotes & 1 or c == 34:  # in a string, its quotes included
            start = data.rfind(b'"', 0, offset) if quotes & 1 else offset
            end = data.find(b'"', start + 1) + 1
            self._spend(end - start)
            steps = self._steps(start)
            if _COLON_NEXT.match(self._mask or b"", end):  # an object key: the object's path
                steps.pop()
            return _steps_path(data, steps)
        if c in _BETWEEN:
            return "$"
        return _steps_path(data, self._steps(offset))  # a number, literal or "{" / "["

    def _steps(self, at: int) -> list[tuple[bool, int, int]]:
        """(is array, index or key's opening quote, key's closing quote) of each container
        around ``at``, outermost first."""
        mask, close, parent = self._mask, self._close, self._parent
        assert mask is not None
        i = bisect_right(self._opens, at - 1) - 1  # the last container opened before ``at``
        o = self._opens[i] if i >= 0 else -1
        while o != -1 and close[o] < at:
            o = parent[o]
        steps: list[tuple[bool, int, int]] = []
        target = at  # where the member of ``o`` we look for lies
        while o != -1:
            kids = self._children[o]
            if mask[o] == _ARRAY:
                inner = self._commas.get(o)
                if inner is None:  # commas inside each member container, summed: once per array
                    self._spend(close[o] - o)
                    counts = map(mask.count, repeat(b","), kids, map(close.get, kids))
                    inner = self._commas[o] = [0, *accumulate(counts)]
                self._spend(target - o)
                index = mask.count(b",", o + 1, target) - inner[bisect_left(kids, target)]
                steps.append((True, index, 0))
            else:
                self._spend(target - o)
                comma = mask.rfind(b",", o + 1, target)
                while comma != -1:  # the last comma at this level: skip those inside members
                    j = bisect_right(kids, comma) - 1
                    if j < 0 or close[kids[j]] < comma:
                        break
                    comma = mask.rfind(b",", o + 1, kids[j])
                key = mask.find(b'"', (o if comma == -1 else comma) + 1)
                key_end = mask.find(b'"', key + 1)
                self._spend(key_end - key)
                steps.append((False, key, key_end))
            target = o
            o = parent[o]
        steps.reverse()
        return steps


def _steps_path(data: bytes, steps: list[tuple[bool, int, int]]) -> str:
    path = "$"
    for is_array, at, end in steps:
        if is_array:
            path = f"{path}[{at}]"
        else:
            path = json_key(path, data[at + 1 : end].decode("utf-8", "replace"))
    return path
