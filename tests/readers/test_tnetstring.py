"""consentscope/readers/_tnetstring.py: ``field`` (written out for speed) finds what a walk
by ``span`` finds, and refuses what it refuses, on mitmproxy's own encoding and on damage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from consentscope.readers import _tnetstring as tn


def reference_field(data: bytes, start: int, stop: int, wanted: bytes) -> tuple[int, int, int] | None:
    """``field`` as it was first written: two ``span`` calls per key."""
    pos = start
    while pos < stop:
        k0, k1, tag = tn.span(data, pos, stop)
        if tag != tn.TEXT:
            raise tn.TnetstringError("key not text")
        v = tn.span(data, k1 + 1, stop)
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
