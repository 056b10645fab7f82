"""Request records from one decrypted HTTPS connection: the last step of pcap decryption.

``https_records`` turns a ``DecryptResult`` into the ``RequestRecord``s that
``flowfile.flow_to_records`` builds for the same requests seen through mitmproxy, so the
detectors' findings do not depend on which door the traffic came through:

* scheme ``https``; ``sni`` from the ClientHello; ``server_ip`` and ``port`` from the
  connection (as the plain-HTTP pcap path does);
* host from the Host header (HTTP/1) or ``:authority`` (HTTP/2, else a Host header), without
  port, lower-case; else the SNI; else the server address;
* headers in order and as sent, HTTP/2 pseudo-headers left out (mitmproxy keeps them apart
  too); body as sent (still Content-Encoded);
* ``http_version`` "HTTP/1.1"/"HTTP/1.0" from the request line, "HTTP/2.0" for h2;
* ``body_truncated`` when the body was cut by a bound, by a gap, or by a decryption failure.

The HTTP/1 parser is passed in (``pcap._http_requests`` today) because ``pcap.py`` is being
split per layer; this module must not depend on where it ends up. It yields
``(offset, method, target, headers, body, complete)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from consentscope.detectors import RequestRecord

from ._h2 import MAX_BODY, h2_requests
from ._tlsdecrypt import DecryptResult

Http1Parser = Callable[[bytes], Iterable[tuple[int, bytes, bytes, list[tuple[str, str]], bytes, bool]]]


def host_only(authority: str) -> str:
    """Host of a Host/:authority value: without its port, IPv6 without brackets, lower-case."""
    a = authority.strip().lower()
    if a.startswith("["):
        return a[1 : a.find("]")] if "]" in a else a[1:]
    return a.rsplit(":", 1)[0] if a.count(":") == 1 else a


def _http1_version(data: bytes, offset: int) -> str:
    end = data.find(b"\n", offset, offset + 8192)
    parts = data[offset : end if end >= 0 else offset + 8192].split()
    if len(parts) >= 3 and parts[2].upper().startswith(b"HTTP/"):
        return parts[2].decode("latin-1").strip().upper()
    return "HTTP/1.1"


def https_records(
    result: DecryptResult, *, server_ip: str, port: int, flow_prefix: str,
    time_at: Callable[[int], float], http1: Http1Parser, max_body: int = MAX_BODY,
) -> Iterator[RequestRecord]:
    """Records for every request of one decrypted connection.

    ``time_at(stream_offset)`` gives the capture time of a client→server stream byte offset
    (the pcap reader's ``_time_at(times, offset, first_time)``); ``flow_prefix`` makes the
    flow ids (``f"{flow_prefix}:{n}"``), e.g. ``pcap:src:sport-dst:dport``.
    """
    fallback = result.sni or server_ip
    failed = not result.decrypted  # whatever was cut short by a failure is marked truncated
    if result.is_h2:
        reqs, _error = h2_requests(result.client_plain, result.server_plain, max_body=max_body)
        for n, q in enumerate(reqs):
            host = host_only(q.authority) or host_only(q.header("host") or "") or fallback
            yield RequestRecord(
                flow_id=f"{flow_prefix}:{n}", time=time_at(result.stream_offset(True, q.offset)), method=q.method,
                scheme=q.scheme or "https", host=host, port=port, path=q.path or "/", headers=q.headers,
                body=q.body, sni=result.sni, server_ip=server_ip, http_version="HTTP/2.0",
                body_truncated=q.truncated,  # also set for a stream the capture, a failure or an error cut
            )
        return
    data = result.client_plain
    for n, (off, method, target, headers, body, complete) in enumerate(http1(data)):
        m = method.decode("latin-1")
        if m == "CONNECT":
            continue  # a tunnel inside TLS: nothing of it is readable here
        tgt = target.decode("latin-1")
        hdr = {k.lower(): v for k, v in headers}
        host = host_only(hdr.get("host", ""))
        if "://" in tgt:  # absolute form
            _, _, rest = tgt.partition("://")
            authority, slash, path = rest.partition("/")
            host = host_only(authority) or host
            tgt = slash + path
        yield RequestRecord(
            flow_id=f"{flow_prefix}:{n}", time=time_at(result.stream_offset(True, off)), method=m, scheme="https",
            host=host or fallback, port=port, path=tgt or "/", headers=tuple(headers), body=body, sni=result.sni,
            server_ip=server_ip, http_version=_http1_version(data, off),
            body_truncated=not complete or (failed and off + len(body) >= len(data)),
        )
