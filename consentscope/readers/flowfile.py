"""mitmproxy flow files (``-w`` dumps) as capture items.

Two paths, chosen per flow. The flow format versions mitmproxy 10 to 12 write
(``FAST_VERSIONS``) are read straight from their tnetstring into records (``fast_records``):
only the fields a record is made of are parsed and checked as mitmproxy checks them, no
``Flow`` object is built, and a 22 MB capture of SDK traffic reads in about a sixth of the
time ``FlowReader`` takes. Any other version, and any flow the fast path finds odd in any
way, goes through the installed mitmproxy's ``io.FlowReader``, so every format version
mitmproxy can migrate (0.11 onwards) loads and mitmproxy has the last word on a damaged flow.
Both paths give the same items (tests/readers/test_flowfast.py). What neither can read
becomes one CaptureError naming the file and the byte offset of the first flow it could
not read, after every complete flow before it has been yielded. Each flow's size is read
from its length prefix first, and a flow over ``MAX_FLOW_BYTES`` is skipped unread, so a
small compressed file cannot make the reader hold gigabytes.

Reading is two steps: ``iter_frames`` cuts the file into flows by their length prefixes
(in file order: about 30 ms for 21 MB), ``frame_items`` reads one flow into items (needs
nothing but its bytes). ``iter_flowfile`` chains them; ``replay --jobs N`` frames the file
in its own process and has the scan workers read the flows the fast path takes
(``session._read_and_scan``).
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Final, NamedTuple

from mitmproxy.net.http.url import parse_authority

from consentscope.detectors import RequestRecord

from . import _tnetstring as tn
from ._base import CaptureError, CaptureItem, Contact
from .httpdns import httpdns_response_contacts, is_httpdns_path

if TYPE_CHECKING:
    from mitmproxy import http

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


class Frame(NamedTuple):
    """One top-level record of a flow file, framed by its length prefix, not parsed."""

    #: flows before it in the file (skipped ones included): it is flow #seq + 1
    seq: int
    #: byte offset of its length prefix (in the decompressed stream)
    offset: int
    #: length of the prefix: the payload starts at ``data[head:]``
    head: int
    #: the whole record (prefix, payload, type byte); None: over the size limit, skipped unread
    data: bytes | None
    #: its payload's length, as the prefix says
    length: int


def _frame_error(path: str, index: int, offset: int, what: str) -> CaptureError:
    return CaptureError(path, f"flow #{index + 1} {what}; {index} complete flows before it were read", offset)


def iter_frames(path: str, fo: BinaryIO, max_flow_bytes: int = MAX_FLOW_BYTES) -> Iterator[Frame]:
    """The file's top-level records, each read whole by its length prefix and not parsed
    (a flow over ``max_flow_bytes`` is read past in chunks and comes with no data): the
    part of reading a flow file that must be done in file order, about 30 ms for 21 MB.
    A file that ends inside a record, or a record with no length prefix, ends the frames
    with one CaptureError naming the flow and its offset."""
    index = 0
    try:
        offset = fo.tell()
    except (OSError, AttributeError):
        offset = 0
    while True:
        try:
            prefix = _length_prefix(fo)
            if prefix is None:
                return
            head, length = prefix
            if length > max_flow_bytes:
                _skip(fo, length + 1)  # the payload and its type byte
                frame = [Frame(index, offset, len(head), None, length)]
            else:
                frame = [Frame(index, offset, len(head), _read_exact(fo, length + 1, head), length)]
        except _Truncated:
            raise _frame_error(path, index, offset, "is cut short (the file ends inside it)") from None
        except ValueError as e:
            raise _frame_error(path, index, offset, f"cannot be read ({e})") from None
        except CaptureError as e:  # the decompressor met damage inside this flow
            raise _frame_error(path, index, offset,
                               f"cannot be read ({e.message}, at decompressed byte {e.offset})") from None
        offset += len(head) + length + 1
        index += 1
        yield frame.pop()  # not kept here while the caller reads it (a flow may be 64 MB)


def frame_items(path: str, frame: Frame, anomalies: dict[str, int] | None = None,
                fast: bool = True) -> list[CaptureItem]:
    """The items of one framed flow: ``fast_records``, or mitmproxy's ``FlowReader`` when
    that declines it (always, with ``fast=False``); a skipped flow has none (``FLOW_TOO_LARGE``
    counted in ``anomalies`` when given, else logged). CaptureError when neither can read it.
    Needs nothing but the frame: a scan worker reads its flows with it (``session``)."""
    record = frame.data
    if record is None:
        if anomalies is not None:
            anomalies[FLOW_TOO_LARGE] = anomalies.get(FLOW_TOO_LARGE, 0) + 1
        else:
            log.warning("consentscope: %s: %s: flow #%d (%d bytes) skipped",
                        FLOW_TOO_LARGE, path, frame.seq + 1, frame.length)
        return []
    items = fast_records(record, frame.head, anomalies) if fast else None
    if items is None:
        from mitmproxy import exceptions, http  # a third of a second: only when needed
        from mitmproxy.io import FlowReader

        try:
            flows = list(FlowReader(io.BytesIO(record)).stream())
        except exceptions.FlowReadException as e:
            raise _frame_error(path, frame.seq, frame.offset, f"cannot be read ({e})") from None
        except Exception as e:  # hostile input: a migration step may fail in any way
            raise _frame_error(path, frame.seq, frame.offset, f"is malformed ({type(e).__name__}: {e})") from None
        items = [i for flow in flows if isinstance(flow, http.HTTPFlow)
                 for i in flow_to_records(flow, anomalies=anomalies)]
    return items


def starts_fast(path: str) -> bool:
    """Whether the first flow of the flow file ``path`` is one ``fast_records`` reads (a
    ``FAST_VERSIONS`` flow): the flows of a file are all written by one mitmproxy, so its
    flows can be read anywhere, in any order (scan workers), while mitmproxy's migrations of
    older versions keep state across the flows of a process (``compat``'s connection ids:
    a WebSocket flow of version 7 is named after flows read before it). False when the file
    cannot be read (its reader says why)."""
    from ._open import open_maybe_compressed

    try:
        with open_maybe_compressed(path) as fo:
            first = next(iter_frames(path, fo), None)
    except (OSError, CaptureError):
        return False
    return first is not None and first.data is not None and fast_records(first.data, first.head, {}) is not None


def iter_flowfile(
    path: str, fo: BinaryIO | None = None, anomalies: dict[str, int] | None = None,
    max_flow_bytes: int = MAX_FLOW_BYTES, fast: bool = True,
) -> Iterator[CaptureItem]:
    """Items of a flow file, flow by flow (``iter_frames``, then ``frame_items``): a flow
    over ``max_flow_bytes`` is skipped (``FLOW_TOO_LARGE`` counted in ``anomalies`` when
    given, else logged) and reading goes on with the next; any other is read by
    ``fast_records``, or handed whole to mitmproxy's ``FlowReader`` when that declines it
    (always, with ``fast=False``). Damage ends the file with one CaptureError at the offset
    of the first flow not read, after every complete flow before it."""
    own = fo is None
    if fo is None:
        try:
            fo = open(path, "rb")  # noqa: SIM115 - closed in finally
        except OSError as e:
            raise CaptureError(path, f"cannot open: {e.strerror or e}") from None
    try:
        for frame in iter_frames(path, fo, max_flow_bytes):
            items = frame_items(path, frame, anomalies, fast)
            del frame
            yield from items
    finally:
        if own:
            fo.close()


# ----------------------------------------------------------------------------- fast path

#: Flow format versions read without mitmproxy (``mitmproxy.version.FLOW_FORMAT_VERSION``):
#: 20 (mitmproxy 10) and 21 (11 and 12) store every field a record needs alike (the one
#: step between them, ``compat.convert_20_21``, renames a TLS version). Older versions go
#: through mitmproxy's migrations.
FAST_VERSIONS: Final = frozenset({20, 21})

#: The keys of each part of an HTTP flow's state in those versions; a flow with any other
#: set goes to mitmproxy (which refuses unknown and missing fields).
_FLOW_KEYS: Final = frozenset({
    b"version", b"type", b"id", b"error", b"client_conn", b"server_conn", b"intercepted", b"is_replay", b"marked",
    b"metadata", b"comment", b"timestamp_created", b"request", b"response", b"websocket"})
_REQUEST_KEYS: Final = frozenset({
    b"http_version", b"headers", b"content", b"trailers", b"timestamp_start", b"timestamp_end", b"host", b"port",
    b"method", b"scheme", b"authority", b"path"})
_RESPONSE_KEYS: Final = frozenset({
    b"http_version", b"headers", b"content", b"trailers", b"timestamp_start", b"timestamp_end", b"status_code",
    b"reason"})
_WEBSOCKET_KEYS: Final = frozenset({"messages", "closed_by_client", "close_code", "close_reason", "timestamp_end"})
#: RFC 6455 opcodes (mitmproxy's ``websocket.Opcode`` refuses others)
_OPCODES: Final = frozenset({0, 1, 2, 8, 9, 10})


class _Odd(Exception):
    """The flow is not in the shape the fast path reads: mitmproxy reads it."""


def _check(ok: bool) -> None:
    if not ok:
        raise _Odd


def _number(v: object, optional: bool = False) -> bool:
    """A timestamp as mitmproxy's type check takes it (an int is a float; so is a bool)."""
    return isinstance(v, int | float) or (optional and v is None)


