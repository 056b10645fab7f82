"""mitmproxy flow files (``-w`` dumps) as capture items, through the installed mitmproxy.

Reading goes through ``mitmproxy.io.FlowReader`` so every format version that mitmproxy
can migrate (0.11 onwards) loads; what it cannot read becomes one CaptureError naming the
file and the byte offset of the first flow it could not read, after every complete flow
before it has been yielded. Each flow's size is read from its length prefix before mitmproxy
sees it, and a flow over ``MAX_FLOW_BYTES`` is skipped unread, so a small compressed file
cannot make the reader hold gigabytes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import BinaryIO, Final

from mitmproxy import exceptions, http
from mitmproxy.io import FlowReader

from consentscope.detectors import RequestRecord

from ._base import CaptureError, CaptureItem, Contact
from .httpdns import httpdns_response_contacts

log = logging.getLogger("consentscope")


def flow_to_records(
    flow: http.HTTPFlow, *, body_override: bytes | None = None, body_truncated: bool = False,
    pretty_host: str | None = None, anomalies: dict[str, int] | None = None,
) -> list[CaptureItem]:
    """An HTTP flow as the request record, the HTTPDNS answers its response carries, and one
    record per client WebSocket message.

    Shared by the live addon and the file reader, so both doors see the same request.
    ``pretty_host``: the caller's ``flow.request.pretty_host`` if it has it (parsing the Host
    header costs more than the rest of this function, and the live hook runs on every request).
    ``anomalies``: counts an HTTPDNS response refused (too large or undecodable) when given.
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
    if resp is not None and resp.raw_content:  # decoded bounded: never ``resp.content``
        items.extend(httpdns_response_contacts(
            path, resp.raw_content, resp.headers.get("content-encoding"),
            resp.timestamp_end or req.timestamp_start, flow.id, anomalies,
        ))
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


#: Largest flow (one top-level tnetstring record, as its length prefix says) handed to
#: mitmproxy: ``FlowReader`` loads a record whole and then copies it while parsing, so a
#: 1 MB ``.mitm.gz`` holding one 1 GiB body cost over 1 GB. Real flows with bodies the
#: detectors scan (``MAX_BODY_SCAN_BYTES``, 8 MiB) are far below this; a larger flow is an
#: upload of media or an attack, and is skipped (read past in chunks, never held) and named
#: ``FLOW_TOO_LARGE`` in ``anomalies``.
MAX_FLOW_BYTES: Final = 64 * 1024 * 1024

#: Anomaly: a flow over ``MAX_FLOW_BYTES`` was skipped.
FLOW_TOO_LARGE: Final = "flow-too-large"

#: Bytes read at a time while skipping a flow that is too large.
_SKIP_CHUNK = 1024 * 1024

#: Digits of a length prefix, as mitmproxy's ``tnetstring.load`` allows (12: under 1 TB).
_MAX_PREFIX_DIGITS = 12


class _Truncated(Exception):
    """The file ends inside a record."""


def _read_exact(fo: BinaryIO, n: int, head: bytes = b"") -> bytes:
    """``head`` and the next ``n`` bytes, joined once (a flow may be tens of MB)."""
    parts: list[bytes] = [head]
    got = 0
    while got < n:
        part = fo.read(n - got)
        if not part:
            raise _Truncated
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _skip(fo: BinaryIO, n: int) -> None:
    """Read past ``n`` bytes in ``_SKIP_CHUNK`` pieces (a compressed stream cannot seek)."""
    while n > 0:
        part = fo.read(min(n, _SKIP_CHUNK))
        if not part:
            raise _Truncated
        n -= len(part)


def _length_prefix(fo: BinaryIO) -> tuple[bytes, int] | None:
    """The ``<digits>:`` that starts a tnetstring, read byte by byte as ``tnetstring.load``
    does, with its value; None at the end of the file. ValueError when it is no prefix."""
    c = fo.read(1)
    if not c:
        return None
    digits = b""
    while c.isdigit():
        digits += c
        if len(digits) > _MAX_PREFIX_DIGITS:
            raise ValueError("not a tnetstring: absurdly large length prefix")
        c = fo.read(1)
    if c != b":" or not digits:
        if not c:
            raise _Truncated
        raise ValueError("not a tnetstring: missing or invalid length prefix")
    return digits + b":", int(digits)


def iter_flowfile(
    path: str, fo: BinaryIO | None = None, anomalies: dict[str, int] | None = None,
    max_flow_bytes: int = MAX_FLOW_BYTES,
) -> Iterator[CaptureItem]:
    """Items of a flow file, flow by flow. Each top-level record's length prefix is read
    here first: a flow over ``max_flow_bytes`` is skipped (``FLOW_TOO_LARGE`` counted in
    ``anomalies`` when given, else logged) and reading goes on with the next; any other is
    handed whole to mitmproxy's ``FlowReader``. Damage ends the file with one CaptureError
    at the offset of the first flow not read, after every complete flow before it."""
    own = fo is None
    if fo is None:
        try:
            fo = open(path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as e:
            raise CaptureError(path, f"cannot open: {e.strerror or e}") from None
    index = 0  # flows read (skipped ones included), for messages
    try:
        start = fo.tell()
    except (OSError, AttributeError):
        start = 0
    offset = start

    def error(what: str) -> CaptureError:
        return CaptureError(path, f"flow #{index + 1} {what}; {index} complete flows before it were read", offset)

    try:
        while True:
            try:
                prefix = _length_prefix(fo)
                if prefix is None:
                    return
                head, length = prefix
                if length > max_flow_bytes:
                    _skip(fo, length + 1)  # the payload and its type byte
                    offset += len(head) + length + 1
                    index += 1
                    if anomalies is not None:
                        anomalies[FLOW_TOO_LARGE] = anomalies.get(FLOW_TOO_LARGE, 0) + 1
                    else:
                        log.warning("consentscope: %s: %s: flow #%d (%d bytes) skipped",
                                    FLOW_TOO_LARGE, path, index, length)
                    continue
                record = _read_exact(fo, length + 1, head)
            except _Truncated:
                raise error("is cut short (the file ends inside it)") from None
            except ValueError as e:
                raise error(f"cannot be read ({e})") from None
            except CaptureError as e:  # the decompressor met damage inside this flow
                raise error(f"cannot be read ({e.message}, at decompressed byte {e.offset})") from None
            try:
                flows = list(FlowReader(io.BytesIO(record)).stream())
            except exceptions.FlowReadException as e:
                raise error(f"cannot be read ({e})") from None
            except Exception as e:  # hostile input: a migration step may fail in any way
                raise error(f"is malformed ({type(e).__name__}: {e})") from None
            offset += len(record)
            index += 1
            del record
            for flow in flows:
                if isinstance(flow, http.HTTPFlow):
                    yield from flow_to_records(flow, anomalies=anomalies)
    finally:
        if own:
            fo.close()
