"""SDK wire-format adapters (``_adapters.py``), their step modules (``_step_snappy.py``,
``_step_pbdouble.py``) and the GrowingIO adapter.

The GrowingIO packing is taken from the SDK's own code:
github.com/growingio/growingio-sdk-android-autotracker at
90d1376dace107ffa2b02fa74f6a61983538878d,
``growingio-data/encoder/src/main/java/com/growingio/android/encoder/EncoderDataFetcher.java``:
``Snappy.compress(eventUrl.getRequestBody())`` (``growingio-tools/snappy``, the raw block
format), then ``XORUtils.encrypt(compressData, (int) (currentTimeMillis & 0xFF))``, headers
``X-Compress-Codec: 2`` and ``X-Crypt-Codec: 1``;
``growingio-tracker-core/.../middleware/EventHttpSender.java`` posts to
``v3/projects/<id>/collect`` with ``.addParam("stm", String.valueOf(time))``, the same
``time``; the body is ``EventV3List`` of ``growingio-data/protobuf/src/main/proto/event_v3.proto``
(``repeated EventV3Dto values = 1``; ``device_id = 1``, ``platform = 7``, ``double latitude = 44``,
``double longitude = 45``, ``imei = 46``, ``android_id = 47``, ``oaid = 48``).
The iOS SDK (github.com/growingio/growingio-sdk-ios-autotracker at
6b7a90def6b5fe69100f7c905e1b074ad547d420) compresses with ``GROW_LZ4_compress``, a bare LZ4
block (``Services/Compression/GrowingDataCompression.m``), with ``X-Compress-Codec: 3``
(``Modules/DefaultServices/GrowingEventRequestCompressionAdapter.m``, priority 10), then XORs
every byte with ``stm & 0xFF`` (``Services/Encryption/GrowingDataEncoder.m``,
``GrowingEventRequestEncryptionAdapter.m``, priority 20; ``GrowingNetworkManager.m`` applies
adapters in ascending priority) with ``X-Crypt-Codec: 1``; each half is a setting.
The Go SDK (github.com/growingio/growingio-sdk-go at 6467ada31606fe563006f51bd7fdad4699886854,
``internal/core/request_pipe.go`` and ``request.go``) packs the same way and sends the
milliseconds as ``?stm=`` and ``X-Timestamp``.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import consentscope.detectors as detectors
from consentscope.detectors import (
    BUILTIN_ADAPTERS,
    GROWINGIO,
    Adapter,
    GeoPoint,
    Identifier,
    Limits,
    RequestRecord,
    Scanner,
    ScanProfile,
    decode_request,
)
from consentscope.detectors._adapters import GROWINGIO_IOS, GROWINGIO_IOS_LZ4, GROWINGIO_XOR, first_match, form_value
from consentscope.detectors._step_lz4 import unlz4
from consentscope.detectors._step_pbdouble import _walk
from consentscope.detectors._step_snappy import unsnappy
from tests.detectors.helpers import pb_len, pb_varint, rec

IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"
OAID = "1fd9a1f4-3e5b-4c2a-9d0e-7a6b5c4d3e2f"
LAT, LON = 39.904211, 116.407395
STM = 1772445600123  # low byte 0x7b
OPS = Limits().max_block_ops


def snappy_literal(data: bytes) -> bytes:
    """A valid raw Snappy block of literals only."""
    out = bytearray(pb_varint(len(data)))
    for i in range(0, len(data), 60):
        chunk = data[i : i + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


def snappy_compress(data: bytes) -> bytes:
    """A raw Snappy block as the SDK's ``SnappyCompressor`` makes one: literals, and copies of
    earlier 4-byte matches (1-byte offsets for short near copies, 2-byte offsets else)."""
    out = bytearray(pb_varint(len(data)))
    seen: dict[bytes, int] = {}
    i = lit = 0

    def literal(end: int) -> None:
        for j in range(lit, end, 60):
            chunk = data[j : min(j + 60, end)]
            out.append((len(chunk) - 1) << 2)
            out.extend(chunk)

    while i + 4 <= len(data):
        cand = seen.get(data[i : i + 4])
        seen[data[i : i + 4]] = i
        if cand is None or i - cand > 0xFFFF:
            i += 1
            continue
        length = 4
        while i + length < len(data) and length < 64 and data[cand + length] == data[i + length]:
            length += 1
        literal(i)
        offset = i - cand
        if length <= 11 and offset < 2048:
            out += bytes([((offset >> 8) << 5) | ((length - 4) << 2) | 1, offset & 0xFF])
        else:
            out += bytes([((length - 1) << 2) | 2]) + offset.to_bytes(2, "little")
        i += length
        lit = i
    literal(len(data))
    return bytes(out)


def lz4_compress(data: bytes) -> bytes:
    """A bare LZ4 block as ``LZ4_compress`` makes one: sequences of literals and a match of
    4 bytes or more (2-byte offsets), the last 5 bytes literals, no match starting within
    the last 12 bytes."""
    out = bytearray()
    seen: dict[bytes, int] = {}
    i = lit = 0

    def lengths(n: int) -> bytes:
        return bytes([255] * (n // 255) + [n % 255])

    while i + 12 <= len(data):
        cand = seen.get(data[i : i + 4])
        seen[data[i : i + 4]] = i
        if cand is None or i - cand > 0xFFFF:
            i += 1
            continue
        length = 4
        while i + length < len(data) - 5 and data[cand + length] == data[i + length]:
            length += 1
        n_lit, n_match = i - lit, length - 4
        out.append((min(n_lit, 15) << 4) | min(n_match, 15))
        if n_lit >= 15:
            out += lengths(n_lit - 15)
        out += data[lit:i] + (i - cand).to_bytes(2, "little")
        if n_match >= 15:
            out += lengths(n_match - 15)
        i += length
        lit = i
    n_lit = len(data) - lit
    out.append(min(n_lit, 15) << 4)
    if n_lit >= 15:
        out += lengths(n_lit - 15)
    return bytes(out + data[lit:])


def pb_double(number: int, value: float) -> bytes:
    return pb_varint(number << 3 | 1) + struct.pack("<d", value)


def xor(data: bytes, byte: int) -> bytes:
    return bytes(b ^ byte for b in data)


def event_v3(imei: str = IMEI) -> bytes:
    """One ``EventV3Dto`` as the SDK's protobuf-lite writes it: fields in number order."""
    return (pb_len(1, b"c2a1b7a0-3e1f-4b57-9a11-2f6f1f0c9d11") + pb_len(7, b"Android")
            + pb_double(44, LAT) + pb_double(45, LON)
            + pb_len(46, imei.encode()) + pb_len(47, ANDROID_ID.encode()) + pb_len(48, OAID.encode()))  # fmt: skip