@functools.lru_cache(maxsize=4096)
def _authority_host(authority: str) -> str:
    """``Request.pretty_host``'s parse of a Host header or :authority (validating each label
    costs more than the rest of a flow; an app sends to a few dozen hosts)."""
    return parse_authority(authority, check=False)[0]


def _header(fields: tuple[tuple[bytes, bytes], ...], name: bytes) -> str | None:
    """``Headers.get(name)``: every value of the header folded with ", ", or None."""
    values = [v.decode("utf-8", "surrogateescape") for k, v in fields if k.lower() == name]
    return ", ".join(values) if values else None


_H2_VERSIONS: Final = (b"HTTP/2.0", b"HTTP/3")


def raw_host(host: str, authority: bytes, version: bytes, fields: tuple[tuple[bytes, bytes], ...],
             sni: str | None, server_ip: str | None) -> str:
    """The record's host from mitmproxy's raw request fields, as ``flow_to_records`` names it:
    ``Request.pretty_host`` (``:authority`` for HTTP/2 and 3, else the ``Host`` header(s),
    else the target host), then the SNI, then the server address; lower case."""
    header: str | None = None
    if version in _H2_VERSIONS and authority:
        try:
            header = authority.decode("idna")
        except UnicodeError:
            header = authority.decode("utf8", "surrogateescape")
    if not header:
        header = _header(fields, b"host")
    pretty = _authority_host(header) if header else host
    return (pretty or host or sni or server_ip or "unknown").lower()


