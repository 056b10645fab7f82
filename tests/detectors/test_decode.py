"""decode_request against its contract: each decoder fed by the real encoder, each location
and chain rule, each limit's named anomaly, and hostile input that must never raise.

Inputs come from the libraries apps use (gzip, zlib, brotli, zstandard, base64, json) and
from protobuf wire bytes written by hand, so no expectation leans on the decoder's code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
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

from consentscope.detectors import DecodedRequest, Limits, RequestRecord, decode_request

IMEI = b"861234567890127"
#: every name a chain may hold
STEPS = {"gzip", "zlib", "deflate", "zstd", "base64", "base64url", "hex", "urlencode", "json", "protobuf"}
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def rec(
    path: str = "/", body: bytes = b"", headers: list[tuple[str, str]] | None = None, *, truncated: bool = False
) -> RequestRecord:
    return RequestRecord(
        "f1", 0.0, "POST", "https", "sdk.example.net", 443, path, tuple(headers or ()), body, body_truncated=truncated
    )


def rows(d: DecodedRequest) -> list[tuple[str, tuple[str, ...], bytes]]:
    return [(v.location, v.chain, v.data) for v in d.views]


def found(r: RequestRecord | DecodedRequest, needle: bytes = IMEI) -> list[tuple[str, tuple[str, ...]]]:
    """(location, chain) of every occurrence of ``needle``, located exactly: a whole-JSON
    view resolves each offset to its JSONPath, as the scanner does on a hit."""
    d = decode_request(r) if isinstance(r, RequestRecord) else r
    out = []
    for v in d.views:
        at = v.data.find(needle)
        while at != -1:
            out.append((v.location_at(at), v.chain))
            at = v.data.find(needle, at + 1)
    return out


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def imei_json(**extra: object) -> bytes:
    return json.dumps({"imei": IMEI.decode(), **extra}).encode()


# -- protobuf wire format, by hand -----------------------------------------------------


def pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_len(number: int, payload: bytes) -> bytes:
    return pb_varint(number << 3 | 2) + pb_varint(len(payload)) + payload


def pb_int(number: int, value: int) -> bytes:
    return pb_varint(number << 3) + pb_varint(value)


# -- bombs --------------------------------------------------------------------------------


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


# -- URL, headers, cookies -----------------------------------------------------------------


def test_url_path_and_query_values_are_percent_decoded() -> None:
    d = decode_request(rec("/v1/%E5%BC%A0/%zz/log?imei=861234567890127&e=a%40b.com&q=a+b&bad=%zz%E5&empty=&k%20x=1"))
    assert rows(d) == [
        ("url.path", (), "/v1/张/%zz/log".encode()),
        ("url.query:imei", (), IMEI),
        ("url.query:e", (), b"a@b.com"),
        ("url.query:q", (), b"a b"),
        ("url.query:bad", (), b"%zz\xe5"),
        ("url.query:k x", (), b"1"),
    ]
    assert d.anomalies == ()


def test_query_bare_token_padded_base64_and_unescaped_plus() -> None:
    assert found(rec("/t?861234567890127")) == [("url.query", ())]
    padded = base64.b64encode(imei_json(t="~~~>"))
    assert b"+" in padded and padded.endswith(b"==")
    # "=" padding must not turn the blob into a parameter name
    assert found(rec("/t?" + padded.decode())) == [("url.query.json:$.imei", ("base64", "json"))]
    # '+' left unescaped in a query reads as a space; the blob is still decoded as sent
    got = decode_request(rec("/t?d=" + padded.decode()))
    assert ("url.query:d", (), padded.replace(b"+", b" ")) in rows(got)
    assert found(got) == [("url.query:d>json:$.imei", ("base64", "json"))]


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


# -- JSON ------------------------------------------------------------------------------------

JSON_BODY = (
    b'{"header":{"imei":"861234567890127","n":861234567890127,"lat":39.908712,"v":1.50},'
    b'"apps":{"com.tencent.mm":"8.0.40","com.eg.android.AlipayGphone":"10.5"},'
    b'"list":[{"weird key":"x-marker"},"ok"],"f":[true,false,null]'
)


@pytest.mark.parametrize("tail", [b"}", b',"esc":"say \\"hi\\""}'], ids=["whole", "walked"])
def test_json_paths_numbers_as_sent_and_keys(tail: bytes) -> None:
    d = decode_request(rec(body=JSON_BODY + tail, headers=[("Content-Type", "application/json")]))
    assert found(d) == [("body.json:$.header.imei", ("json",)), ("body.json:$.header.n", ("json",))]
    assert found(d, b"39.908712") == [("body.json:$.header.lat", ("json",))]
    assert found(d, b"1.50") == [("body.json:$.header.v", ("json",))]
    assert found(d, b"com.eg.android.AlipayGphone") == [("body.json:$.apps", ("json",))]
    assert found(d, b"x-marker") == [("body.json:$.list[0]['weird key']", ("json",))]
    assert d.anomalies == ()


def test_walked_json_views_one_per_leaf_and_keys_no_literals() -> None:
    d = decode_request(rec(body=JSON_BODY + b',"esc":"say \\"hi\\""}'))
    body = [(loc, data) for loc, chain, data in rows(d) if loc.startswith("body")]
    assert ("body.json:$.apps", b"com.tencent.mm\ncom.eg.android.AlipayGphone") in body
    assert ("body.json:$.esc", b'say "hi"') in body
    assert ("body.json:$.header.v", b"1.50") in body
    assert not any(data in (b"true", b"True", b"false", b"False", b"null", b"None") for _, data in body)


def test_json_without_escapes_is_one_view_located_on_a_hit() -> None:
    # org.json escapes every "/" and Gson "=", "<"...: neither hides a value, so the text stays whole
    for body in (b'{"url":"https:\\/\\/a.cn\\/x","imei":"861234567890127"}',
                 b'{"t":"a\\u003cb\\u003d","imei":"861234567890127"}'):  # fmt: skip
        d = decode_request(rec(body=body))
        (view,) = [v for v in d.views if v.location.startswith("body")]
        assert view.location == "body.json:$" and view.resolve is not None and b"\\" not in view.data
        assert found(d) == [("body.json:$.imei", ("json",))]


def test_json_string_after_a_long_number_is_still_decoded() -> None:
    blob = base64.b64encode(imei_json()).decode()
    body = json.dumps(["a", 12345678901234567890, blob], separators=(",", ":")).encode()
    assert found(rec(body=body)) == [("body.json:$[2]>json:$.imei", ("json", "base64", "json"))]


def test_json_lines_one_document_per_line() -> None:
    blob = base64.b64encode(imei_json()).decode()
    lines = [json.dumps({"e": "open", "imei": IMEI.decode()}), "", json.dumps({"e": "tick", "d": blob})]
    body = "\n".join(lines).encode() + b"\n"
    d = decode_request(rec(body=body))
    assert found(d) == [
        ("body.jsonl:1>json:$.imei", ("json",)),
        ("body.jsonl:3>json:$.d>json:$.imei", ("json", "base64", "json")),
    ]
    assert d.anomalies == ()
    d = decode_request(rec(body=body + b'{"e":"cut","imei":"861234567890127"', truncated=True))
    assert found(d)[-1] == ("body.jsonl:4", ()) and d.anomalies == ("body-incomplete", "json-invalid")


def test_invalid_and_deep_json_are_named_and_still_scanned() -> None:
    d = decode_request(rec(body=b'{"imei":"861234567890127",}', headers=[("Content-Type", "application/json")]))
    assert d.anomalies == ("json-invalid",) and found(d) == [("body", ())]
    d = decode_request(rec(body=b"[" * 100_000 + IMEI + b"]" * 100_000))
    assert "json-depth-exceeded" in d.anomalies and found(d) == [("body", ())]


# -- where and how: location and chain composition ---------------------------------------------------


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


# -- form and multipart ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [[FORM], []], ids=["content-type", "sniffed"])
def test_form_values_decoded_without_a_chain_step(headers: list[tuple[str, str]]) -> None:
    d = decode_request(rec(body=b"a=1&imei=861234567890127&name=Zhang+San&e=a%40b.com", headers=headers))
    assert [row for row in rows(d) if row[0].startswith("body")] == [
        ("body.form:a", (), b"1"),
        ("body.form:imei", (), IMEI),
        ("body.form:name", (), b"Zhang San"),
        ("body.form:e", (), b"a@b.com"),
    ]


def test_form_bare_token_is_kept() -> None:
    assert found(rec(body=b"a=1&861234567890127&b=2", headers=[FORM])) == [("body.form", ())]


def test_form_content_type_on_text_that_is_no_form() -> None:
    assert found(rec(body=b"device 861234567890127 ready", headers=[FORM])) == [("body", ())]


@pytest.mark.parametrize("boundary", ["XyZ", '"XyZ"'])
def test_multipart_parts_recursed_gzip_part_included(boundary: str) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="uid"\r\n\r\n861234567890127\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; filename="l.gz"; name="log"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + gz(imei_json()) + b"\r\n--XyZ--\r\n"
    )
    r = rec(body=body, headers=[("Content-Type", f"multipart/form-data; boundary={boundary}")])
    assert found(r) == [("body.multipart:uid", ()), ("body.multipart:log>json:$.imei", ("gzip", "json"))]


# -- protobuf ---------------------------------------------------------------------------------------

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


# -- compressed bodies ---------------------------------------------------------------------------


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


# -- blobs: base64, hex, percent-encoding ---------------------------------------------------------

GZ_DOC = gz(json.dumps({"header": {"imei": IMEI.decode(), "os": "androida"}}).encode())
B64_STD = base64.b64encode(GZ_DOC)
B64_URL = base64.urlsafe_b64encode(GZ_DOC)


@pytest.mark.parametrize(
    ("blob", "step"),
    [
        (B64_STD, "base64"),
        (B64_URL, "base64url"),
        (B64_STD.rstrip(b"="), "base64"),
        (B64_URL.rstrip(b"="), "base64url"),
    ],
    ids=["std", "urlsafe", "std-unpadded", "urlsafe-unpadded"],
)
def test_base64_of_gzip_of_json(blob: bytes, step: str) -> None:
    assert B64_STD.endswith(b"=") and B64_STD != B64_URL  # the variants differ as named
    d = decode_request(rec(body=blob))
    assert found(d) == [("body.json:$.header.imei", (step, "gzip", "json"))]
    assert ("body", (), blob) in rows(d)  # the blob itself is scanned too
    d = decode_request(rec(body=json.dumps({"d": blob.decode()}).encode()))
    assert found(d) == [("body.json:$.d>json:$.header.imei", ("json", step, "gzip", "json"))]
    assert ("body.json:$.d", ("json",), blob) in rows(d)


def test_base64_wrapped_in_lines_as_android_sends_it() -> None:
    doc = {"header": {"imei": IMEI.decode()}, "apps": [f"com.example.app{i}" for i in range(30)]}
    wrapped = base64.encodebytes(gz(json.dumps(doc).encode()))  # Base64.DEFAULT: a newline every 76 characters
    assert wrapped.count(b"\n") > 1
    r = rec(body=b"v=1&d=" + quote(wrapped).encode(), headers=[FORM])
    assert found(r) == [("body.form:d>json:$.header.imei", ("base64", "gzip", "json"))]


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


def test_percent_encoded_text_is_decoded_once_more() -> None:
    body = json.dumps({"ref": "https%3A%2F%2Fa.cn%2F%3Fimei%3D861234567890127"}).encode()
    assert found(rec(body=body)) == [("body.json:$.ref", ("json", "urlencode"))]
    assert found(rec("/?u=imei%253D861234567890127")) == [("url.query:u", ("urlencode",))]
    assert found(rec(body=b"x%3D861234567890127%26y", headers=[("Content-Type", "text/plain")])) == [
        ("body", ("urlencode",))
    ]


# -- limits ------------------------------------------------------------------------------------------


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


def test_decompression_stops_at_the_cap_exactly() -> None:
    d = decode_request(rec(body=gz(b"a" * 200_000)), Limits(max_compression_ratio=2))
    (body,) = [v.data for v in d.views if v.location == "body"]
    assert body == b"a" * (64 * 1024)  # the floor every stream may reach, whatever its ratio
    d = decode_request(rec(body=gz(b"a" * 200_000)), Limits(max_decompressed_bytes=1000))
    assert [v.data for v in d.views if v.location == "body"] == [b"a" * 1000]


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


# -- a body cut short ----------------------------------------------------------------------------------


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


# -- determinism ----------------------------------------------------------------------------------------

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


# -- hostile input ----------------------------------------------------------------------------------------


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
