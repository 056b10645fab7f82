"""A live request on its way from mitmproxy's event loop to the detector: one plain tuple.

The ``request`` hook runs on the event loop for every request, so it only reads what
mitmproxy already holds — the raw bytes of method, scheme, authority, path, HTTP version and
header fields, the body, two names of the connection — into a tuple (``pack_request``),
which pickles in C with one copy of the body. Everything that costs (decoding, the host
name from ``Host``/``:authority``, the header tuple of ``RequestRecord``) happens in the
detector (``request_record``). Measured on this project's bench mix: 1.3 µs to pack and
3.7 µs to pickle per request, against 29 µs for ``pretty_host``, 28 µs for
``flow_to_records`` and 30 µs to pickle its dataclasses.

``request_record(pack_request(flow, ...))`` is exactly what the shared door function
``readers.flowfile.flow_to_records`` makes of the same flow (``tests/addons/test_wire.py``
checks the two side by side); flows that are more than a plain request (CONNECT, a response
already set, WebSocket) take ``flow_to_records`` itself (``is_plain``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consentscope.detectors import RequestRecord
from consentscope.readers.flowfile import raw_request_record

if TYPE_CHECKING:
    from mitmproxy import http

#: flow id, request time, method, scheme, host, port, authority, path, HTTP version, header
#: fields, body, body truncated, SNI, server IP — as mitmproxy holds them
WireRequest = tuple[
    str, float, bytes, bytes, str, int, bytes, bytes, bytes, tuple[tuple[bytes, bytes], ...], bytes, bool,
    "str | None", "str | None",
]

def is_plain(flow: http.HTTPFlow) -> bool:
    """A request ``pack_request`` carries whole: no CONNECT, no response yet, no WebSocket."""
    return flow.response is None and flow.websocket is None and flow.request.data.method.upper() != b"CONNECT"


def pack_request(flow: http.HTTPFlow, body: bytes, truncated: bool) -> WireRequest:
    """The request as it is, read on the event loop (attribute reads only)."""
    d = flow.request.data
    sni = flow.client_conn.sni if flow.client_conn else None
    server = flow.server_conn
    server_ip = str(server.peername[0]) if server and server.peername else None
    return (flow.id, d.timestamp_start, d.method, d.scheme, d.host, d.port, d.authority, d.path, d.http_version,
            d.headers.fields, body, truncated, sni, server_ip)


def request_record(w: WireRequest) -> RequestRecord:
    """The detector's side: the same record ``flow_to_records`` makes of that flow."""
    return raw_request_record(*w)


def may_name(flow: http.HTTPFlow, lower_host: bytes) -> bool:
    """Cheap test on the event loop: can ``pretty_host`` be ``lower_host``? False means
    surely not (the name is in neither the target, ``:authority`` nor ``Host``)."""
    d = flow.request.data
    if lower_host in d.host.lower().encode("utf-8", "surrogateescape") or lower_host in d.authority.lower():
        return True
    return any(lower_host in v.lower() for k, v in d.headers.fields if k.lower() == b"host")