def raw_request_record(
    flow_id: str, t: float, method: bytes, scheme: bytes, host: str, port: int, authority: bytes, path: bytes,
    version: bytes, fields: tuple[tuple[bytes, bytes], ...], body: bytes, truncated: bool, sni: str | None,
    server_ip: str | None,
) -> RequestRecord:
    """The record ``flow_to_records`` makes of a (non-CONNECT) request, from mitmproxy's raw
    fields: what the fast flow-file path and the live hook's tuple (``addons.wire``) carry."""
    return RequestRecord(
        flow_id=flow_id, time=t, method=method.decode("utf-8", "surrogateescape").upper(),
        scheme=scheme.decode("utf-8", "surrogateescape"),
        host=raw_host(host, authority, version, fields, sni, server_ip), port=port,
        path=path.decode("utf-8", "surrogateescape"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in fields),
        body=body, sni=sni, server_ip=server_ip, http_version=version.decode("utf-8", "surrogateescape"),
        body_truncated=truncated,
    )


def fast_records(record: bytes, start: int, anomalies: dict[str, int] | None = None) -> list[CaptureItem] | None:
    """The items of one flow (``record``: the whole top-level tnetstring, its payload from
    ``start``), as ``flow_to_records(Flow.from_state(...))`` gives them, or None when the
    flow is not an HTTP flow of a ``FAST_VERSIONS`` version in the shape mitmproxy writes.

    The fields the items are made of are checked as mitmproxy's ``from_state`` checks them,
    and so are the keys of the flow and its request. The rest is stepped over by its length,
    unparsed: the connections are read only up to the field a record needs (the server name,
    the server address), the response only for an HTTPDNS query, the error and metadata not
    at all. So a flow damaged only where no record reads is read here where mitmproxy would
    refuse it (leniency on purpose, tested); a 22 MB capture reads in half the time for it.
    """
    try:
        return _fast_records(record, start, anomalies)
    except (_Odd, ValueError):  # TnetstringError, UnicodeDecodeError, int() of a bad length
        return None


