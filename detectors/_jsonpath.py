"""Where in a JSON document a byte offset lies, as a JSONPath — computed only on a hit.

Most JSON bodies carry no escapes; the decoder then hands the document to the matcher as
one view instead of one view per value, and asks for the path of the few places where
something was found. The answer is the same path a full walk would give.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import chain

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


#: ``_TOKEN_RE``'s tokens as (whitespace, token, the ',' or ':' after it): ``findall`` lists
#: them without a match object each, each one's offset is the running sum of the lengths
#: before it, and a separator rides with the token before it, which halves the walk.
#: Strings as ``"[^"\\]*(?:\\.[^"\\]*)*"``, the same language as ``_TOKEN_RE``'s, in a
#: third of the time (no alternation per character).
_TOKENS_RE = re.compile(
    rb'(\s*)("[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null|NaN|-?Infinity|[{}\[\]])(\s*[,:]?)'
)


def _lazy_path(frames: list[list]) -> str:
    """``_path`` of frames whose object keys are still their raw token (quotes included)."""
    path = "$"
    for is_arr, key in frames:
        path = f"{path}[{key}]" if is_arr else json_key(path, key[1:-1].decode("utf-8", "replace"))
    return path


class JsonLocator:
    """Resolves an offset in ``data`` to a location string below ``base`` ("body.json:").

    The same answer as a lookup in ``token_paths(data)``, without building the table: the
    tokens are listed once (C-level ``findall``), then walked only as far as the offsets
    asked, and a path string is built only for the token holding an offset. The scanner
    asks in increasing order (hits sorted by offset), so a document with a hundred hits
    costs one partial walk; an earlier offset restarts the walk. On real SDK uploads the
    eager table was half of the scan's time. Valid JSON only (what the decoder parsed);
    text that is not one token stream end to end gets the table. (A plain class: one is
    made per JSON view, and a dataclass's ``__init__`` cost more than the rest of emitting it.)"""

    __slots__ = ("_frames", "_held", "_i", "_pos", "_prev", "_table", "_tokens", "base", "data")

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self._tokens: list[tuple[bytes, bytes, bytes]] | None = None  # listed on the first call
        self._table: tuple[list[int], list[tuple[int, int, str]]] | None = None  # fallback: tokens not contiguous

    def __eq__(self, other: object) -> bool:  # two decodings of one request compare equal
        if not isinstance(other, JsonLocator):
            return NotImplemented
        return self.data == other.data and self.base == other.base

    def __hash__(self) -> int:
        return hash((self.data, self.base))

    def _restart(self) -> None:
        self._i = 0  # next token
        self._pos = 0  # where it starts (its whitespace)
        self._frames: list[list] = []  # [is array, key token or index] of each open container
        self._held = (-1, -1, "$")  # the last token whose path was built: start, end, path
        self._prev = -1  # the last offset asked

    def __call__(self, offset: int) -> str:
        if self._tokens is None:
            tokens = _TOKENS_RE.findall(self.data)
            if sum(map(len, chain.from_iterable(tokens))) != len(self.data):
                table = token_paths(self.data)  # not one token stream end to end: the eager table
                self._table = ([t[0] for t in table], table)
            self._tokens = tokens
            self._restart()
        if self._table is not None:
            starts, table = self._table
            i = bisect_right(starts, offset) - 1
            inside = i >= 0 and table[i][0] <= offset < table[i][1]
            return self.base + (table[i][2] if inside else "$")
        if offset < self._prev:
            self._restart()
        self._prev = offset
        held = self._held
        if held[0] <= offset < held[1]:
            return self.base + held[2]
        tokens, frames, pos, i = self._tokens, self._frames, self._pos, self._i
        top = frames[-1] if frames else None
        n = len(tokens)
        path = None
        while i < n:
            ws, tok, tail = tokens[i]
            start = pos + len(ws) if ws else pos
            if start > offset:
                break
            end = start + len(tok)
            pos = end + len(tail) if tail else end
            i += 1
            c = tok[0]
            if c == 123 or c == 91:  # { [
                if end > offset:
                    path = _lazy_path(frames)
                    held = (start, end, path)
                top = [c == 91, 0]
                frames.append(top)
                continue
            if c == 125 or c == 93:  # } ]
                if frames:
                    frames.pop()
                    top = frames[-1] if frames else None
            elif tail and tail[-1] == 58:  # an object key and its ':'
                if top is not None:
                    top[1] = tok
                if end > offset:
                    path = _lazy_path(frames[:-1])
                    held = (start, end, path)
                continue
            elif end > offset:  # the scalar holding the offset
                path = _lazy_path(frames)
                held = (start, end, path)
            if tail and top is not None and top[0] and tail[-1] == 44:  # ',' in an array
                top[1] += 1
        self._pos, self._i, self._held = pos, i, held
        return self.base + ("$" if path is None else path)
