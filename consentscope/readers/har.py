"""HAR 1.2 files (browsers, Charles, Insomnia, HTTP Toolkit, mitmproxy's export) as records.

HAR stores request bodies decoded (``postData.text``), so a declared Content-Encoding no
longer describes the body: it is dropped from the record's headers rather than reported
as a lying header. A malformed entry does not stop the others: every good entry is
yielded, then one CaptureError names the first bad entry.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from consentscope.detectors import RequestRecord

from ._base import CaptureError, CaptureItem, Contact
from ._open import open_maybe_compressed

#: Largest HAR document read (after decompression): HAR holds whole responses, so real
#: exports run to hundreds of MB; beyond this it is not a capture but an attack.
MAX_HAR_BYTES = 2 * 1024 * 1024 * 1024


def _load(path: str) -> dict:
    with open_maybe_compressed(path) as fh:
        raw = fh.read(MAX_HAR_BYTES + 1)
    if len(raw) >= 2 and raw[0] == 0x78 and (raw[0] << 8 | raw[1]) % 31 == 0:  # zlib (.zhar)
        d = zlib.decompressobj()
        try:
            raw = d.decompress(raw, MAX_HAR_BYTES + 1)
        except zlib.error as e:
            raise CaptureError(path, f"zlib-compressed HAR is corrupt: {e}", 0) from None
    if len(raw) > MAX_HAR_BYTES:
        raise CaptureError(path, f"HAR larger than {MAX_HAR_BYTES} bytes", 0)
    text = raw.decode("utf-8-sig", "replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CaptureError(path, f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", e.pos) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("log"), dict):
        raise CaptureError(path, "not a HAR file: no top-level \"log\" object", 0)
    return doc


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


_BINARY_HINT = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _text_bytes(text: str) -> bytes:
    """Bytes of a ``postData.text``. Exporters (mitmproxy's among them) write binary bodies
    as one character per byte; such text, with control characters and nothing beyond
    U+00FF, goes back to its bytes instead of being re-encoded as UTF-8."""
    if _BINARY_HINT.search(text):
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "surrogateescape")


def _body(request: dict) -> bytes:
    post = request.get("postData") or {}
    text = post.get("text")
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64" or post.get("_encoding") == "base64":
            return base64.b64decode(text, validate=False)
        return _text_bytes(text)
    params = post.get("params")
    if isinstance(params, list) and params:
        return urlencode([(p.get("name", ""), p.get("value", "")) for p in params if isinstance(p, dict)]).encode()
    return b""


def entry_to_record(entry: dict, index: int) -> CaptureItem:
    request = entry["request"]
    url = urlsplit(request["url"])
    host = (url.hostname or "").lower()
    if not host:
        raise ValueError(f"request URL has no host: {request['url'][:100]!r}")
    method = str(request.get("method", "GET")).upper()
    t = _time(entry["startedDateTime"])
    server_ip = entry.get("serverIPAddress") or None
    if method == "CONNECT":
        return Contact(t, host, server_ip, url.port, "http-connect", None, f"har:{index}")
    headers = tuple(
        (str(h["name"]), str(h.get("value", "")))
        for h in request.get("headers") or []
        if isinstance(h, dict) and "name" in h
        and not str(h["name"]).startswith(":") and str(h["name"]).lower() != "content-encoding"
    )
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return RequestRecord(
        flow_id=str(entry.get("_id") or f"har:{index}"),
        time=t,
        method=method,
        scheme=url.scheme or "http",
        host=host,
        port=url.port or (443 if url.scheme == "https" else 80),
        path=path,
        headers=headers,
        body=_body(request),
        server_ip=server_ip,
        http_version=str(request.get("httpVersion") or "HTTP/1.1"),
    )


def iter_har(path: str) -> Iterator[CaptureItem]:
    doc = _load(path)
    entries = doc["log"].get("entries") or []
    if not isinstance(entries, list):
        raise CaptureError(path, "\"log.entries\" is not a list", 0)
    first_error: str | None = None
    for i, entry in enumerate(entries):
        try:
            item = entry_to_record(entry, i)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            if first_error is None:
                first_error = f"entry #{i + 1} of {len(entries)} is malformed ({type(e).__name__}: {e})"
            continue
        yield item
    if first_error is not None:
        raise CaptureError(path, first_error + "; every other entry was read")
