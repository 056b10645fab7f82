"""SDK wire-format adapters (``_adapters.py``) and the GrowingIO example.

The GrowingIO packing is taken from the SDK's own code: github.com/growingio/growingio-sdk-go
at 6467ada31606fe563006f51bd7fdad4699886854, ``internal/core/request_pipe.go``:
``compress`` is ``snappy.Encode(nil, req.Body)`` with ``X-Compress-Codec: 2``, then
``encrypt`` does ``encrypted[i] = b ^ byte(req.Timestamp % 256)`` with ``X-Crypt-Codec: 1``;
``internal/core/request.go`` sends the millisecond timestamp as ``X-Timestamp`` (and
``?stm=``) with ``Content-Type: application/protobuf``.
"""

from __future__ import annotations

import json

import pytest

from consentscope.detectors import (
    BUILTIN_ADAPTERS,
    GROWINGIO,
    Adapter,
    Identifier,
    RequestRecord,
    Scanner,
    ScanProfile,
    decode_request,
)
from consentscope.detectors._adapters import unsnappy
from tests.detectors.helpers import pb_len, rec

IMEI = "861234567890127"
STM = 1772445600123  # low byte 0x7b


def snappy_literal(data: bytes) -> bytes:
    """A valid raw Snappy block of literals only (what a test needs; real encoders also copy)."""
    out = bytearray()
    n = len(data)
    while True:  # varint
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    for i in range(0, len(data), 60):
        chunk = data[i : i + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


def xor(data: bytes, byte: int) -> bytes:
    return bytes(b ^ byte for b in data)


def growingio_request(payload: bytes, stm: int = STM, sent_stm: int | None = None) -> RequestRecord:
    body = xor(snappy_literal(payload), stm % 256)
    headers = [("Content-Type", "application/protobuf"), ("X-Compress-Codec", "2"), ("X-Crypt-Codec", "1"),
               ("X-Timestamp", str(stm if sent_stm is None else sent_stm))]  # fmt: skip
    return rec(f"/v3/projects/0a1b4118dd954ec3bcc69da5138bdb96/collect?stm={stm}", body, headers)


def test_unsnappy() -> None:
    assert unsnappy(snappy_literal(b"hello world" * 20), 1000) == b"hello world" * 20
    # "abc" then a 1-byte-offset copy (tag kind 1) of 9 bytes at offset 3: overlapping
    block = bytes([12, 2 << 2]) + b"abc" + bytes([((9 - 4) << 2) | 1, 3])
    assert unsnappy(block, 100) == b"abcabcabcabc"
    # a 2-byte-offset copy (kind 2)
    block = bytes([8, 3 << 2]) + b"wxyz" + bytes([(3 << 2) | 2, 4, 0])
    assert unsnappy(block, 100) == b"wxyzwxyz"
    assert unsnappy(block, 7) is None  # beyond the cap
    assert unsnappy(bytes([5, 0]) + b"a", 100) is None  # shorter than declared
    assert unsnappy(bytes([4, 0]) + b"a" + bytes([1, 0]), 100) is None  # offset 0
    assert unsnappy(b"", 100) is None and unsnappy(b"\xff\xff\xff\xff\xff\xff", 100) is None


def test_growingio_protobuf_upload() -> None:
    event = pb_len(1, pb_len(3, IMEI.encode()) + pb_len(5, b"com.example.app"))
    request = growingio_request(event)
    profile = ScanProfile(identifiers=(Identifier("imei", IMEI),))
    assert Scanner(profile).scan(request).findings == ()  # XOR'ed snappy: opaque
    found = Scanner(profile, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert [(f.data_type, f.encoding, f.location) for f in found] == [
        ("imei", ("xor", "snappy", "protobuf"), "body.protobuf:1.3")]  # fmt: skip
    bare = Scanner(ScanProfile(), patterns=True, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert [(f.data_type, f.confidence) for f in bare] == [("imei", "pattern")]


def test_growingio_json_upload() -> None:
    request = growingio_request(json.dumps([{"deviceId": "x", "imei": IMEI}]).encode())
    decoded = decode_request(request, adapters=BUILTIN_ADAPTERS)
    assert any(v.chain == ("xor", "snappy", "json") and IMEI.encode() in v.data for v in decoded.views)


def test_failing_steps_leave_the_body_as_it_is() -> None:
    request = growingio_request(b"\x0a\x0fhello", sent_stm=STM + 1)  # the wrong key byte
    decoded = decode_request(request, adapters=BUILTIN_ADAPTERS)
    assert "adapter-failed:growingio" in decoded.anomalies
    assert decoded.views[-1].location == "body" and decoded.views[-1].chain == ()


def test_matching() -> None:
    a = Adapter("x", ("xor:hex:5a",), host="*.example.com", path="/v1/*", when=(("X-Enc", "1"),))
    assert a.matches(RequestRecord("f", 0.0, "POST", "https", "api.example.com", 443, "/v1/log?a=1", (("X-Enc", "1"),)))
    assert not a.matches(RequestRecord("f", 0.0, "POST", "https", "api.example.com", 443, "/v2/log", (("X-Enc", "1"),)))
    assert not a.matches(rec("/v1/log", b"", [("X-Enc", "1")]))  # host sdk.example.net
    assert not GROWINGIO.matches(rec("/", b"", [("X-Crypt-Codec", "1")]))  # no compress codec 2
    with pytest.raises(ValueError):
        Adapter("bad", ("rot13",))
    with pytest.raises(ValueError):
        Adapter("bad", ("xor:cookie:k",))


def test_xor_with_a_repeated_key_then_gzip() -> None:
    import gzip

    key = b"k3y!"
    plain = gzip.compress(json.dumps({"imei": IMEI}).encode(), mtime=0)
    body = bytes(b ^ key[i % len(key)] for i, b in enumerate(plain))
    adapter = Adapter("demo", ("xor:header:X-K", "gzip"))
    request = rec("/", body, [("X-K", key.decode())])
    profile = ScanProfile(identifiers=(Identifier("imei", IMEI),))
    found = Scanner(profile, adapters=(adapter,)).scan(request).findings
    assert [(f.encoding, f.location) for f in found] == [(("xor", "gzip", "json"), "body.json:$.imei")]
