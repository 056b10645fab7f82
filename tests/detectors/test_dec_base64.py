"""Base64 (``_dec_base64.py``): both alphabets, padded or not, wrapped in lines, the blob
scanned as it is and decoded."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from consentscope.detectors import decode_request
from tests.detectors.helpers import FORM, IMEI, found, gz, rec, rows

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
