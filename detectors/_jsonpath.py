"""Where in a JSON document a byte offset lies, as a JSONPath — computed only on a hit.

Most JSON bodies carry no escapes; the decoder then hands the document to the matcher as
one view instead of one view per value, and asks for the path of the few places where
something was found. The answer is the same path a full walk would give.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Final

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_key(path: str, key: str) -> str:
    """``path`` extended by an object key: ``$.a`` or ``$['odd key']``."""
    if _IDENT_RE.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def jsonpath_at(data: bytes, offset: int) -> str | None:
    """JSONPath of the value (or, for an object key, of the object) at ``offset``."""
    tokens = _Tokens(data)
    i = tokens.index_at(offset)
    return None if i < 0 else tokens.path(i)


def token_paths(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, path) of every scalar and key token and every opening bracket, in
    document order (a scalar's path; a key's is its object's, an opening bracket's the
    container's own)."""
    tokens = _Tokens(data)
    return [(tokens.starts[i], tokens.end(i), tokens.path(i)) for i in range(len(tokens.starts))]


#: the bytes the tokenizer tells apart
_LITERALS: Final = (b"true", b"false", b"null", b"NaN", b"Infinity", b"-Infinity")
_LITERAL_FIRSTS: Final = frozenset(b"tfnNI-")
_QUOTE: Final = 34
_BACKSLASH: Final = 92
_NEWLINE: Final = 10
_COLON: Final = 58
_COMMA: Final = 44
_OPEN_OBJECT: Final = 123
_OPEN_ARRAY: Final = 91
_CLOSE_OBJECT: Final = 125
_CLOSE_ARRAY: Final = 93


class _Tokens:
    """The tokens of a JSON text, read in one pass: where each starts, and in one int the
    container it is in (the token of its opening bracket) and its step below it (an array
    index or its key's token). A token's end is read again when asked (``end``), its path
    built only when asked (``path``): a document yields hundreds of tokens and a hit asks
    for one or two. (Each int kept is an object to make and free: two per token, not four.)

    Tokens are read as this pattern finds them (``re.finditer``)::

        \\s*("(?:[^"\\\\]|\\\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null|NaN|-?Infinity|[{}\\[\\],:])

    a byte that starts none is passed over, and so is a quote whose string
    does not close (then the text after it is read as tokens). Brackets need not pair: a
    closing one leaves the innermost container, whatever its kind. Any text is read; valid
    JSON (all the decoder hands over) the way a parser would. One pass over the bytes,
    compiled: about 20 µs for a 1.4 KB SDK upload, then a bisection per hit (searching the
    text from each hit instead cost 10 µs a hit)."""

    __slots__ = ("_frame_paths", "data", "infos", "starts", "stride")

    def __init__(self, data: bytes) -> None:
        self.data = data
        n = len(data)
        #: a token's owner and step in one int: ``(owner + 1) * stride + step code``, where the
        #: step code is 0 for none, 2k + 1 for array index k, 2t + 2 for key token t
        stride = 2 * n + 3
        starts: list[int] = []
        infos: list[int] = []
        # the open containers but the innermost: (owner code, is array, current, want key)
        saved: list[tuple[int, bool, int, bool]] = []
        # the innermost container: its token's (owner + 1) * stride (0: none open)
        base = 0
        is_array = False
        cur = 0  # next array index, or 2t + 2 of the current key token (0: none)
        want = False
        depth = 0
        i = 0
        while i < n:
            c = data[i]
            if c == 32:
                i += 1
                continue
            if c == _QUOTE:
                j = i + 1
                closed = False
                while j < n:
                    d = data[j]
                    if d == _QUOTE:
                        closed = True
                        break
                    if d == _BACKSLASH:
                        if j + 1 >= n or data[j + 1] == _NEWLINE:
                            break
                        j += 2
                    else:
                        j += 1
                if not closed:
                    i += 1
                    continue
                end = j + 1
            elif c in (_OPEN_OBJECT, _OPEN_ARRAY):
                t = len(starts)
                starts.append(i)
                infos.append(base + (2 * cur + 1 if is_array else cur) if depth else 0)
                saved.append((base, is_array, cur, want))
                depth += 1
                base = (t + 1) * stride
                is_array = c == _OPEN_ARRAY
                cur = 0
                want = not is_array
                i += 1
                continue
            elif c in (_CLOSE_OBJECT, _CLOSE_ARRAY):
                if depth:
                    depth -= 1
                    base, is_array, cur, want = saved.pop()
                i += 1
                continue
            elif c == _COMMA:
                if depth:
                    if is_array:
                        cur += 1
                    else:
                        want = True
                i += 1
                continue
            elif c == _COLON:
                if depth:
                    want = False
                i += 1
                continue
            elif c == 10 or c == 13 or c == 9 or c == 11 or c == 12:
                i += 1
                continue
            else:
                end = _scalar_end(data, i, c, n)
                if end < 0:
                    i += 1
                    continue
            t = len(starts)
            starts.append(i)
            if not depth:
                infos.append(0)
            elif is_array:
                infos.append(base + 2 * cur + 1)
            elif want:
                cur = 2 * t + 2
                infos.append(base)
            else:
                infos.append(base + cur)
            i = end
        self.starts, self.infos, self.stride = starts, infos, stride
        self._frame_paths: dict[int, str] = {}

    def end(self, i: int) -> int:
        """Where token ``i`` ends (a string read again: it closes, the pass saw it)."""
        data = self.data
        s = self.starts[i]
        c = data[s]
        if c == _QUOTE:
            j = s + 1
            while True:
                d = data[j]
                if d == _QUOTE:
                    return j + 1
                j += 2 if d == _BACKSLASH else 1
        if c in (_OPEN_OBJECT, _OPEN_ARRAY):
            return s + 1
        return _scalar_end(data, s, c, len(data))

    def index_at(self, offset: int) -> int:
        """The token holding ``offset``, or -1."""
        i = bisect_right(self.starts, offset) - 1
        return i if i >= 0 and offset < self.end(i) else -1

    def path(self, i: int) -> str:
        """The path of token ``i``: its container's path and its step."""
        info = self.infos[i]
        owner = info // self.stride - 1
        return self._step(self._frame_path(owner) if owner >= 0 else "$", info % self.stride)

    def _step(self, base: str, code: int) -> str:
        if code == 0:
            return base
        if code & 1:
            return f"{base}[{code >> 1}]"
        k = (code - 2) >> 1
        lo, hi = self.starts[k] + 1, self.end(k) - 1
        return json_key(base, self.data[lo:hi].decode("utf-8", "replace") if lo < hi else "")

    def _frame_path(self, frame: int) -> str:
        """The path of the container opened by token ``frame`` (kept: hits share containers),
        built down from the nearest known one (no recursion: nesting is the text's)."""
        known = self._frame_paths
        got = known.get(frame)
        if got is not None:
            return got
        chain: list[int] = []
        f = frame
        base = "$"
        while f >= 0:
            got = known.get(f)
            if got is not None:
                base = got
                break
            chain.append(f)
            f = self.infos[f] // self.stride - 1
        for f in reversed(chain):
            base = known[f] = self._step(base, self.infos[f] % self.stride)
        return base


