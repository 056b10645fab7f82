"""zlib by its 2-byte header (``_dec_zlib.py``): weak evidence, so only a stream that
inflates is taken, and a miss is no anomaly."""

from __future__ import annotations

import zlib

from consentscope.detectors import decode_request
from tests.detectors.helpers import found, imei_json, rec


def test_found_by_its_header_and_named_in_the_chain() -> None:
    d = decode_request(rec(body=zlib.compress(imei_json())))
    assert found(d) == [("body.json:$.imei", ("zlib", "json"))] and d.anomalies == ()


def test_text_or_binary_that_only_opens_like_zlib_is_not_taken() -> None:
    assert zlib.compress(b"x")[:1] == b"x"  # "x\x9c": text may open the same way
    for body in (b"x\x9c and then plain words of text", b"\x78\x9c" + bytes(range(1, 60))):
        d = decode_request(rec(body=body))
        assert not any("zlib" in v.chain for v in d.views) and d.anomalies == ()
