"""Reading HTTPDNS answers so later IP-only connections get a name."""

from __future__ import annotations

import json

import pytest

from consentscope.tracker_db import names_from_httpdns
from consentscope.tracker_db._httpdns import MAX_HTTPDNS_BODY


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/d?dn=api.example.com&id=1", "1.2.3.4;5.6.7.8,600",
         [("api.example.com", "1.2.3.4"), ("api.example.com", "5.6.7.8")]),
        ("/d?dn=a.example.com,b.example.com",
         "a.example.com.:1.1.1.1,60\nb.example.com.:2.2.2.2,60",
         [("a.example.com", "1.1.1.1"), ("b.example.com", "2.2.2.2")]),
        ("/d?dn=x.example.com", b"0,0", []),
        ("/d?dn=4e1d2f&id=1&alg=aes", "deadbeef", []),  # encrypted query: nothing readable
        ("/139450/d?host=www.aliyun.com",
         json.dumps({"host": "www.aliyun.com", "ips": ["1.2.3.4"], "ipsv6": ["2001:db8::1"],
                     "ttl": 60}),
         [("www.aliyun.com", "1.2.3.4"), ("www.aliyun.com", "2001:db8::1")]),
        ("/139450/resolve?host=a.com,b.com",
         json.dumps({"dns": [{"host": "a.com", "ips": ["9.9.9.9"]},
                             {"host": "b.com", "ips": ["bad-ip", "8.8.4.4"]}]}),
         [("a.com", "9.9.9.9"), ("b.com", "8.8.4.4")]),
        ("/139450/d?host=www.aliyun.com", "not json", []),
        ("/api/v1/users?host=x", "{}", []),
    ],
)
def test_names(path: str, body: str | bytes, expected: list[tuple[str, str]]) -> None:
    assert names_from_httpdns(path, body) == expected


def test_oversized_body_is_ignored() -> None:
    assert names_from_httpdns("/d?dn=a.com", "1.2.3.4" + " " * MAX_HTTPDNS_BODY) == []
