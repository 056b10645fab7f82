"""Complete, reproducible mitmproxy flows built from request records.

The one place that turns a ``RequestRecord`` into a mitmproxy ``HTTPFlow`` and writes flow
files. ``captures/make_demo.py`` (the demo session) and ``benchmarks/corpus.py`` (flow
files of the benchmark corpus) both use it, so the demo and the benchmark exercise the
same kind of file, and ``consentscope.readers.flowfile.flow_to_records`` reads back the
very record that went in (tests/test_demo_capture.py checks that round trip).

Reproducible: nothing here reads the clock or a random source. Connection ids derive
from the flow id, timestamps from the record's time, addresses are fixed, so the same
records written by the same mitmproxy version give the same bytes.

Why the ``http.Request`` constructor and not ``Request.make``: ``make`` stamps
``time.time()`` and assigns the body through the ``content`` setter, which encodes it
again according to ``Content-Encoding``: an already gzipped body would be gzipped twice.
The constructor stores the bytes as given, as ``raw_content``: the body as sent on the
wire, which is what consentscope reads. Only keyword arguments are used, and only ones
that mitmproxy 11.0 and 12.x both accept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mitmproxy import connection, http, io

if TYPE_CHECKING:
    from consentscope.detectors import RequestRecord

#: Namespace of every uuid5 made here (flow ids in make_demo, connection ids below).
NAMESPACE = uuid.UUID("5b0c6a4e-7f8d-4c2e-9a1b-0123456789ab")
#: The phone as an Android emulator sees itself, and the proxy it was pointed at.
CLIENT_IP = "10.0.2.16"
PROXY_ADDRESS = ("10.0.2.2", 8080)
#: What every server answers unless told otherwise: a small JSON success.
OK_JSON = b'{"code":0,"msg":"ok"}'


def stable_id(*parts: object) -> str:
    """A uuid5 string from ``parts``: ids that look like mitmproxy's but never change."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def _pairs(headers: Iterable[tuple[str, str]]) -> http.Headers:
    # latin-1 is the inverse of how the flow reader turns header bytes into str
    return http.Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers])


def make_flow(
    record: RequestRecord,
    *,
    client_port: int = 40000,
    response_body: bytes = OK_JSON,
    response_headers: Sequence[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> http.HTTPFlow:
    """One finished flow (request, 200 response, closed connections) for ``record``.

    The request headers are exactly ``record.headers`` (no Host or Content-Length is
    added), so reading the flow back gives ``record`` again. ``client_port`` tells the
    flows' TCP connections apart, as a phone opening one connection per request would.
    """
    if record.kind != "http":
        raise ValueError(f"{record.flow_id}: only plain HTTP requests become flows, not {record.kind!r}")
    t = record.time
    tls = record.scheme == "https"
    client = connection.Client(
        id=stable_id("client", record.flow_id),
        peername=(CLIENT_IP, client_port),
        sockname=PROXY_ADDRESS,
        timestamp_start=t - 0.050,
        timestamp_tls_setup=(t - 0.030) if tls else None,
        timestamp_end=t + 0.150,
        sni=record.sni,
        tls=tls,
        tls_version="TLSv1.3" if tls else None,
        cipher="TLS_AES_128_GCM_SHA256" if tls else None,
        alpn=b"http/1.1" if tls else None,
    )
    server = connection.Server(
        id=stable_id("server", record.flow_id),
        address=(record.host, record.port),
        peername=(record.server_ip, record.port) if record.server_ip else None,
        timestamp_start=t - 0.045,
        timestamp_tcp_setup=t - 0.040,
        timestamp_tls_setup=(t - 0.020) if tls else None,
        timestamp_end=t + 0.150,
        sni=record.sni,
        tls=tls,
        tls_version="TLSv1.3" if tls else None,
        cipher="TLS_AES_128_GCM_SHA256" if tls else None,
        alpn=b"http/1.1" if tls else None,
    )
    request = http.Request(
        host=record.host,
        port=record.port,
        method=record.method.encode(),
        scheme=record.scheme.encode(),
        authority=b"",
        path=record.path.encode("utf-8", "surrogateescape"),
        http_version=record.http_version.encode(),
        headers=_pairs(record.headers),
        content=record.body,
        trailers=None,
        timestamp_start=t,
        timestamp_end=t + 0.010,
    )
    if response_headers is None:
        response_headers = [("Content-Type", "application/json;charset=utf-8")]
    response = http.Response(
        http_version=record.http_version.encode(),
        status_code=status_code,
        reason=b"OK" if status_code == 200 else b"",
        headers=_pairs([*response_headers, ("Content-Length", str(len(response_body)))]),
        content=response_body,
        trailers=None,
        timestamp_start=t + 0.080,
        timestamp_end=t + 0.090,
    )
    flow = http.HTTPFlow(client, server)
    flow.id = record.flow_id
    flow.request = request
    flow.response = response
    flow.timestamp_created = t
    return flow


def write_flows(flows: Iterable[http.HTTPFlow], path: str | Path) -> int:
    """Write ``flows`` as a mitmproxy flow file (what ``mitmdump -w`` writes); returns the count."""
    count = 0
    with Path(path).open("wb") as fh:
        writer = io.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)
            count += 1
    return count


def write_records(records: Iterable[RequestRecord], path: str | Path) -> int:
    """Write request records as a flow file, each with a small JSON response."""
    return write_flows((make_flow(r, client_port=40000 + i % 20000) for i, r in enumerate(records)), path)
