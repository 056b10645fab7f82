"""Raw DEFLATE (``_dec_deflate.py``): no magic, so tried last, only without a Content-Type,
and kept only when it inflates to text."""

from __future__ import annotations

import random
import zlib

from consentscope.detectors import decode_request
from tests.detectors.helpers import IMEI, found, rec

PLAIN = b"device=" + IMEI + b" and some more text to compress " * 3


def raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def test_found_without_a_content_type_only() -> None:
    assert found(rec(body=raw(PLAIN))) == [("body", ("deflate",))]
    d = decode_request(rec(body=raw(PLAIN), headers=[("Content-Type", "application/octet-stream")]))
    assert found(d) == [] and d.views[-1].data == raw(PLAIN)


def test_random_binary_is_not_taken_for_deflate() -> None:
    rng = random.Random(4)
    taken = sum(
        any("deflate" in v.chain for v in decode_request(rec(body=rng.randbytes(200))).views) for _ in range(500)
    )
    assert taken == 0
