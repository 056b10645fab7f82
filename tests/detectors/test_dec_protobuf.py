"""Protobuf without a schema (``_dec_protobuf.py``): declared or sniffed, nested messages
by field numbers, and random binary rarely taken for it."""

from __future__ import annotations

import random
import struct

import pytest

from consentscope.detectors import decode_request
from tests.detectors.helpers import IMEI, found, gz, imei_json, pb_int, pb_len, pb_varint, rec, rows

PB_INNER = (
    pb_len(3, IMEI)
    + pb_int(4, 861234567890127)
    + pb_len(5, gz(imei_json()))
    + pb_varint(6 << 3 | 5) + struct.pack("<I", 7)  # fixed32: skipped
)  # fmt: skip


PB_MSG = pb_int(1, 150) + pb_len(2, PB_INNER) + pb_len(7, b"com.tencent.mm")


PB_FOUND = [
    ("body.protobuf:2.3", ("protobuf",)),
    ("body.protobuf:2.4", ("protobuf",)),
    ("body.protobuf:2.5>json:$.imei", ("protobuf", "gzip", "json")),
]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (PB_MSG, "application/x-protobuf"),
        (PB_MSG, "application/octet-stream"),
        (PB_MSG, None),
        (b"\0" + struct.pack(">I", len(PB_MSG)) + PB_MSG, "application/grpc"),
    ],
    ids=["labelled", "octet-stream", "unlabelled", "grpc"],
)
def test_protobuf_nested_message_by_field_numbers(body: bytes, ctype: str | None) -> None:
    d = decode_request(rec(body=body, headers=[("Content-Type", ctype)] if ctype else []))
    assert found(d) == PB_FOUND
    assert ("body.protobuf:1", ("protobuf",), b"150") in rows(d)
    assert ("body.protobuf:7", ("protobuf",), b"com.tencent.mm") in rows(d)
    assert d.anomalies == ()


def test_random_binary_is_rarely_taken_for_protobuf() -> None:
    rng = random.Random(5)
    for size, most in ((16, 30), (64, 2)):  # measured: 11 and 0 of 2000
        taken = sum(
            any("protobuf" in v.chain for v in decode_request(rec(body=rng.randbytes(size))).views) for _ in range(2000)
        )
        assert taken <= most, size
