"""The walker (``_decode.py``) against its contract: request parts in order, location and
chain composition across decoders, declared Content-Encoding, each limit's named anomaly,
bodies cut short, determinism, and hostile input that must never raise. Each decoder's
own format is tested in its ``test_dec_*.py``.

Inputs come from the libraries apps use (gzip, zlib, brotli, zstandard, base64, json) and
from protobuf wire bytes written by hand, so no expectation leans on the decoder's code.
"""

from __future__ import annotations

import base64
import json
import os
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from urllib.parse import quote

import brotli
import pytest
import zstandard

from consentscope.detectors import Limits, RequestRecord, _decode, decode_request
from consentscope.detectors._decoders import DECODERS
from tests.detectors.helpers import FORM, IMEI, STEPS, found, gz, imei_json, pb_int, pb_len, rec, rows


def gzip_of_zeros(total: int, chunk: int = 1 << 20) -> bytes:
    """A valid gzip stream of ``total`` zero bytes (CRC and size right), built in a fraction
    of a second: after a full flush deflate output no longer depends on what came before,
    so one compressed megabyte repeats."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(chunk)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    return first + again * (total // chunk - 1) + c.flush()[:-8] + struct.pack("<II", crc, total & 0xFFFFFFFF)


def zstd_of_zeros(total: int) -> bytes:
    c = zstandard.ZstdCompressor(level=3).compressobj()
    return b"".join(c.compress(bytes(1 << 20)) for _ in range(total >> 20)) + c.flush()


def test_every_header_in_order_as_named_then_cookies() -> None:
    r = rec(
        headers=[
            ("X-Device-ID", IMEI.decode()),
            ("Cookie", 'uid="861234567890127"; lang=zh; 0123abcd'),
            ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 13)"),
            ("X-Name", "张三"),  # HAR gives Unicode text
            ("X-Raw", "张三".encode().decode("latin-1")),  # flow and pcap readers give latin-1
            ("X-Esc", b"\xff\xfeid".decode("utf-8", "surrogateescape")),  # undecodable bytes, escaped
            ("x-device-id", "2"),
        ]
    )
    assert rows(decode_request(r)) == [
        ("url.path", (), b"/"),
        ("header:X-Device-ID", (), IMEI),
        ("header:User-Agent", (), b"Dalvik/2.1.0 (Linux; U; Android 13)"),
        ("header:X-Name", (), "张三".encode()),
        ("header:X-Raw", (), "张三".encode()),
        ("header:X-Esc", (), b"\xff\xfeid"),
        ("header:x-device-id", (), b"2"),
        ("cookie:uid", (), IMEI),
        ("cookie:lang", (), b"zh"),
        ("header:Cookie", (), b"0123abcd"),
    ]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (rec("/?data=" + quote(imei_json().decode())), ("url.query:data>json:$.imei", ("json",))),
        (rec(body=json.dumps({"d": "uid=861234567890127&x=1"}).encode()), ("body.json:$.d>form:uid", ("json",))),
        (rec(body=b"p=" + quote(json.dumps({"x": IMEI.decode()})).encode() + b"&v=1", headers=[FORM]),
         ("body.form:p>json:$.x", ("json",))),
        (rec(body=json.dumps({"d": imei_json().decode()}).encode()), ("body.json:$.d>json:$.imei", ("json", "json"))),
        (rec(headers=[("Cookie", "s=" + base64.b64encode(imei_json()).decode())]),
         ("cookie:s>json:$.imei", ("base64", "json"))),
        (rec(headers=[("X-Data", imei_json().decode())]), ("header:X-Data>json:$.imei", ("json",))),
    ],
    ids=["query>json", "json>form", "form>json", "json>json", "cookie>base64>json", "header>json"],
)  # fmt: skip
def test_location_and_chain_composition(record: RequestRecord, expected: tuple[str, tuple[str, ...]]) -> None:
    assert found(record) == [expected]


def _zlib_raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


PLAIN = b"device=" + IMEI + b" and some more text to compress " * 3


@pytest.mark.parametrize(
    ("body", "encoding", "chain"),
    [
        (gz(PLAIN), "gzip", ()),
        (gz(PLAIN), "x-gzip", ()),
        (gz(PLAIN), None, ("gzip",)),
        (gz(PLAIN[:40]) + gz(PLAIN[40:]), "gzip", ()),  # two members are one body
        (zlib.compress(PLAIN), "deflate", ()),
        (zlib.compress(PLAIN), None, ("zlib",)),
        (_zlib_raw(PLAIN), "deflate", ()),
        (_zlib_raw(PLAIN), None, ("deflate",)),
        (brotli.compress(PLAIN), "br", ()),
        (zstandard.ZstdCompressor().compress(PLAIN), "zstd", ()),
        (zstandard.ZstdCompressor().compress(PLAIN), None, ("zstd",)),
        (brotli.compress(gz(PLAIN)), "gzip, br", ()),
        (gz(zlib.compress(PLAIN)), None, ("gzip", "zlib")),
    ],
    ids=["gzip", "x-gzip", "gzip-sniffed", "gzip-members", "zlib", "zlib-sniffed", "deflate-raw",
         "deflate-raw-sniffed", "br", "zstd", "zstd-sniffed", "gzip+br", "gzip(zlib)-sniffed"],
)  # fmt: skip
def test_declared_encodings_leave_no_step_found_ones_do(body: bytes, encoding: str | None, chain: tuple) -> None:
    d = decode_request(rec(body=body, headers=[("Content-Encoding", encoding)] if encoding else []))
    assert found(d) == [("body", chain)]
    assert d.anomalies == ()
    assert not any(v.data == body for v in d.views)  # the compressed bytes are not scanned


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "br", "zstd"])
def test_lying_content_encoding_is_named_and_the_body_read_as_it_is(encoding: str) -> None:
    d = decode_request(rec(body=b"imei=861234567890127&x=1", headers=[("Content-Encoding", encoding)]))
    assert d.anomalies == (f"content-encoding-mismatch:{encoding}",)
    assert found(d) == [("body.form:imei", ())]


def test_unknown_content_encoding_is_named() -> None:
    d = decode_request(rec(body=b"imei=861234567890127&x=1", headers=[("Content-Encoding", "compress")]))
    assert d.anomalies == ("content-encoding-unknown:compress",) and found(d) == [("body.form:imei", ())]


def _nested_b64(times: int) -> bytes:
    out = imei_json()
    for _ in range(times):
        out = base64.b64encode(out)
    return out


def _deep_pb(levels: int) -> bytes:
    msg = pb_len(1, IMEI)
    for _ in range(levels):
        msg = pb_len(1, msg + pb_int(2, 1))
    return msg


def _failing_pb_fields(n: int) -> bytes:
    """n fields, each holding bytes that walk as protobuf for 50 steps, then fail."""
    return b"".join(pb_len(1, b"\x08\x01" * 50 + b"\xff") for _ in range(n))


@pytest.mark.parametrize(
    ("record", "limits", "anomaly"),
    [
        (rec(body=_nested_b64(12)), Limits(), "decode-depth-exceeded"),
        (rec(body=json.dumps(["x" * 40] * 10).encode()), Limits(max_decoded_bytes=100), "decoded-bytes-limit"),
        (rec(body=gz(b"a" * 200_000)), Limits(max_compression_ratio=2), "decompression-limit"),
        (rec(body=gz(b"a" * 200_000)), Limits(max_decompressed_bytes=1000), "decompression-limit"),
        (rec(body=b'{"a":' * 30 + b'"\\"x"' + b"}" * 30), Limits(max_structure_depth=10), "json-depth-exceeded"),
        (rec(body=_deep_pb(20)), Limits(max_structure_depth=5), "protobuf-depth-exceeded"),
        (rec(body=_failing_pb_fields(5000)), Limits(), "protobuf-limit"),
        (rec(body=json.dumps([f"v{i}" for i in range(50)] + ['"']).encode()), Limits(max_views=10), "views-limit"),
        (rec(body=b"x" * 5000), Limits(max_body_scan_bytes=1000), "body-scan-truncated"),
        (rec(body=b"\xff\xd8\xff\xe1" + bytes(100_000)), Limits(max_media_scan_bytes=1000), "media-prefix-scanned"),
    ],
    ids=["decode-depth", "decoded-bytes", "ratio", "decompressed-bytes", "json-depth", "protobuf-depth",
         "protobuf-steps", "views", "body-scan", "media"],
)  # fmt: skip
def test_each_limit_names_its_anomaly_and_keeps_what_came_before(
    record: RequestRecord, limits: Limits, anomaly: str
) -> None:
    d = decode_request(record, limits)
    assert anomaly in d.anomalies
    assert rows(d)[0] == ("url.path", (), b"/")
    assert len(d.views) <= limits.max_views
    assert sum(len(v.data) for v in d.views) <= limits.max_decoded_bytes
    assert d.body_scan_truncated == (anomaly == "body-scan-truncated")


@pytest.mark.parametrize(
    ("build", "encoding", "peak_mb"),
    [
        (lambda: gzip_of_zeros(1 << 30), None, 40),
        (lambda: gzip_of_zeros(1 << 30), "gzip", 40),
        (lambda: zstd_of_zeros(1 << 30), "zstd", 40),
        (lambda: brotli.compress(bytes(128 << 20), quality=5), "br", 80),  # brotli < 1.2 works in 16-byte steps
    ],
    ids=["gzip-1GB-sniffed", "gzip-1GB", "zstd-1GB", "br-128MB"],
)
def test_bombs_stop_at_the_cap_in_bounded_memory(build, encoding: str | None, peak_mb: int) -> None:  # type: ignore[no-untyped-def]
    bomb = build()
    r = rec(body=bomb, headers=[("Content-Encoding", encoding)] if encoding else [])
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        d = decode_request(r)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 10
    assert "decompression-limit" in d.anomalies
    assert sum(len(v.data) for v in d.views) <= Limits().max_decompressed_bytes + 100
    assert peak < peak_mb << 20, peak >> 20


CUT_SOURCE = b"imei=861234567890127&r=" + random.Random(1).randbytes(3000).hex().encode()


@pytest.mark.parametrize(
    ("compress", "encoding", "flagged", "anomalies", "chain"),
    [
        (gz, "gzip", True, ("body-incomplete",), ()),
        (gz, "gzip", False, ("gzip-incomplete",), ()),
        (gz, None, True, ("body-incomplete", "gzip-incomplete"), ("gzip",)),
        (brotli.compress, "br", True, ("body-incomplete",), ()),
        (zlib.compress, "deflate", True, ("body-incomplete",), ()),
    ],
)
def test_truncated_body_decodes_what_there_is(compress, encoding, flagged, anomalies, chain) -> None:  # type: ignore[no-untyped-def]
    whole = compress(CUT_SOURCE)
    r = rec(
        body=whole[: len(whole) // 2], headers=[("Content-Encoding", encoding)] if encoding else [], truncated=flagged
    )
    d = decode_request(r)
    assert d.anomalies == anomalies
    assert found(d) == [("body.form:imei", chain)]


def test_plain_body_cut_short_is_named_and_scanned() -> None:
    d = decode_request(rec(body=b'{"imei":"861234567890127","x":', truncated=True))
    assert d.anomalies == ("body-incomplete",) and found(d) == [("body", ())]


_DETERMINISM_CASE = (
    "/v?a=1&d=" + quote(imei_json(z={"y": 1, "x": [1, 2]}).decode()),
    [("X-A", "1"), ("Cookie", "b=2; a=1"), ("Content-Type", "application/json")],
    base64.b64encode(gz(json.dumps({"b": {"k2": "v", "k1": [IMEI.decode(), {"q": "r%3Ds&t=u"}]}}).encode())),
)


def test_same_input_same_views_in_the_same_order_across_processes() -> None:
    path, headers, body = _DETERMINISM_CASE
    first = decode_request(rec(path, body, headers))
    assert first == decode_request(rec(path, body, headers))
    places = [v.location.split(":")[0].split(".")[0] for v in first.views]
    order = ["url", "header", "cookie", "body"]
    assert places == sorted(places, key=order.index) and set(places) == set(order)
    assert [v.location for v in first.views if v.location.startswith("cookie")] == ["cookie:b", "cookie:a"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    program = (
        f"import sys; sys.path.insert(0, {root!r});"
        "from tests.detectors.test_decode import _DETERMINISM_CASE as c, rec, rows, decode_request;"
        "print(repr(rows(decode_request(rec(c[0], c[2], c[1])))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {repr(rows(first)) + "\n"}


def _hostile_bodies() -> list[bytes]:
    rng = random.Random(7)
    doc = gz(imei_json() * 50)
    out = [rng.randbytes(n) for n in (0, 1, 2, 3, 17, 300, 4096, 70_000)]
    out += [rng.randbytes(rng.randrange(1, 400)) for _ in range(60)]
    out += [doc[:i] for i in range(0, len(doc), 7)]  # gzip cut at every 7th byte
    out += [
        b"\x1f\x8b" + rng.randbytes(50), b"\x28\xb5\x2f\xfd" + rng.randbytes(40), b"x\x9c" + rng.randbytes(30),
        b"[" * 200_000, b"{" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 900 + b"]" * 900,
        b"=" * 100, b"%" * 100, b"%zz" * 50, b"a=%zz&b=%" * 20, b"====", b"abc=def=ghi", b"A" * 17, b"_-" * 40,
        base64.b64encode(rng.randbytes(300)), base64.b64encode(b"\x1f\x8b" + rng.randbytes(64)),
        base64.b64encode(b"x\x9c" + rng.randbytes(64)), (b"\x1f\x8b" + rng.randbytes(64)).hex().encode(),
        _nested_b64(40), b"\x08\x96\x01" * 3000, b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10,
        b"\x0a" + b"\xff" * 11, _deep_pb(300), _failing_pb_fields(300),
        b"\xff\xd8\xff" + rng.randbytes(70_000), b"\xef\xbb\xbf{\"a\":\"\\ud800\"}", b'{"a":"\\u0000\\udfff"}',
        b"--a\r\n\r\n--a--", b"--a", b"\0" * 70_000,
    ]  # fmt: skip
    return out


_HOSTILE_HEADERS = [
    [],
    [("Content-Encoding", "gzip, br")],
    [("Content-Encoding", "deflate, zstd, identity")],
    [("Content-Type", "multipart/form-data; boundary=a")],
    [("Content-Type", "multipart/form-data")],
    [("Content-Type", "application/x-protobuf")],
    [("Content-Type", "application/grpc")],
    [("Content-Type", "application/json"), ("Content-Encoding", "br")],
    [FORM, ("Cookie", '=; ;a; b="; c=%zz')],
    [("X-S", "\udc80\ud800%zz" * 10), ("X-Long", "a=b&" * 5000), ("Cookie", "k=" + "\udcff" * 20)],
]


def test_hostile_input_never_raises_and_stays_in_bounds() -> None:
    limits = Limits(max_views=500, max_decoded_bytes=4 << 20)
    t0 = time.perf_counter()
    for body in _hostile_bodies():
        for headers in _HOSTILE_HEADERS:
            for truncated in (False, True):
                d = decode_request(rec("/?a=" + body[:40].hex() + "&%zz=%", body, headers, truncated=truncated), limits)
                assert not any(a.startswith(("decoder-error", "recursion-limit")) for a in d.anomalies), d.anomalies
                assert len(d.views) <= limits.max_views
                assert sum(len(v.data) for v in d.views) <= limits.max_decoded_bytes
                for v in d.views:
                    assert type(v.data) is bytes and v.data and isinstance(v.location, str)
                    assert set(v.chain) <= STEPS, v.chain
    assert time.perf_counter() - t0 < 60


def test_media_bodies_are_scanned_up_to_their_metadata() -> None:
    exif = b"\xff\xd8\xff\xe1" + b"Exif\x00\x00serial=R58M41ABCDE;" + random.Random(3).randbytes(200_000) + IMEI
    d = decode_request(rec(body=exif, headers=[("Content-Type", "image/jpeg")]))
    body = [v.data for v in d.views if v.location == "body"]
    assert "media-prefix-scanned" in d.anomalies
    assert b"R58M41ABCDE" in body[0] and IMEI not in body[0] and len(body[0]) <= Limits().max_media_scan_bytes


class _Broken:
    """A decoder with a bug: it claims text starting "BROKEN", emits a view, then raises."""

    name = "broken"
    binary = False
    declared = False
    blob = False
    firsts = b"B"

    def sniff(self, w, data: bytes, ctype: str) -> bool:  # type: ignore[no-untyped-def]
        return data.startswith(b"BROKEN")

    def decode(self, w, data: bytes, loc: str, chain: tuple, depth: int, ctype: str) -> bool:  # type: ignore[no-untyped-def]
        w.emit(b"half", loc, chain)
        raise ValueError("a decoder bug")


@pytest.mark.interpreted
def test_a_failing_decoder_costs_an_anomaly_never_the_raw_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_decode, "DECODERS", (_Broken(), *DECODERS))
    monkeypatch.setattr(_decode, "_BARE", _decode._plans.__wrapped__(False, False))
    d = decode_request(rec("/?a=1", body=b"BROKEN imei=" + IMEI, headers=[("X-A", "2")]))
    assert d.anomalies == ("decoder-error:broken:ValueError",)
    assert rows(d)[-2:] == [("body", (), b"half"), ("body", (), b"BROKEN imei=" + IMEI)]
    assert found(d) == [("body", ())]
    # the decoders after it still run on other data
    assert found(decode_request(rec(body=b"imei=" + IMEI + b"&x=1"))) == [("body.form:imei", ())]


def test_json_strings_are_never_offered_to_binary_decoders() -> None:
    plans = _decode._plans(True, False)
    assert not any(dec.binary for plan in plans for dec, _, _ in plan)
    assert not any(dec.declared for plan in _decode._plans(False, False) for dec, _, _ in plan)


def test_blobs_that_decode_to_nothing_are_remembered_within_a_bound() -> None:
    """``blob_child`` remembers blobs that decode to nothing whatever the limits (ids and
    digests an SDK sends in every request), at most ``_NOT_BLOBS_KEPT`` of them; blobs that
    decode, and those whose answer the limits gave (a zlib header), are asked afresh."""
    w = _decode._Walker(Limits())
    _decode._NOT_BLOBS.clear()
    digests = [os.urandom(16).hex().encode() for _ in range(_decode._NOT_BLOBS_KEPT + 10)]
    assert [w.blob_child(d) for d in digests] == [None] * len(digests)
    assert 0 < len(_decode._NOT_BLOBS) <= _decode._NOT_BLOBS_KEPT and digests[-1] in _decode._NOT_BLOBS
    assert w.blob_child(digests[-1]) is None  # asked again: the same answer
    doc = base64.b64encode(b'{"imei": "' + IMEI + b'"}')
    assert w.blob_child(doc) == (base64.b64decode(doc), "base64") and doc not in _decode._NOT_BLOBS
    assert w.blob_child(doc) == (base64.b64decode(doc), "base64")
    not_zlib = (b"\x78\x9c" + bytes(range(200, 240))).hex().encode()  # a zlib header on bytes that do not inflate
    assert w.blob_child(not_zlib) is None and not_zlib not in _decode._NOT_BLOBS
    long_digest = os.urandom(_decode._NOT_BLOB_LEN).hex().encode()  # longer than the bound: never kept
    assert w.blob_child(long_digest) is None and long_digest not in _decode._NOT_BLOBS