def growingio_request(payload: bytes, stm: int = STM, go_sdk: bool = False, sent_stm: int | None = None) -> RequestRecord:
    body = xor(snappy_compress(payload), stm & 0xFF)
    headers = [("Content-Type", "application/protobuf"), ("X-Compress-Codec", "2"), ("X-Crypt-Codec", "1")]
    if go_sdk:
        headers.append(("X-Timestamp", str(stm)))
    sent = stm if sent_stm is None else sent_stm
    return rec(f"/v3/projects/0a1b4118dd954ec3bcc69da5138bdb96/collect?stm={sent}", body, headers)


PROFILE = ScanProfile(
    identifiers=(Identifier("imei", IMEI), Identifier("android_id", ANDROID_ID), Identifier("oaid", OAID)),
    location=GeoPoint(LAT + 0.0004, LON - 0.0003, precision_m=200),
)


# -- the step modules ------------------------------------------------------------------


def test_unsnappy() -> None:
    assert unsnappy(snappy_literal(b"hello world" * 20), 1000, OPS) == b"hello world" * 20
    text = json.dumps([{"imei": IMEI, "i": i} for i in range(50)]).encode()
    block = snappy_compress(text)
    assert len(block) < len(text) // 2 and unsnappy(block, 1 << 20, OPS) == text
    # "abc" then a 1-byte-offset copy (tag kind 1) of 9 bytes at offset 3: overlapping
    block = bytes([12, 2 << 2]) + b"abc" + bytes([((9 - 4) << 2) | 1, 3])
    assert unsnappy(block, 100, OPS) == b"abcabcabcabc"
    # a 2-byte-offset copy (kind 2), a 4-byte one (kind 3), a literal with a 1-byte length
    block = bytes([8, 3 << 2]) + b"wxyz" + bytes([(3 << 2) | 2, 4, 0])
    assert unsnappy(block, 100, OPS) == b"wxyzwxyz"
    assert unsnappy(bytes([8, 3 << 2]) + b"wxyz" + bytes([(3 << 2) | 3, 4, 0, 0, 0]), 100, OPS) == b"wxyzwxyz"
    assert unsnappy(bytes([61, 60 << 2, 60]) + b"q" * 61, 100, OPS) == b"q" * 61
    assert unsnappy(block, 7, OPS) is None  # beyond the cap
    assert unsnappy(block, 100, 1) is None  # beyond the operations bound
    assert unsnappy(bytes([5, 0]) + b"a", 100, OPS) is None  # shorter than declared
    assert unsnappy(bytes([4, 0]) + b"a" + bytes([1, 0]), 100, OPS) is None  # offset 0
    assert unsnappy(b"", 100, OPS) is None and unsnappy(b"\xff\xff\xff\xff\xff\xff", 100, OPS) is None


