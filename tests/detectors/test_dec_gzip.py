"""gzip by its header (``_dec_gzip.py``): found whatever the headers say, its members one
body, a broken or cut stream named."""

from __future__ import annotations

import random

from consentscope.detectors import decode_request
from tests.detectors.helpers import IMEI, found, gz, imei_json, rec

PLAIN = b"device=" + IMEI + b" and some more text to compress " * 3


def test_found_by_its_header_and_named_in_the_chain() -> None:
    for ctype in ([], [("Content-Type", "application/octet-stream")]):
        d = decode_request(rec(body=gz(imei_json()), headers=ctype))
        assert found(d) == [("body.json:$.imei", ("gzip", "json"))] and d.anomalies == ()


def test_members_are_one_body() -> None:
    assert found(rec(body=gz(PLAIN[:40]) + gz(PLAIN[40:]))) == [("body", ("gzip",))]


def test_a_broken_stream_is_named_and_read_as_it_is() -> None:
    body = gz(PLAIN)[:10] + random.Random(1).randbytes(40)
    d = decode_request(rec(body=body))
    assert d.anomalies == ("gzip-invalid",) and [v.data for v in d.views if v.location == "body"] == [body]


def test_a_cut_stream_gives_what_it_holds() -> None:
    whole = gz(b"imei=" + IMEI + b"&r=" + random.Random(1).randbytes(3000).hex().encode())
    d = decode_request(rec(body=whole[: len(whole) // 2]))
    assert d.anomalies == ("gzip-incomplete",) and found(d) == [("body.form:imei", ("gzip",))]
