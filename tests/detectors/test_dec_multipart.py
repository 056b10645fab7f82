"""multipart/form-data (``_dec_multipart.py``): parts decoded by their own type, at their names."""

from __future__ import annotations

import pytest

from consentscope.detectors import decode_request
from tests.detectors.helpers import found, gz, imei_json, rec


@pytest.mark.parametrize("boundary", ["XyZ", '"XyZ"'])
def test_multipart_parts_recursed_gzip_part_included(boundary: str) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="uid"\r\n\r\n861234567890127\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; filename="l.gz"; name="log"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + gz(imei_json()) + b"\r\n--XyZ--\r\n"
    )
    r = rec(body=body, headers=[("Content-Type", f"multipart/form-data; boundary={boundary}")])
    assert found(r) == [("body.multipart:uid", ()), ("body.multipart:log>json:$.imei", ("gzip", "json"))]


def test_multipart_without_a_boundary_is_named_and_read_as_it_is() -> None:
    d = decode_request(rec(body=b"--x\r\n\r\nimei 861234567890127\r\n--x--", headers=[("Content-Type", "multipart/form-data")]))
    assert d.anomalies == ("multipart-invalid",) and found(d) == [("body", ())]
