"""The live hook's request tuple (addons/wire.py): the detector rebuilds exactly the record
the shared door function makes of the same flow, and the event loop's device-page test
never misses the reserved host."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from consentscope.addons.device_page import RESERVED_HOST
from consentscope.addons.wire import is_plain, may_name, pack_request, request_record
from consentscope.readers.flowfile import flow_to_records


def make(host: str = "10.0.0.7", headers: tuple[tuple[bytes, bytes], ...] = ((b"Host", b"api.example.com"),),
         version: bytes = b"HTTP/1.1", authority: bytes = b"", method: bytes = b"POST", path: bytes = b"/v1/log?a=1",
         body: bytes = b'{"k": 1}', sni: str | None = "api.example.com",
         peer: tuple[str, int] | None = ("203.0.113.9", 443)) -> http.HTTPFlow:
    f = tflow.tflow()
    f.request = http.Request(host, 443, method, b"https", authority, path, version, http.Headers(headers), body,
                             None, 1_772_445_600.5, None)
    f.client_conn.sni = sni
    f.server_conn.peername = peer
    return f


FLOWS = {
    "host header": make(),
    "host header with port, upper case": make(headers=((b"HOST", b"API.Example.com:8443"),)),
    "no host header: the target host": make(headers=((b"X-A", b"1"),)),
    "no host, no target: the SNI": make(host="", headers=()),
    "nothing at all": make(host="", headers=(), sni=None, peer=None),
    "IPv6 in Host": make(headers=((b"Host", b"[2001:db8::1]:8080"),)),
    "two Host headers, folded": make(headers=((b"Host", b"a.example.com"), (b"host", b"b.example.com"))),
    "malformed Host kept whole": make(headers=((b"Host", b"not a host!"),)),
    "latin-1 and UTF-8 header bytes": make(headers=((b"Host", b"x.example.com"), (b"X-N", "Zhāng".encode()),
                                                    (b"X-L", b"\xe9\xff"))),
    "HTTP/2 :authority": make(version=b"HTTP/2.0", authority=b"h2.example.com", headers=((b"host", b"other.com"),)),
    "HTTP/2 without :authority: Host": make(version=b"HTTP/2.0", headers=((b"host", b"h2b.example.com"),)),
    "HTTP/3 IDN :authority": make(version=b"HTTP/3", authority=b"xn--fiqs8s.example.com", headers=()),
    "lower-case method, odd path bytes": make(method=b"put", path=b"/p/\xff\xfe?q=%41"),
    "empty body, no peer yet": make(body=b"", peer=None),
}


@pytest.mark.parametrize("name", FLOWS)
def test_the_detector_rebuilds_the_door_record(name: str) -> None:
    flow = FLOWS[name]
    assert is_plain(flow)
    body = flow.request.raw_content or b""
    [expected] = flow_to_records(flow)
    assert request_record(pack_request(flow, body, False)) == expected


def test_a_truncated_body_stays_marked() -> None:
    flow = make(body=b"x" * 5000)
    rec = request_record(pack_request(flow, b"x" * 1024, True))
    assert rec == flow_to_records(flow, body_override=b"x" * 1024, body_truncated=True)[0]


def test_what_the_tuple_does_not_carry_takes_the_door_function() -> None:
    connect = make(method=b"CONNECT", path=b"")
    answered = tflow.tflow(resp=True)
    ws = tflow.twebsocketflow()
    assert not any(is_plain(f) for f in (connect, answered, ws))


@pytest.mark.parametrize(("flow", "named"), [
    (make(host=RESERVED_HOST, headers=()), True),
    (make(headers=((b"Host", RESERVED_HOST.upper().encode() + b":80"),)), True),
    (make(version=b"HTTP/2.0", authority=RESERVED_HOST.encode(), headers=()), True),
    (make(), False),
    (make(headers=((b"X-Forwarded-Host", RESERVED_HOST.encode()),)), False),  # not a Host header
])
def test_the_device_page_test_on_the_loop(flow: http.HTTPFlow, named: bool) -> None:
    assert may_name(flow, RESERVED_HOST.encode()) is named
    assert (flow.request.pretty_host.lower() == RESERVED_HOST) is named
