"""Each decoder, with real encoders producing the input; each bound triggers its anomaly."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import zlib

import brotli
import pytest
import zstandard

from consentscope.detectors import Limits, RequestRecord, decode_request

SECRET = b"861234567890127"


def rec(path: str = "/", body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> RequestRecord:
    return RequestRecord("f1", 0.0, "POST", "https", "sdk.example.net", 443, path, headers, body)


def views(r: RequestRecord, limits: Limits | None = None) -> dict[str, tuple[bytes, tuple[str, ...]]]:
    d = decode_request(r, limits or Limits())
    return {v.location: (v.data, v.chain) for v in d.views}


def where(r: RequestRecord, needle: bytes = SECRET) -> list[tuple[str, tuple[str, ...]]]:
    """Location (resolved at each occurrence) and chain of every occurrence of the needle."""
    out = []
    for v in decode_request(r).views:
        at = v.data.find(needle)
        while at != -1:
            out.append((v.location_at(at), v.chain))
            at = v.data.find(needle, at + 1)
    return out


def test_url_path_query_headers_cookies() -> None:
    r = rec(
        "/v1/%E5%BC%A0/log?imei=861234567890127&e=a%40b.com&q=a+b",
        headers=(("X-Device", "861234567890127"), ("Cookie", "uid=861234567890127; lang=zh")),
    )
    v = views(r)
    assert v["url.path"][0] == "/v1/张/log".encode()
    assert v["url.query:imei"] == (SECRET, ())
    assert v["url.query:e"][0] == b"a@b.com" and v["url.query:q"][0] == b"a b"
    assert v["header:X-Device"] == (SECRET, ())
    assert v["cookie:uid"] == (SECRET, ())


@pytest.mark.parametrize("escaped", [False, True])
def test_json_paths_numbers_and_keys(escaped: bool) -> None:
    doc = {"header": {"imei": "861234567890127", "n": 861234567890127, "lat": 39.908712},
           "apps": {"com.tencent.mm": "8.0"}, "list": [{"weird key": "x-marker"}], "ok": True}
    if escaped:  # a backslash escape anywhere: the decoder walks the parsed document
        doc["url"] = "https:\\/\\/x"
    body = json.dumps(doc).encode()
    r = rec(body=body, headers=(("Content-Type", "application/json"),))
    assert where(r) == [("body.json:$.header.imei", ("json",)), ("body.json:$.header.n", ("json",))]
    assert where(r, b"39.908712") == [("body.json:$.header.lat", ("json",))]
    assert where(r, b"com.tencent.mm") == [("body.json:$.apps", ("json",))]
    assert where(r, b"x-marker") == [("body.json:$.list[0]['weird key']", ("json",))]
    assert not any(v.data in (b"True", b"true") for v in decode_request(r).views)


def test_form_and_multipart_with_gzip_part() -> None:
    v = views(rec(body=b"a=1&imei=861234567890127", headers=(("Content-Type", "application/x-www-form-urlencoded"),)))
    assert v["body.form:imei"] == (SECRET, ())
    part = gzip.compress(json.dumps({"imei": SECRET.decode()}).encode(), mtime=0)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"log\"; filename=\"l.gz\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + part + b"\r\n--XyZ--\r\n")
    got = where(rec(body=body, headers=(("Content-Type", "multipart/form-data; boundary=XyZ"),)))
    assert got == [("body.multipart:log>json:$.imei", ("gzip", "json"))]


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_field(number: int, payload: bytes) -> bytes:
    return _pb_varint(number << 3 | 2) + _pb_varint(len(payload)) + payload


def test_protobuf_nested_message_strings_and_varints() -> None:
    inner = _pb_field(3, SECRET) + _pb_varint(4 << 3 | 0) + _pb_varint(861234567890127)
    msg = _pb_varint(1 << 3 | 0) + _pb_varint(150) + _pb_field(2, inner)
    v = views(rec(body=msg, headers=(("Content-Type", "application/x-protobuf"),)))
    assert v["body.protobuf:2.3"] == (SECRET, ("protobuf",))
    assert v["body.protobuf:2.4"] == (SECRET, ("protobuf",))
    assert v["body.protobuf:1"][0] == b"150"
    # unlabelled binary that walks cleanly is read as protobuf too
    assert where(rec(body=msg))[0] == ("body.protobuf:2.3", ("protobuf",))


@pytest.mark.parametrize(("encode", "header", "chain"), [
    (lambda b: gzip.compress(b, mtime=0), "gzip", ()),
    (lambda b: gzip.compress(b, mtime=0), None, ("gzip",)),
    (zlib.compress, "deflate", ()),
    (zlib.compress, None, ("zlib",)),
    (lambda b: zlib.compress(b)[2:-4], "deflate", ()),
    (lambda b: zlib.compress(b)[2:-4], None, ("deflate",)),
    (brotli.compress, "br", ()),
    (lambda b: zstandard.ZstdCompressor().compress(b), "zstd", ()),
    (lambda b: zstandard.ZstdCompressor().compress(b), None, ("zstd",)),
])
def test_compression_declared_or_found(encode, header, chain) -> None:  # type: ignore[no-untyped-def]
    plain = b"device=" + SECRET + b" and some more text to compress " * 3
    headers = (("Content-Encoding", header),) if header else ()
    assert where(rec(body=encode(plain), headers=headers)) == [("body", chain)]


def test_lying_content_encoding_is_an_anomaly_not_a_loss() -> None:
    d = decode_request(rec(body=b"imei=861234567890127&x=1", headers=(("Content-Encoding", "gzip"),)))
    assert "content-encoding-mismatch:gzip" in d.anomalies
    assert any(v.data == SECRET for v in d.views)


def test_base64_hex_and_percent_blobs() -> None:
    doc = json.dumps({"imei": SECRET.decode()}).encode()
    odd = json.dumps({"imei": SECRET.decode(), "t": "~~~>>>???"}).encode()
    assert b"-" in base64.urlsafe_b64encode(odd) or b"_" in base64.urlsafe_b64encode(odd)
    for encoded, chain in [
        (base64.b64encode(gzip.compress(doc, mtime=0)), ("json", "base64", "gzip", "json")),
        (base64.urlsafe_b64encode(odd).rstrip(b"="), ("json", "base64url", "json")),
        (base64.b64encode(doc).rstrip(b"="), ("json", "base64", "json")),
    ]:
        assert where(rec(body=json.dumps({"d": encoded.decode()}).encode())) == [("body.json:$.d>json:$.imei", chain)]
    assert where(rec(body=base64.b64encode(gzip.compress(doc, mtime=0)))) == [
        ("body.json:$.imei", ("base64", "gzip", "json"))
    ]
    assert where(rec("/?d=" + doc.hex())) == [("url.query:d>json:$.imei", ("hex", "json"))]
    # an md5 hex is not decoded (it is a value, not a blob)
    md5 = b"0123456789abcdef0123456789abcdef"
    assert views(rec("/?h=" + md5.decode()))["url.query:h"] == (md5, ())
    assert where(rec(body=b"x%3D861234567890127%26y", headers=(("Content-Type", "text/plain"),))) == [
        ("body", ("urlencode",))
    ]


def test_limits_name_their_anomalies() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), mtime=0)
    d = decode_request(rec(body=bomb))
    assert "decompression-limit" in d.anomalies
    assert sum(len(v.data) for v in d.views if v.location == "body") <= Limits().max_decompressed_bytes
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "json-depth-exceeded" in decode_request(rec(body=deep)).anomalies
    nested = json.dumps({"a": 1}).encode()
    for _ in range(12):
        nested = base64.b64encode(nested)
    assert "decode-depth-exceeded" in decode_request(rec(body=nested)).anomalies
    many = json.dumps([str(i) for i in range(100)] + ["an escaped \\/ forces the full walk"]).encode()
    assert "views-limit" in decode_request(rec(body=many), Limits(max_views=10)).anomalies
    big = decode_request(rec(body=b"x" * 5000), Limits(max_body_scan_bytes=1000))
    assert big.body_scan_truncated and "body-scan-truncated" in big.anomalies
    cut = gzip.compress(b"imei=861234567890127&r=" + random.Random(1).randbytes(3000).hex().encode(), mtime=0)[:-20]
    d = decode_request(rec(body=cut))
    assert "gzip-incomplete" in d.anomalies and any(SECRET in v.data for v in d.views)


def test_media_bodies_are_scanned_up_to_their_metadata() -> None:
    exif = b"\xff\xd8\xff\xe1" + b"Exif\x00\x00serial=R58M41ABCDE;" + os.urandom(200_000) + SECRET
    d = decode_request(rec(body=exif, headers=(("Content-Type", "image/jpeg"),)))
    body = [v.data for v in d.views if v.location == "body"]
    assert "media-prefix-scanned" in d.anomalies
    assert b"R58M41ABCDE" in body[0] and SECRET not in body[0] and len(body[0]) <= Limits().max_media_scan_bytes


def test_never_raises_on_hostile_input() -> None:
    rng = random.Random(7)
    blobs = [os.urandom(n) for n in (0, 1, 2, 17, 300, 4096)] + [
        bytes(rng.getrandbits(8) for _ in range(200)) for _ in range(30)
    ]
    blobs += [b"\x1f\x8b" + os.urandom(50), b"\x28\xb5\x2f\xfd" + os.urandom(40), b"x\x9c" + os.urandom(30),
              b"{" * 5000, b"=" * 100, b"%" * 100, b"%zz" * 50, b"\x08\x96\x01" * 3000]
    for blob in blobs:
        for headers in [(), (("Content-Encoding", "gzip, br"),), (("Content-Type", "multipart/form-data; boundary=a"),),
                        (("Content-Type", "application/x-protobuf"),)]:
            d = decode_request(rec("/?a=" + blob.hex()[:50], blob, headers))
            assert isinstance(d.views, tuple)


def test_deterministic() -> None:
    body = base64.b64encode(gzip.compress(json.dumps({"a": [SECRET.decode(), {"b": "c"}]}).encode(), mtime=0))
    assert decode_request(rec("/?x=1", body)) == decode_request(rec("/?x=1", body))
