"""The incremental JSON walk: values delimited across every read boundary, bounds before
parsing, failures with offsets."""

from __future__ import annotations

import io
import json

import pytest

from consentscope.readers._jsonstream import JsonStream, JsonStreamError


class Trickle(io.RawIOBase):
    """A stream handing out at most ``step`` bytes per read: every chunk boundary falls
    everywhere once (inside escapes, backslash runs, numbers, keys)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        out = self.data[self.pos : self.pos + min(n if n > 0 else self.step, self.step)]
        self.pos += len(out)
        return out


VALUES = [
    {"a": "x\\\\", "b": "\\\"quoted\\\"", "c": [1, -2.5e3, True, None, False], "d": {"e": []}},
    "plain", 12345678901234567890, [[[["deep"]]]], "\\\\\\\\\"", {"k": "caf\u00e9 \u2603 [{"},
]


def _walk(data: bytes, step: int, **bounds: int) -> list:
    js = JsonStream(Trickle(data, step), bounds.get("depth", 64), bounds.get("scalar", 100), bounds.get("value", 1 << 20))
    js.expect(b"[", "'['")
    out = []
    while True:
        offset, text, problem = js.value()
        out.append((offset, json.loads(text) if text is not None else problem))
        if js.expect(b",]", "',' delimiter") == ord("]"):
            assert js.at_end()
            return out


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1 << 20])
def test_values_across_every_read_boundary(step: int) -> None:
    data = json.dumps(VALUES, ensure_ascii=False).encode()
    got = _walk(data, step)
    assert [v for _, v in got] == VALUES
    assert [data[o : o + 1] for o, _ in got] == [b"{", b'"', b"1", b"[", b'"', b"{"]


@pytest.mark.parametrize("step", [1, 5, 1 << 20])
def test_bounds_are_checked_before_parsing_and_the_walk_goes_on(step: int) -> None:
    data = b'[[[[[1]]]], 1234567, "' + b"z" * 50 + b'", 7]'
    got = _walk(data, step, depth=3, scalar=5, value=40)
    assert [v for _, v in got] == ["nested deeper than 3 levels", "a number or literal longer than 5 characters",
                                   "larger than 40 bytes", 7]


@pytest.mark.parametrize(("data", "message", "offset"), [
    (b'[1, "abc', "truncated: unterminated string", 4),
    (b"[1 2]", "Expecting ',' delimiter (line 1, column 4)", 3),
    (b"[1,\n  {", "truncated: unterminated object or array (line 2, column 4)", None),
])
def test_failures_name_offset_and_line(data: bytes, message: str, offset: int | None) -> None:
    with pytest.raises(JsonStreamError) as e:
        _walk(data, 2)
    assert message in e.value.message
    if offset is not None:
        assert e.value.offset == offset
