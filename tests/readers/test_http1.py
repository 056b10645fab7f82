"""HTTP/1 requests of one stream: input -> outcome table, lenient where servers are."""

from __future__ import annotations

import pytest

from consentscope.readers._http1 import connect_port, host_only, requests


@pytest.mark.parametrize(("stream", "expected"), [
    (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", [(b"GET", b"/a", b"", True)]),
    (b"GET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\n\n", [(b"GET", b"/a", b"", True), (b"GET", b"/b", b"", True)]),
    (b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
     [(b"POST", b"/p", b"abc", True), (b"GET", b"/", b"", True)]),
    (b"POST /p HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc", [(b"POST", b"/p", b"abc", False)]),
    (b"POST /p HTTP/1.1\r\nContent-Length: -4\r\n\r\n", [(b"POST", b"/p", b"", True)]),
    (b"POST /p HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nab", [(b"POST", b"/p", b"", True)]),
    (b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
     [(b"POST", b"/c", b"abcde", True)]),
    (b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n-3\r\nxyz\r\n", [(b"POST", b"/c", b"abc", False)]),
    (b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", [(b"POST", b"/c", b"", False)]),
    (b"OPTIONS\n", [(b"OPTIONS", b"/", b"", True)]),  # HTTP/0.9-style request line alone
    (b"\x16\x03\x01\x00", []),  # not HTTP
])
def test_requests(stream: bytes, expected: list) -> None:
    assert [(r.method, r.target, r.body, r.complete) for r in requests(stream)] == expected


@pytest.mark.parametrize(("value", "host"), [
    ("Example.NET:8080", "example.net"), ("[2001:db8::1]:443", "2001:db8::1"), ("2001:db8::1", "2001:db8::1"),
    (" a.example.net ", "a.example.net"), ("[broken", "broken"),
])
def test_host_only(value: str, host: str) -> None:
    assert host_only(value) == host


@pytest.mark.parametrize(("port", "expected"), [("443", 443), ("65536", 80), ("²", 80), ("٨٠", 80), ("", 80), ("-1", 80)])
def test_connect_port(port: str, expected: int) -> None:
    assert connect_port(port, 80) == expected