def _scalar_end(data: bytes, i: int, c: int, n: int) -> int:
    """Where the number or literal starting at ``i`` ends, or -1."""
    if c == 45 or 48 <= c <= 57:  # "-" or a digit
        j = i + 1 if c == 45 else i
        if j < n and 48 <= data[j] <= 57:
            j += 1
            while j < n:
                d = data[j]
                if not (48 <= d <= 57 or d == 46 or d == 101 or d == 69 or d == 43 or d == 45):  # [0-9.eE+-]
                    break
                j += 1
            return j
    if c in _LITERAL_FIRSTS:
        for literal in _LITERALS:
            if data.startswith(literal, i):
                return i + len(literal)
    return -1


class JsonLocator:
    """Resolves an offset in ``data`` to a location string below ``base`` ("body.json:"):
    the path of the scalar, key or opening bracket holding the offset, else "$". The text
    is read into tokens on the first call (``_Tokens``, one pass); each call then costs a
    bisection and, for the first hit in a container, its path. (A plain class: one is made
    per JSON view, and a dataclass's ``__init__`` cost more than the rest of emitting it.)"""

    __slots__ = ("_tokens", "base", "data")

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self._tokens: _Tokens | None = None  # read on the first call

    def __eq__(self, other: object) -> bool:  # two decodings of one request compare equal
        if not isinstance(other, JsonLocator):
            return NotImplemented
        return self.data == other.data and self.base == other.base

    def __hash__(self) -> int:
        return hash((self.data, self.base))

    def __call__(self, offset: int) -> str:
        tokens = self._tokens
        if tokens is None:
            tokens = self._tokens = _Tokens(self.data)
        i = tokens.index_at(offset)
        return self.base + (tokens.path(i) if i >= 0 else "$")
