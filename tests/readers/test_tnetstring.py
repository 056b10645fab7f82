"""consentscope/readers/_tnetstring.py: ``field`` (written out for speed) finds what a walk
by ``span`` finds, and refuses what it refuses, on mitmproxy's own encoding and on damage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from consentscope.readers import _tnetstring as tn


def reference_span(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """``span`` as it was first written: a ``find`` of the colon and ``int`` of the digits."""
    colon = data.find(b":", pos, end)
    if colon <= pos or colon - pos > tn.MAX_PREFIX_DIGITS:
        raise tn.TnetstringError(f"no length prefix at {pos}")
    digits = data[pos:colon]
    if not digits.isdigit():
        raise tn.TnetstringError(f"bad length prefix at {pos}")
    start = colon + 1
    stop = start + int(digits)
    if stop >= end:
        raise tn.TnetstringError(f"value at {pos} runs past its container")
    return start, stop, data[stop]


def reference_fields(data: bytes, start: int, stop: int) -> dict[bytes, tuple[int, int, int]]:
    """``fields`` as it was first written: lenient prefixes, read by ``int`` as mitmproxy does."""
    out = {}
    pos = start
    while pos < stop:
        colon = data.find(b":", pos, stop)
        if colon <= pos or colon - pos > tn.MAX_PREFIX_DIGITS:
            raise tn.TnetstringError(f"no length prefix at {pos}")
        k0 = colon + 1
        k1 = k0 + int(data[pos:colon])
        if not k0 <= k1 < stop or data[k1] != tn.TEXT:
            raise tn.TnetstringError(f"dictionary key at {pos} is not text")
        pos = k1 + 1
        colon = data.find(b":", pos, stop)
        if colon <= pos or colon - pos > tn.MAX_PREFIX_DIGITS:
            raise tn.TnetstringError(f"no length prefix at {pos}")
        v0 = colon + 1
        v1 = v0 + int(data[pos:colon])
        if not v0 <= v1 < stop:
            raise tn.TnetstringError(f"value at {pos} runs past its container")
        out[data[k0:k1]] = (v0, v1, data[v1])
        pos = v1 + 1
    return out


def reference_field(data: bytes, start: int, stop: int, wanted: bytes) -> tuple[int, int, int] | None:
    """``field`` as it was first written: two ``span`` calls per key."""
    pos = start
    while pos < stop:
        k0, k1, tag = reference_span(data, pos, stop)
        if tag != tn.TEXT:
            raise tn.TnetstringError("key not text")
        v = reference_span(data, k1 + 1, stop)
        if data[k0:k1] == wanted:
            return v
        pos = v[1] + 1
    return None


def outcome(find, data: bytes, wanted: bytes) -> object:  # type: ignore[no-untyped-def]
    try:
        return find(data, data.index(b":") + 1, len(data) - 1, wanted)
    except tn.TnetstringError:
        return "refused"
    except ValueError:  # no colon at all: not a dictionary to look in
        return "no prefix"


KEYS = st.sampled_from(["sni", "peername", "id", "address", "s", "sn", "snii", ""])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.binary(max_size=20), st.text(max_size=10),
                   st.lists(st.integers(), max_size=3))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8), KEYS, st.data())
def test_field_finds_what_span_finds(state: dict, wanted: str, data: st.DataObject) -> None:
    raw = tnetstring.dumps(state)
    assert outcome(tn.field, raw, wanted.encode()) == outcome(reference_field, raw, wanted.encode())
    # and on the same bytes damaged at one place
    at = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.sampled_from(b"0123456789:,;}]#~x"))
    bad = raw[:at] + bytes([byte]) + raw[at + 1:]
    assert outcome(tn.field, bad, wanted.encode()) == outcome(reference_field, bad, wanted.encode())


@pytest.mark.parametrize("raw", [b"3:sni,1:x,", b"3:sni;", b"+3:sni;1:x,", b"3:sni;9:x,", b"1:a;2:x,", b"2:a;1:x,"])
def test_field_refuses_damage(raw: bytes) -> None:
    with pytest.raises(tn.TnetstringError):
        tn.field(raw + b"}", 0, len(raw), b"b")


def test_field_finds_the_last_key_and_none_when_absent() -> None:
    raw = b"1:a;0:~1:b;1:x,"
    assert tn.field(raw + b"}", 0, len(raw), b"b") == (len(raw) - 2, len(raw) - 1, tn.BYTES)
    assert tn.field(raw + b"}", 0, len(raw), b"c") is None


def result(call, *args: object) -> object:  # type: ignore[no-untyped-def]
    """What ``call`` answers, or the kind of error it raises (TnetstringError, or ValueError
    from ``int`` in the lenient reading, which the flow reader takes for damage alike)."""
    try:
        return call(*args)
    except tn.TnetstringError:
        return "refused"
    except ValueError:
        return "not a number"


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8), st.data())
def test_length_prefixes_read_as_find_and_int_read_them(state: dict, data: st.DataObject) -> None:
    """``span``, ``fields`` and ``field`` read a prefix of plain digits themselves (no
    ``find``, no ``int``): the same answers and refusals as the reading by ``find`` and
    ``int``, on mitmproxy's encoding and with one byte changed, inserted or doubled."""
    raw = tnetstring.dumps(state)
    at = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.sampled_from(b"0123456789:,;}]#~x +-_"))
    how = data.draw(st.sampled_from(["as is", "changed", "inserted"]))
    if how == "changed":
        raw = raw[:at] + bytes([byte]) + raw[at + 1:]
    elif how == "inserted":
        raw = raw[:at] + bytes([byte]) + raw[at:]
    assert result(tn.span, raw, 0, len(raw)) == result(reference_span, raw, 0, len(raw))
    colon = raw.find(b":")
    if colon > 0:
        start, stop = colon + 1, len(raw) - 1
        assert result(tn.fields, raw, start, stop) == result(reference_fields, raw, start, stop)
        for wanted in (b"sni", b"id", b"", b"nope"):
            assert result(tn.field, raw, start, stop, wanted) == result(reference_field, raw, start, stop, wanted)


@pytest.mark.parametrize("prefix", [b"3", b"003", b"000000000003", b"0000000000003", b"+3", b" 3", b"3 ", b"1_0",
                                    b"-3", b"", b"99999999999999"])
def test_length_prefixes_at_the_edges(prefix: bytes) -> None:
    """Leading zeros up to the twelve digits a prefix may have, one more, signs, spaces and
    underscores (which ``int`` takes: the lenient reading keeps taking them), too long."""
    raw = prefix + b":abc;" + b"1:x," + b"}"
    stop = len(raw) - 1
    assert result(tn.span, raw, 0, len(raw)) == result(reference_span, raw, 0, len(raw))
    assert result(tn.fields, raw, 0, stop) == result(reference_fields, raw, 0, stop)
    assert result(tn.field, raw, 0, stop, b"abc") == result(reference_field, raw, 0, stop, b"abc")
