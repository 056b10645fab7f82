"""Hex (``_dec_hex.py``): hex of text decoded; digests, digits and UUIDs left as values."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import decode_request
from tests.detectors.helpers import IMEI, found, rec, rows


def test_hex_of_text_and_values_that_stay_as_they_are() -> None:
    text = b"device " + IMEI + b" model SM-G9910"
    d = decode_request(rec("/?d=" + text.hex()))
    assert found(d) == [("url.query:d", ("hex",))] and ("url.query:d", (), text.hex().encode()) in rows(d)
    # md5 hex, digits and UUIDs are values: kept whole, never decoded as base64
    i = 0
    while (b := hashlib.md5(str(i).encode()).digest())[0] & 0x0F != 8 or (b[0] << 8 | b[1]) % 31:
        i += 1  # an md5 whose bytes open like a zlib stream
    for value in (
        hashlib.md5(b"x").hexdigest(),
        b.hex(),
        "12345678901234567890",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ):
        d = decode_request(rec("/?h=" + value))
        assert rows(d) == [("url.path", (), b"/"), ("url.query:h", (), value.encode())] and d.anomalies == ()


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=70).map(lambda b: bytes(b"0123456789abcdefABCDEF2gZ\x00 -"[x % 27] for x in b)))
def test_hex_pairs_as_the_class_tests(blob: bytes) -> None:
    """The one compiled pass answers as the tests it replaced: every byte a hex digit
    (both cases) in an even, non-zero count, then every pair's first digit one of text."""
    from consentscope.detectors._dec_hex import _BINARY, _NOT_HEX, _TEXTLIKE, _hex_pairs

    if not blob or len(blob) % 2 or not all(c in b"0123456789abcdefABCDEF" for c in blob):
        want = _NOT_HEX
    elif all(c in b"023456789abcdefABCDEF" for c in blob[::2]):
        want = _TEXTLIKE
    else:
        want = _BINARY
    assert _hex_pairs(blob) == want
