"""mitmproxy flow files (``-w`` dumps) as capture items, through the installed mitmproxy.

Reading goes through ``mitmproxy.io.FlowReader`` so every format version that mitmproxy
can migrate (0.11 onwards) loads; what it cannot read becomes one CaptureError naming the
file and the byte offset of the first flow it could not read, after every complete flow
before it has been yielded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import BinaryIO

from mitmproxy import exceptions, http
from mitmproxy.io import FlowReader

from consentscope.detectors import RequestRecord

from ._base import CaptureError, CaptureItem, Contact
from .httpdns import httpdns_contacts, is_httpdns_path


def flow_to_records(
    flow: http.HTTPFlow, *, body_override: bytes | None = None, body_truncated: bool = False,
    pretty_host: str | None = None,
) -> list[CaptureItem]:
    """An HTTP flow as the request record, the HTTPDNS answers its response carries, and one
    record per client WebSocket message.

    Shared by the live addon and the file reader, so both doors see the same request.
    ``pretty_host``: the caller's ``flow.request.pretty_host`` if it has it (parsing the Host
    header costs more than the rest of this function, and the live hook runs on every request).
    """
    req = flow.request
    sni = flow.client_conn.sni if flow.client_conn else None
    server_ip = None
    if flow.server_conn and flow.server_conn.peername:
        server_ip = str(flow.server_conn.peername[0])
    if pretty_host is None:
        pretty_host = req.pretty_host
    host = (pretty_host or req.host or sni or server_ip or "unknown").lower()
    headers = tuple(
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers.fields
    )
    if body_override is not None:
        body = body_override
    else:
        body = req.raw_content if req.raw_content is not None else b""
    path = req.path if req.method.upper() != "CONNECT" else ""
    items: list[CaptureItem] = []
    if req.method.upper() == "CONNECT":
        items.append(Contact(req.timestamp_start, host, server_ip, req.port, "http-connect", None, flow.id))
        return items
    items.append(
        RequestRecord(
            flow_id=flow.id,
            time=req.timestamp_start,
            method=req.method,
            scheme=req.scheme,
            host=host,
            port=req.port,
            path=path,
            headers=headers,
            body=body,
            sni=sni,
            server_ip=server_ip,
            http_version=req.http_version,
            body_truncated=body_truncated,
        )
    )
    resp = flow.response
    if resp is not None and resp.raw_content is not None and is_httpdns_path(path):
        with contextlib.suppress(ValueError):  # a body in an unknown Content-Encoding is no answer
            items.extend(httpdns_contacts(path, resp.content, resp.timestamp_end or req.timestamp_start, flow.id))
    if flow.websocket is not None:
        for i, msg in enumerate(flow.websocket.messages):
            if msg.from_client:
                items.append(websocket_record(flow, i, host=host, sni=sni, server_ip=server_ip))
    return items


def websocket_record(
    flow: http.HTTPFlow, index: int, *, host: str | None = None, sni: str | None = None,
    server_ip: str | None = None, max_body: int | None = None,
) -> RequestRecord:
    """Client WebSocket message ``index`` of ``flow`` as a record: the one function the file
    reader and the live addon's ``websocket_message`` hook both use, so a message to a bare
    IP is named alike in both (``sni``/``server_ip`` come from the flow's connections when
    the caller does not pass them)."""
    req = flow.request
    assert flow.websocket is not None
    msg = flow.websocket.messages[index]
    if sni is None and flow.client_conn:
        sni = flow.client_conn.sni
    if server_ip is None and flow.server_conn and flow.server_conn.peername:
        server_ip = str(flow.server_conn.peername[0])
    if host is None:
        host = (req.pretty_host or req.host or sni or server_ip or "unknown").lower()
    body = ws_bytes(msg.content)
    return RequestRecord(
        flow_id=f"{flow.id}:ws{index}",
        time=msg.timestamp,
        method="WS",
        scheme="wss" if req.scheme == "https" else "ws",
        host=host,
        port=req.port,
        path=req.path,
        body=body if max_body is None else body[:max_body],
        sni=sni,
        server_ip=server_ip,
        kind="websocket",
    )


def ws_bytes(content: bytes | str) -> bytes:
    """WebSocket payload as bytes (flows migrated from old versions may hold text)."""
    return content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogateescape")


class _Offsets:
    """Byte position of the reader between flows, for error messages."""

    def __init__(self, fo: BinaryIO) -> None:
        self.fo = fo
        self.last_good = 0

    def mark(self) -> None:
        self.last_good = self.fo.tell()


def iter_flowfile(path: str, fo: BinaryIO | None = None) -> Iterator[CaptureItem]:
    own = fo is None
    if fo is None:
        try:
            fo = open(path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as e:
            raise CaptureError(path, f"cannot open: {e.strerror or e}") from None
    offsets = _Offsets(fo)
    index = 0
    try:
        stream = iter(FlowReader(fo).stream())
        while True:
            try:
                flow = next(stream)
            except StopIteration:
                return
            except exceptions.FlowReadException as e:
                raise CaptureError(
                    path, f"flow #{index + 1} cannot be read ({e}); {index} complete flows before it were read",
                    offsets.last_good,
                ) from None
            except Exception as e:  # hostile input: a migration step may fail in any way
                raise CaptureError(
                    path, f"flow #{index + 1} is malformed ({type(e).__name__}: {e}); "
                    f"{index} complete flows before it were read",
                    offsets.last_good,
                ) from None
            offsets.mark()
            index += 1
            if isinstance(flow, http.HTTPFlow):
                yield from flow_to_records(flow)
    finally:
        if own:
            fo.close()
