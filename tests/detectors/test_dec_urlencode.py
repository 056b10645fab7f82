"""Percent-encoded text (``_dec_urlencode.py``), decoded once more wherever it sits."""

from __future__ import annotations

import json

from tests.detectors.helpers import found, rec


def test_percent_encoded_text_is_decoded_once_more() -> None:
    body = json.dumps({"ref": "https%3A%2F%2Fa.cn%2F%3Fimei%3D861234567890127"}).encode()
    assert found(rec(body=body)) == [("body.json:$.ref", ("json", "urlencode"))]
    assert found(rec("/?u=imei%253D861234567890127")) == [("url.query:u", ("urlencode",))]
    assert found(rec(body=b"x%3D861234567890127%26y", headers=[("Content-Type", "text/plain")])) == [
        ("body", ("urlencode",))
    ]