def test_unlz4() -> None:
    text = json.dumps([{"imei": IMEI, "i": i} for i in range(50)]).encode()
    block = lz4_compress(text)
    assert len(block) < len(text) // 2 and unlz4(block, 1 << 20, OPS) == text
    assert unlz4(lz4_compress(b"a" * 1000), 1000, OPS) == b"a" * 1000  # long overlapping matches
    assert unlz4(lz4_compress(b"a" * 1000), 999, OPS) is None  # beyond the cap
    assert unlz4(block, 1 << 20, 2) is None  # beyond the sequences bound
    assert unlz4(bytes([0x40]) + b"abc", 100, OPS) is None  # fewer literals than the token says
    assert unlz4(bytes([0x30]) + b"abc" + bytes([4, 0]), 100, OPS) is None  # offset beyond the output
    assert unlz4(bytes([0x30]) + b"abc" + bytes([0, 0]), 100, OPS) is None  # offset 0
    assert unlz4(bytes([0xF0]) + b"\xff" * 10_000, 1 << 30, OPS) is None  # a length claiming more than the input
    assert unlz4(b"", 100, OPS) is None


def test_hostile_snappy_stops_at_the_operations_bound() -> None:
    n = 2_000_000
    block = pb_varint(n) + b"\x00a" * n  # two million one-byte literals
    start = time.process_time()
    assert unsnappy(block, 8 << 20, OPS) is None
    assert time.process_time() - start < 5  # ~0.35 s measured; without the bound ~1.5 s
    assert unsnappy(pb_varint(1000) + b"\x00a" * 1000, 8 << 20, OPS) == b"a" * 1000


def test_form_value() -> None:
    assert form_value(b"crc=1&gzip=1&data_list=H4s%2B%2Fa%3D+b", "data_list") == b"H4s+/a=+b"
    assert form_value(b"xgzip=9&gzip=1", "gzip") == b"1"  # not inside another field's name
    assert form_value(b"gzip=1", "gzip") == b"1" and form_value(b"a=1", "gzip") is None
    assert form_value(b"a=1&gzip=", "gzip") == b""
    assert form_value(b"d=%zz%41%", "d") == b"%zzA%"  # invalid escapes kept, as unquote_to_bytes keeps them


# -- the format ------------------------------------------------------------------------


def test_matching() -> None:
    a = Adapter("x", ("xor:hex:5a",), host="*.example.com", path="/v1/*", when=(("X-Enc", "1|2"),))
    assert a.matches(RequestRecord("f", 0.0, "POST", "https", "api.example.com", 443, "/v1/log?a=1", (("X-Enc", "2"),)))
    assert not a.matches(RequestRecord("f", 0.0, "POST", "https", "API.Example.com", 443, "/v1/log", (("X-Enc", "3"),)))
    assert not a.matches(RequestRecord("f", 0.0, "POST", "https", "api.example.com", 443, "/v2/log", (("X-Enc", "1"),)))
    assert not a.matches(rec("/v1/log", b"", [("X-Enc", "1")]))  # host sdk.example.net
    q = Adapter("q", ("base64",), when=(("query:v", "*"), ("form:k", "7")))
    assert q.matches(rec("/?v=", b"a=1&k=7"))
    assert not q.matches(rec("/", b"a=1&k=7")) and not q.matches(rec("/?v=1", b"a=1&k=8"))
    assert not q.matches(rec("/?v=1", b"a=1&k=7", [("Content-Type", "application/json")]))  # no form
    assert not GROWINGIO.matches(rec("/", b"", [("X-Crypt-Codec", "1")]))  # no compress codec 2
    for steps, when in [(("rot13",), ()), (("xor:cookie:k",), ()), (("form:",), ()), (("gzip:x",), ()), (("xor:hex:zz",), ()), (("xor:query:",), ()),
                        (("gzip",), (("query:", "1"),)), (("gzip",), (("X", ""),))]:
        with pytest.raises(ValueError):
            Adapter("bad", steps, when=when)


