"""HTTP/1 requests in an assembled client-to-server TCP stream.

Lenient on purpose, as servers are: bare LF line ends, a missing target or version,
HTTP/0.9 request lines. Linear in the stream: the search for the end of a header block is
remembered between requests (100,000 bare-LF requests in 1.6 MB took 70 s when each
request searched the rest of the stream for a CRLF CRLF that never came; now well under a
second), and a chunk size must be a non-negative number, so the walk always moves forward.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

_REQUEST_START = re.compile(rb"[A-Z][A-Z_-]{1,19}(?=[ \r\n])")


class Request(NamedTuple):
    offset: int  # of the request line in the stream
    method: bytes
    target: bytes
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool  # False: the body was cut short


def host_only(authority: str) -> str:
    """Host of a Host header value: without its port, IPv6 without brackets."""
    a = authority.strip().lower()
    if a.startswith("["):
        return a[1 : a.find("]")] if "]" in a else a[1:]
    return a.rsplit(":", 1)[0] if a.count(":") == 1 else a


def connect_port(port: str, default: int) -> int:
    """Port of a CONNECT target: ASCII digits up to 65535, else the connection's own port
    (``str.isdigit`` accepts '²' and '٨٠', which ``int`` rejects or misreads)."""
    if port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535:
        return int(port)
    return default


def _chunked(data: bytes, i: int) -> tuple[bytes, int, bool]:
    """(body, end offset, complete) of a chunked body starting at ``i``."""
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", i)
        if eol < 0:
            return bytes(body), i, False
        try:
            size = int(data[i:eol].split(b";")[0], 16)
        except ValueError:
            return bytes(body), i, False
        if size < 0:  # int() accepts a sign: "-5" would walk backwards for ever
            return bytes(body), i, False
        i = eol + 2
        if size == 0:
            trailer = data.find(b"\r\n\r\n", i - 2)
            return bytes(body), trailer + 4 if trailer >= 0 else len(data), True
        body += data[i : i + size]
        complete = i + size <= len(data)
        i += size + 2
        if not complete:
            return bytes(body), i, False


def requests(data: bytes) -> Iterator[Request]:
    """Each request in a stream, in order."""
    pos = 0
    crlf = lf = -2  # last found end of a header block (-1: none after that point)
    while pos < len(data) and _REQUEST_START.match(data, pos):
        if crlf != -1 and crlf < pos:
            crlf = data.find(b"\r\n\r\n", pos)
        if lf != -1 and lf < pos:
            lf = data.find(b"\n\n", pos)
        if crlf < 0 and lf < 0:
            line = data[pos:]
            if line.endswith(b"\n") and line.count(b"\n") == 1:  # HTTP/0.9: a request line alone
                parts = line.split()
                yield Request(pos, parts[0], parts[1] if len(parts) > 1 else b"/", [], b"", True)
            return
        end, sep_len = (crlf, 4) if crlf >= 0 and (lf < 0 or crlf <= lf) else (lf, 2)
        lines = [line.rstrip(b"\r") for line in data[pos:end].split(b"\n")]
        parts = lines[0].split()
        method, target = parts[0], parts[1] if len(parts) > 2 else b"/"
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            if sep:
                headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
        lower = {k.lower(): v for k, v in headers}
        body_start = end + sep_len
        if "chunked" in lower.get("transfer-encoding", "").lower():
            body, next_pos, complete = _chunked(data, body_start)
            yield Request(pos, method, target, headers, body, complete)
            pos = next_pos
        else:
            try:
                length = max(0, int(lower.get("content-length", "0") or 0))
            except ValueError:
                length = 0
            body = data[body_start : body_start + length]
            yield Request(pos, method, target, headers, body, len(body) == length)
            pos = body_start + len(body)
