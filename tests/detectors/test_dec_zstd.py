"""zstd by its magic number (``_dec_zstd.py``)."""

from __future__ import annotations

import zstandard

from consentscope.detectors import decode_request
from tests.detectors.helpers import found, imei_json, rec


def test_found_by_its_magic_and_named_in_the_chain() -> None:
    d = decode_request(rec(body=zstandard.ZstdCompressor().compress(imei_json())))
    assert found(d) == [("body.json:$.imei", ("zstd", "json"))] and d.anomalies == ()


def test_a_cut_frame_is_named() -> None:
    body = zstandard.ZstdCompressor(level=1).compress(imei_json(pad="x" * 3000))
    d = decode_request(rec(body=body[: len(body) - 4]))
    assert "zstd-incomplete" in d.anomalies or "zstd-invalid" in d.anomalies