def test_first_match_is_the_first_adapter_that_matches() -> None:
    a = Adapter("a", ("base64",), when=(("x-enc", "1"),))  # header names case-insensitive
    b = Adapter("b", ("hex",), when=(("X-Enc", "*"),))
    c = Adapter("c", ("hex",), path="/v1/*", when=(("X-Enc", "2|3"), ("X-Enc", "[23]")))
    both = rec("/v1/x", b"", [("X-ENC", "1"), ("X-Enc", "2")])  # the first value counts, as in ``header``
    assert first_match((a, b, c), both) is a and first_match((b, a), both) is b
    assert first_match((a, c, b), rec("/v1/x", b"", [("X-Enc", "3")])) is c
    assert first_match([a, c], rec("/v2/x", b"", [("X-Enc", "3")])) is None  # a list too
    assert first_match((a, b), rec("/", b"")) is None and first_match((), rec("/", b"")) is None
    for r in (both, rec("/v1/x", b"", [("X-Enc", "3")]), rec("/", b"")):
        assert first_match(BUILTIN_ADAPTERS, r) is next((x for x in BUILTIN_ADAPTERS if x.matches(r)), None)


def test_xor_with_a_repeated_key_then_gzip() -> None:
    key = b"k3y!"
    plain = gzip.compress(json.dumps({"imei": IMEI}).encode(), mtime=0)
    body = bytes(b ^ key[i % len(key)] for i, b in enumerate(plain))
    adapter = Adapter("demo", ("xor:header:X-K", "gzip"))
    request = rec("/", body, [("X-K", key.decode())])
    profile = ScanProfile(identifiers=(Identifier("imei", IMEI),))
    found = Scanner(profile, adapters=(adapter,)).scan(request).findings
    assert [(f.encoding, f.location) for f in found] == [(("adapter:demo", "xor", "gzip", "json"), "body.json:$.imei")]


def test_step_modules_hold_no_bound_of_their_own() -> None:
    """As ``test_limits`` asks of the decoders: every bound is a ``Limits`` field."""
    folder = Path(detectors.__file__).parent
    paths = [*folder.glob("_step_*.py"), folder / "_adapters.py"]
    assert len(paths) == 4
    for path in paths:
        assert not re.search(r"^(MAX|MIN)_\w+\s*(?::[^=]+)?=", path.read_text(encoding="utf-8"), re.M), path.name


def test_every_builtin_adapter_cites_its_source() -> None:
    names = [a.name for a in BUILTIN_ADAPTERS]
    assert len(set(names)) == len(names)
    for a in BUILTIN_ADAPTERS:
        assert "github.com/" in a.source and "@" in a.source, a.name


# -- GrowingIO -------------------------------------------------------------------------


