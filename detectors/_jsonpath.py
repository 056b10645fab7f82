"""Where in a JSON document a byte offset lies, as a JSONPath — computed only on a hit.

Most JSON bodies carry no escapes; the decoder then hands the document to the matcher as
one view instead of one view per value, and asks for the path of the few places where
something was found. The answer is the same path a full walk would give.
"""

from __future__ import annotations

import re
from bisect import bisect_right

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


class JsonLocator:
    """Resolves an offset in ``data`` to a location string below ``base`` ("body.json:").

    The token table is built on the first call and kept: a document with a hundred hits
    costs one pass, not a hundred. (A plain class: one is made per JSON view, and a
    dataclass's ``__init__`` cost more than the rest of emitting it.)"""

    __slots__ = ("_cache", "base", "data")

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self._cache: list[tuple[list[int], list[tuple[int, int, str]]]] = []  # the table, once built

    def __eq__(self, other: object) -> bool:  # two decodings of one request compare equal
        if not isinstance(other, JsonLocator):
            return NotImplemented
        return self.data == other.data and self.base == other.base

    def __hash__(self) -> int:
        return hash((self.data, self.base))

    def __call__(self, offset: int) -> str:
        if not self._cache:
            table = token_paths(self.data)
            self._cache.append(([t[0] for t in table], table))
        starts, table = self._cache[0]
        i = bisect_right(starts, offset) - 1
        inside = i >= 0 and table[i][0] <= offset < table[i][1]
        return self.base + (table[i][2] if inside else "$")
