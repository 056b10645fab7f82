"""gRPC framing (``_dec_grpc.py``): each length-prefixed message read as protobuf."""

from __future__ import annotations

import struct

from consentscope.detectors import decode_request
from tests.detectors.helpers import IMEI, found, pb_len, rec, rows


def frame(message: bytes, length: int | None = None) -> bytes:
    return b"\0" + struct.pack(">I", len(message) if length is None else length) + message


def test_each_frame_is_a_protobuf_message() -> None:
    first, second = pb_len(1, IMEI), pb_len(2, b"com.tencent.mm")
    d = decode_request(rec(body=frame(first) + frame(second), headers=[("Content-Type", "application/grpc+proto")]))
    assert found(d) == [("body.protobuf:1", ("protobuf",))]
    assert ("body.protobuf:2", ("protobuf",), b"com.tencent.mm") in rows(d)
    assert d.anomalies == ()


def test_framing_that_does_not_add_up_is_no_grpc() -> None:
    body = frame(pb_len(1, IMEI), length=40)
    d = decode_request(rec(body=body, headers=[("Content-Type", "application/grpc")]))
    assert rows(d)[-1] == ("body", (), body) and d.anomalies == ()