def test_growingio_android_upload() -> None:
    request = growingio_request(pb_len(1, event_v3()) + pb_len(1, event_v3()))
    assert Scanner(PROFILE, adapters=()).scan(request).findings == ()  # without the adapter, XOR'ed snappy is opaque
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    chain = ("adapter:growingio", "xor", "snappy", "protobuf")
    assert sorted((f.data_type, f.encoding, f.location) for f in found) == [
        ("android_id", chain, "body.protobuf:1.47"),
        ("imei", chain, "body.protobuf:1.46"),
        ("location", (*chain, "double"), "body.protobuf:1.44"),
        ("oaid", chain, "body.protobuf:1.48"),
    ]
    loc = next(f for f in found if f.data_type == "location")
    assert "lat 39.904211" in loc.evidence and "lon 116.407395" in loc.evidence
    bare = Scanner(ScanProfile(), patterns=True, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert ("imei", "pattern") in [(f.data_type, f.confidence) for f in bare]


def test_growingio_go_sdk_upload() -> None:
    request = growingio_request(pb_len(1, event_v3()), stm=1772445600000, go_sdk=True)
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert {f.data_type for f in found} == {"imei", "android_id", "oaid", "location"}


def test_growingio_json_upload() -> None:
    request = growingio_request(json.dumps([{"deviceId": "x", "imei": IMEI}]).encode())
    decoded = decode_request(request, adapters=BUILTIN_ADAPTERS)
    assert any(v.chain == ("adapter:growingio", "xor", "snappy", "json") and IMEI.encode() in v.data
               for v in decoded.views)  # fmt: skip


def test_growingio_saas_sdk_upload() -> None:
    """The older SaaS SDK (github.com/growingio/growingio-sdk-android-saas at
    6df3c935028575a54b3db008986cd6adc6f2bba1, ``vds-subscriber-data/.../db/MessageUploader.java``):
    ``jsonArray.toString()`` through ``Snappy.compress`` and ``XORUtils.encrypt(…,
    currentTimeMillis & 0xFF)`` to ``%s/%s/android/%s?stm=%d``, the same two headers."""
    events = json.dumps([{"u": "c2a1b7a0", "s": "9d11", "t": "vst", "imei": IMEI, "androidId": ANDROID_ID,
                          "lat": LAT, "lng": LON}], separators=(",", ":")).encode()  # fmt: skip
    body = xor(snappy_compress(events), STM & 0xFF)
    headers = [("X-Compress-Codec", "2"), ("X-Crypt-Codec", "1")]
    request = rec(f"/0a1b4118dd954ec3/android/pv?stm={STM}", body, headers)
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    chain = ("adapter:growingio", "xor", "snappy", "json")
    assert sorted((f.data_type, f.encoding, f.location) for f in found) == [
        ("android_id", chain, "body.json:$[0].androidId"),
        ("imei", chain, "body.json:$[0].imei"),
        ("location", chain, "body.json:$[0].lat"),
    ]


def test_failing_steps_leave_the_body_as_it_is() -> None:
    request = growingio_request(b"\x0a\x0fhello", sent_stm=STM + 1)  # the wrong key byte
    decoded = decode_request(request, adapters=BUILTIN_ADAPTERS)
    assert "adapter-failed:growingio" in decoded.anomalies
    assert decoded.views[-1].location == "body" and decoded.views[-1].chain == ()


def growingio_ios_request(payload: bytes, compress: bool, encrypt: bool) -> RequestRecord:
    body, headers = payload, [("Content-Type", "application/protobuf"), ("X-Timestamp", str(STM))]
    if compress:
        body = lz4_compress(body)
        headers.append(("X-Compress-Codec", "3"))
    if encrypt:
        body = xor(body, STM & 0xFF)
        headers.append(("X-Crypt-Codec", "1"))
    return rec(f"/v3/projects/0a1b4118dd954ec3bcc69da5138bdb96/collect?stm={STM}", body, headers)


@pytest.mark.parametrize(("compress", "encrypt", "adapter", "chain"), [
    (True, True, GROWINGIO_IOS, ("adapter:growingio-ios", "xor", "lz4", "protobuf")),
    (True, False, GROWINGIO_IOS_LZ4, ("adapter:growingio-ios-lz4", "lz4", "protobuf")),
    (False, True, GROWINGIO_XOR, ("adapter:growingio-xor", "xor", "protobuf")),
])  # fmt: skip
def test_growingio_ios_upload(compress: bool, encrypt: bool, adapter: Adapter, chain: tuple[str, ...]) -> None:
    events = b"".join(pb_len(1, event_v3()) for _ in range(3))
    request = growingio_ios_request(events, compress, encrypt)
    assert next(a for a in BUILTIN_ADAPTERS if a.matches(request)) is adapter
    found = Scanner(PROFILE, adapters=BUILTIN_ADAPTERS).scan(request).findings
    assert sorted((f.data_type, f.encoding, f.location) for f in found) == [
        ("android_id", chain, "body.protobuf:1.47"),
        ("imei", chain, "body.protobuf:1.46"),
        ("location", (*chain, "double"), "body.protobuf:1.44"),
        ("oaid", chain, "body.protobuf:1.48"),
    ]


def test_doubles_outside_a_coordinate_range_or_not_protobuf_are_not_emitted() -> None:
    payload = pb_len(1, pb_double(44, 1e300) + pb_double(45, float("nan")) + pb_double(2, 0.0) + pb_len(46, b"x"))
    decoded = decode_request(growingio_request(payload), adapters=BUILTIN_ADAPTERS)
    assert not [v for v in decoded.views if v.chain[-1:] == ("double",)]
    decoded = decode_request(growingio_request(b"not protobuf \xff\xff"), adapters=BUILTIN_ADAPTERS)
    assert not [v for v in decoded.views if v.chain[-1:] == ("double",)] and not decoded.anomalies


def test_doubles_spend_the_protobuf_budget() -> None:
    payload = b"".join(pb_len(1, event_v3()) for _ in range(200))
    request = growingio_request(payload)
    decoded = decode_request(request, Limits(max_protobuf_steps=50), adapters=BUILTIN_ADAPTERS)
    assert "protobuf-limit" in decoded.anomalies
    full = decode_request(request, adapters=BUILTIN_ADAPTERS)
    assert len([v for v in full.views if v.chain[-1:] == ("double",)]) == 400


# -- hostile input ---------------------------------------------------------------------

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=600), st.integers(1, 4096))
def test_fuzz_unsnappy_is_bounded(data: bytes, cap: int) -> None:
    out = unsnappy(data, cap, 64)
    assert out is None or len(out) <= cap


