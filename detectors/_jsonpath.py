"""Where in a JSON document a byte offset lies, as a JSONPath — computed only on a hit.

Most JSON bodies carry no escapes; the decoder then hands the document to the matcher as
one view instead of one view per value, and asks for the path of the few places where
something was found. The answer is the same path a full walk would give.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_key(path: str, key: str) -> str:
    """``path`` extended by an object key: ``$.a`` or ``$['odd key']``."""
    if _IDENT_RE.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def jsonpath_at(data: bytes, offset: int) -> str | None:
    """JSONPath of the value (or, for an object key, of the object) at ``offset``."""
    return _Tokens(data).path_at(offset)


def token_paths(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, path) of every scalar and key token and every opening bracket, in
    document order (a scalar's path; a key's is its object's, an opening bracket's the
    container's own)."""
    tokens = _Tokens(data)
    found: list[tuple[int, int, _Frame | None, int]] = []
    tokens.walk(0, None, False, 0, False, 0, -1, found)
    return [(s, e, tokens.frame_path(f, step)) for s, e, f, step in found]


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
#: tokens between two saved states of the tokenizer (``_Tokens``): what a hit before the
#: furthest one asked costs to read again, at most
BLOCK_TOKENS: Final = 64


class _Frame:
    """An open container: the one around it, its step below that one (a step code:
    ``_Tokens``), where it opens, and the state of the container around it when it
    opened (restored when it closes). Never changed once made: a saved state of the
    tokenizer holds the innermost frame, and through it all the open ones."""

    __slots__ = ("open", "outer_array", "outer_cur", "outer_want", "parent", "step")

    def __init__(self, parent: _Frame | None, step: int, open_at: int, outer_array: bool, outer_cur: int,
                 outer_want: bool) -> None:
        self.parent = parent
        self.step = step
        self.open = open_at
        self.outer_array = outer_array
        self.outer_cur = outer_cur
        self.outer_want = outer_want