def _fast_records(data: bytes, start: int, anomalies: dict[str, int] | None) -> list[CaptureItem]:
    end = len(data) - 1
    _check(0 <= start < end and data[end] == tn.DICT)
    top = tn.fields(data, start, end)
    keys = top.keys()
    _check(keys == _FLOW_KEYS or (keys - {b"backup"} == _FLOW_KEYS))
    _check(tn.value(data, top[b"version"]) in FAST_VERSIONS and tn.value(data, top[b"type"]) == "http")
    flow_id = tn.value(data, top[b"id"])
    _check(isinstance(flow_id, str))

    req_at = top[b"request"]
    _check(req_at[2] == tn.DICT)
    req_fields = tn.fields(data, req_at[0], req_at[1])
    _check(req_fields.keys() == _REQUEST_KEYS)
    headers = tn.pairs(data, req_fields.pop(b"headers"))
    trailers_at = req_fields.pop(b"trailers")
    if trailers_at[2] != tn.NULL:
        tn.pairs(data, trailers_at)
    req = {k.decode(): tn.value(data, w) for k, w in req_fields.items()}
    r_host, port, content = req["host"], req["port"], req["content"]
    _check(isinstance(r_host, str) and isinstance(port, int) and (content is None or isinstance(content, bytes))
           and all(isinstance(req[k], bytes) for k in ("method", "scheme", "authority", "path", "http_version"))
           and _number(req["timestamp_start"]) and _number(req["timestamp_end"], optional=True))
    t_start = req["timestamp_start"]

    client_at, server_at = top[b"client_conn"], top[b"server_conn"]
    _check(client_at[2] == tn.DICT and server_at[2] == tn.DICT)
    sni_at = tn.field(data, client_at[0], client_at[1], b"sni")
    peer_at = tn.field(data, server_at[0], server_at[1], b"peername")
    _check(sni_at is not None and peer_at is not None)
    assert sni_at is not None and peer_at is not None
    sni = tn.value(data, sni_at)
    _check(sni is None or isinstance(sni, str))
    peer = tn.value(data, peer_at)
    server_ip: str | None = None
    if peer is not None:
        _check(isinstance(peer, list) and 2 <= len(peer) <= 4 and isinstance(peer[0], str)
               and all(isinstance(x, int) for x in peer[1:]))
        server_ip = peer[0]

    method = req["method"]
    if method.upper() == b"CONNECT":
        host = raw_host(r_host, req["authority"], req["http_version"], headers, sni, server_ip)
        return [Contact(t_start, host, server_ip, port, "http-connect", None, flow_id)]
    record = raw_request_record(flow_id, t_start, method, req["scheme"], r_host, port, req["authority"], req["path"],
                                req["http_version"], headers, content if content is not None else b"", False, sni,
                                server_ip)
    path, scheme, host = record.path, record.scheme, record.host
    items: list[CaptureItem] = [record]

    resp_at = top[b"response"]
    if resp_at[2] != tn.NULL:
        _check(resp_at[2] == tn.DICT)
        if is_httpdns_path(path):  # the only response a record is made of
            resp = tn.fields(data, resp_at[0], resp_at[1])
            _check(resp.keys() == _RESPONSE_KEYS)
            r_content, r_end = tn.value(data, resp[b"content"]), tn.value(data, resp[b"timestamp_end"])
            _check((r_content is None or isinstance(r_content, bytes)) and _number(r_end, optional=True))
            r_headers = tn.pairs(data, resp[b"headers"])
            if r_content:
                items.extend(httpdns_response_contacts(
                    path, r_content, _header(r_headers, b"content-encoding"), r_end or t_start, flow_id, anomalies))
    else:
        _check(tn.value(data, resp_at) is None)

    ws_at = top[b"websocket"]
    if ws_at[2] != tn.NULL:
        ws = tn.value(data, ws_at)
        _check(isinstance(ws, dict) and ws.keys() == _WEBSOCKET_KEYS and isinstance(ws["messages"], list)
               and ws["closed_by_client"] in (None, True, False)
               and (ws["close_code"] is None or isinstance(ws["close_code"], int))
               and (ws["close_reason"] is None or isinstance(ws["close_reason"], str))
               and _number(ws["timestamp_end"], optional=True))
        ws_scheme = "wss" if scheme == "https" else "ws"
        for i, msg in enumerate(ws["messages"]):
            _check(isinstance(msg, list) and 4 <= len(msg) <= 6 and msg[0] in _OPCODES
                   and isinstance(msg[1], bool) and isinstance(msg[2], bytes) and _number(msg[3]) and bool(msg[3]))
            if msg[1]:
                items.append(RequestRecord(
                    flow_id=f"{flow_id}:ws{i}", time=msg[3], method="WS", scheme=ws_scheme, host=host,
                    port=port, path=path, body=msg[2], sni=sni, server_ip=server_ip, kind="websocket"))
    return items