@_FUZZ
@given(st.binary(max_size=600))
def test_fuzz_unsnappy_roundtrip(data: bytes) -> None:
    assert unsnappy(snappy_compress(data), len(data), OPS) == data


@_FUZZ
@given(st.lists(st.tuples(st.integers(1, 60), st.sampled_from([0, 1, 2, 5]), st.binary(max_size=24)), max_size=30),
       st.binary(max_size=4))
def test_fuzz_protobuf_doubles_walk(fields: list[tuple[int, int, bytes]], junk: bytes) -> None:
    """Messages of every wire type, nested or broken: the walk returns only
    coordinate-sized doubles, within its field bound, or None."""
    msg = b""
    for number, wire, value in fields:
        tag = pb_varint(number << 3 | wire)
        if wire == 0:
            msg += tag + pb_varint(int.from_bytes(value[:8], "little"))
        elif wire == 1:
            msg += tag + value[:8].ljust(8, b"\0")
        elif wire == 5:
            msg += tag + value[:4].ljust(4, b"\0")
        else:
            msg += tag + pb_varint(len(value)) + value
    for data in (msg, msg + junk, junk + msg):
        walked = _walk(data, 20)
        if walked is not None:
            found, nested, count = walked
            assert count <= 20 and all(0 < abs(x) <= 180 for _, x in found)
            assert all(value in data for _, value in nested)


@_FUZZ
@given(st.binary(max_size=600), st.integers(1, 4096))
def test_fuzz_unlz4_is_bounded(data: bytes, cap: int) -> None:
    out = unlz4(data, cap, 64)
    assert out is None or len(out) <= cap


@_FUZZ
@given(st.binary(min_size=1, max_size=600))
def test_fuzz_unlz4_roundtrip(data: bytes) -> None:
    assert unlz4(lz4_compress(data), len(data), OPS) == data


@_FUZZ
@given(st.binary(max_size=800), st.sampled_from(BUILTIN_ADAPTERS), st.booleans())
def test_fuzz_adapters_never_raise(body: bytes, adapter: Adapter, framed: bool) -> None:
    """Any body under any adapter, on a request its conditions match: views within the
    budgets, no decoder error."""
    if framed:
        body = xor(snappy_literal(body) if "snappy" in adapter.steps else lz4_compress(body), STM & 0xFF)
    headers, form = [], b""
    for name, value in adapter.when:
        got = "1" if value == "*" else value.split("|")[0]
        if name.startswith("form:"):
            form += f"{name[5:]}={got}&".encode()
        else:
            headers.append((name, got))
    request = rec(f"/v1/sync?stm={STM}", form + b"data_list=" + body if form else body, headers)
    assert adapter.matches(request)
    limits = Limits(max_decoded_bytes=1 << 16, max_protobuf_steps=2000)
    decoded = decode_request(request, limits, adapters=(adapter,))
    assert not [a for a in decoded.anomalies if a.startswith("decoder-error")]
    assert sum(len(v.data) for v in decoded.views) <= (1 << 16) + len(request.path) + 200


def test_every_door_reads_the_builtin_formats_by_default() -> None:
    """The live engine, batch tasks and replay all build ``Scanner(profile)``: the SDK formats
    are on unless a caller turns them off."""
    from consentscope.detectors import BUILTIN_ADAPTERS, Scanner, ScanProfile

    assert Scanner(ScanProfile()).adapters == tuple(BUILTIN_ADAPTERS) and len(BUILTIN_ADAPTERS) >= 9
    assert Scanner(ScanProfile(), adapters=()).adapters == ()