class _Tokens:
    """Reads a JSON text token by token, as far as the offsets asked need, and keeps
    only the tokenizer's state every ``BLOCK_TOKENS`` tokens: the memory of a document is
    a few bytes per token (a 16 MB text of numbers would have needed 600 MB as a token
    table), and a hit behind the furthest one read costs at most a block read again.

    The state is the innermost open container (a ``_Frame``, persistent: saving it is
    keeping a reference) and, for it, whether it is an array, its current step and
    whether an object expects a key. A token's step below its container is a code: 0
    none (a key, whose path is its object's, or a value of an object before any key),
    2k + 1 array index k, 2s + 2 the key whose string opens at byte s.

    Tokens are read as this pattern finds them (``re.finditer``)::

        \\s*("(?:[^"\\\\]|\\\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null|NaN|-?Infinity|[{}\\[\\],:])

    a byte that starts none is passed over, and so is a quote whose string does not
    close (then the text after it is read as tokens). Brackets need not pair: a closing
    one leaves the innermost container, whatever its kind. Any text is read; valid JSON
    (all the decoder hands over) the way a parser would. Compiled, the reading costs
    about 10-15 ns a byte (searching the text from each hit, before, cost 10 µs a hit)."""

    __slots__ = ("_block_at", "_block_state", "_frame_paths", "_front", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        #: where each saved state stands (a token's start) and the state there
        self._block_at: list[int] = []
        self._block_state: list[tuple[_Frame | None, bool, int, bool]] = []  # block b: token b * BLOCK_TOKENS
        #: how far the text has been read, and the state there
        self._front: tuple[int, _Frame | None, bool, int, bool, int] = (0, None, False, 0, False, 0)
        self._frame_paths: dict[int, str] = {}

    def path_at(self, offset: int) -> str | None:
        """The path of the token holding ``offset``, None when none does."""
        if offset < 0 or offset >= len(self.data):
            return None
        i, frame, is_array, cur, want, count = self._front
        if offset >= i:
            return self.walk(i, frame, is_array, cur, want, count, offset, None)
        b = bisect_right(self._block_at, offset) - 1
        if b < 0:
            return None  # before the first token
        frame, is_array, cur, want = self._block_state[b]
        return self.walk(self._block_at[b], frame, is_array, cur, want, b * BLOCK_TOKENS, offset, None, False)

    def walk(self, i: i64, frame: _Frame | None, is_array: bool, cur: i64, want: bool, count: i64, offset: i64,
             found: list[tuple[int, int, _Frame | None, int]] | None, front: bool = True) -> str | None:
        """Read from byte ``i`` in the given state until the token holding ``offset``
        (its path), or one past it (None). ``front``: the reading goes on from how far
        the text was read, saving states and the new front. ``found``: read to the end,
        every token appended (start, end, container, step code)."""
        data = self.data
        n: i64 = len(data)
        answer: str | None = None
        end: i64 = 0
        step: i64 = 0
        while i < n:
            c: i64 = data[i]
            if c == 32:
                i += 1
                continue
            if c == _QUOTE:
                end = _string_end(data, i, n)
                if end < 0:
                    i += 1  # an unclosed string: its quote starts no token
                    continue
            elif c in (_OPEN_OBJECT, _OPEN_ARRAY):
                end = i + 1
            elif c in (_CLOSE_OBJECT, _CLOSE_ARRAY):
                if frame is not None:
                    is_array, cur, want = frame.outer_array, frame.outer_cur, frame.outer_want
                    frame = frame.parent
                i += 1
                continue
            elif c == _COMMA:
                if frame is not None:
                    if is_array:
                        cur += 1
                    else:
                        want = True
                i += 1
                continue
            elif c == _COLON:
                if frame is not None:
                    want = False
                i += 1
                continue
            elif c == 10 or c == 13 or c == 9 or c == 11 or c == 12:
                i += 1
                continue
            else:
                end = _scalar_end(data, i, c, n)
                if end < 0:
                    i += 1  # a byte that starts no token
                    continue
            # a token from ``i`` to ``end``
            opens = c in (_OPEN_OBJECT, _OPEN_ARRAY)
            if found is None and i > offset:
                break  # none holds the offset
            if front and count % BLOCK_TOKENS == 0:
                self._block_at.append(i)
                self._block_state.append((frame, is_array, cur, want))
            count += 1
            if frame is None:
                step = 0
            elif is_array:
                step = 2 * cur + 1
            elif want and not opens:
                step = 0
                cur = 2 * i + 2  # a key: its path is its object's
            else:
                step = cur
            holds = found is None and offset < end
            if found is not None:
                found.append((i, end, frame, step))
            if holds:
                answer = self.frame_path(frame, step)
            if opens:
                frame = _Frame(frame, step, i, is_array, cur, want)
                is_array = c == _OPEN_ARRAY
                cur = 0
                want = not is_array
            i = end
            if holds:
                break
        if front:
            self._front = (i, frame, is_array, cur, want, count)
        return answer

    def frame_path(self, frame: _Frame | None, step: int) -> str:
        """The path of a token with this container and step code."""
        return self._step(self._path_of(frame) if frame is not None else "$", step)

    def _step(self, base: str, code: int) -> str:
        if code == 0:
            return base
        if code & 1:
            return f"{base}[{code >> 1}]"
        s = (code - 2) >> 1
        data = self.data
        end = _string_end(data, s, len(data)) if data[s] == _QUOTE else _scalar_end(data, s, data[s], len(data))
        lo, hi = s + 1, end - 1  # inside the quotes (a one-byte number as key: nothing)
        return json_key(base, self.data[lo:hi].decode("utf-8", "replace") if lo < hi else "")

    def _path_of(self, frame: _Frame) -> str:
        """A container's path, built once from the nearest container whose path is known
        (no recursion: nesting is the text's; only the asked one is kept)."""
        known = self._frame_paths
        got = known.get(frame.open)
        if got is not None:
            return got
        chain: list[_Frame] = []
        f: _Frame | None = frame
        base = "$"
        while f is not None:
            got = known.get(f.open)
            if got is not None:
                base = got
                break
            chain.append(f)
            f = f.parent
        parts = [base]
        for f in reversed(chain):
            parts.append(self._step("", f.step))
        path = known[frame.open] = "".join(parts)
        return path


def _string_end(data: bytes, i: i64, n: i64) -> i64:
    """Where the string whose quote is at ``i`` ends (after its closing quote), or -1
    when it does not close."""
    j = i + 1
    while j < n:
        d: i64 = data[j]
        if d == _QUOTE:
            return j + 1
        if d == _BACKSLASH:
            if j + 1 >= n or data[j + 1] == _NEWLINE:
                return -1
            j += 2
        else:
            j += 1
    return -1


def _scalar_end(data: bytes, i: i64, c: i64, n: i64) -> i64:
    """Where the number or literal starting at ``i`` ends, or -1."""
    if c == 45 or 48 <= c <= 57:  # "-" or a digit
        j = i + 1 if c == 45 else i
        if j < n and 48 <= data[j] <= 57:
            j += 1
            while j < n:
                d: i64 = data[j]
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
    is read as far as the offsets asked need (``_Tokens``); a hit costs a bisection and
    at most a block read again, and, for the first hit in a container, its path. (A plain
    class: one is made per JSON view, and a dataclass's ``__init__`` cost more than the
    rest of emitting it.)"""

    __slots__ = ("_tokens", "base", "data")

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self._tokens: _Tokens | None = None  # made on the first call

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
        return self.base + (tokens.path_at(offset) or "$")
