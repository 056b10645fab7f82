"""HTTPDNS answers in captured responses, as contacts that name IP addresses.

Apps that resolve through HTTPDNS (Tencent/DNSPod, Alibaba Cloud) connect to bare IPs
afterwards; the answer, seen in the response, is what names them (regulations aside, an
auditor cannot act on "sent to 203.0.113.7"). Every source with responses (flow files, HAR,
the live proxy) turns an answer into ``Contact(via="httpdns")`` items; the pipeline
remembers the names, and later requests to those IPs are classified by name. Parsing is
``tracker_db.names_from_httpdns`` (pure); this module only decides when to call it, and
decodes the response body first, bounded (``httpdns_response_body``): a response is as hostile
as the request, and a 1 MB gzip bomb served as an "answer" once inflated past 1 GB through
mitmproxy's unbounded ``content``.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from consentscope.detectors._compress import LIMIT, inflate, unbrotli, unzstd
from consentscope.tracker_db import names_from_httpdns
from consentscope.tracker_db._httpdns import MAX_HTTPDNS_BODY

from ._base import Contact

log = logging.getLogger("consentscope")

#: Bytes an HTTPDNS response body may hold, raw or decoded: answers are a few hundred bytes
#: (``tracker_db`` ignores anything past ``MAX_HTTPDNS_BODY``, 64 KiB), so a larger body is
#: no answer and is never decoded further than one byte past this cap.
MAX_HTTPDNS_RESPONSE_BYTES: Final = MAX_HTTPDNS_BODY

#: Anomaly: the body (raw, or once decoded) is larger than ``MAX_HTTPDNS_RESPONSE_BYTES``.
TOO_LARGE: Final = "httpdns-response-too-large"
#: Anomaly: the Content-Encoding is unknown, or the body is not in the one it names.
UNDECODABLE: Final = "httpdns-response-undecodable"

#: The request shapes of the HTTPDNS APIs we read: ``/d?dn=`` and ``/<account>/d|resolve?host=``
#: (checked before anything is parsed: the live proxy asks this of every response).
_HTTPDNS_PATH = re.compile(r"^/(?:[^/?]+/)?(?:d|resolve)\?")


def is_httpdns_path(path: str) -> bool:
    """Whether a request could be an HTTPDNS query (look at the response only then)."""
    return _HTTPDNS_PATH.match(path) is not None


def httpdns_contacts(path: str, body: bytes | str | None, time: float, flow_id: str) -> list[Contact]:
    """The (name, IP) answers of one HTTPDNS exchange, or nothing for any other request."""
    if not body or not is_httpdns_path(path):
        return []
    return [Contact(time, name, ip, None, "httpdns", None, flow_id) for name, ip in names_from_httpdns(path, body)]


def _decode_one(data: bytes, coding: str, cap: int) -> tuple[bytes, str] | None:
    """One Content-Encoding undone up to ``cap`` bytes: (output, status), None if unknown."""
    if coding in ("gzip", "x-gzip"):
        return inflate(data, 31, cap)
    if coding == "deflate":  # zlib-wrapped as RFC 9110 says, or raw DEFLATE as some servers send
        out, status = inflate(data, 15, cap)
        return (out, status) if status != "invalid" else inflate(data, -15, cap)
    if coding == "br":
        return unbrotli(data, cap)
    if coding == "zstd":
        return unzstd(data, cap)
    if coding in ("identity", ""):
        return data, "ok"
    return None


def httpdns_response_body(raw: bytes | None, content_encoding: str | None) -> tuple[bytes, str | None]:
    """The decoded body of an HTTPDNS response and the anomaly it is, if any.

    ``raw``: the body as sent; ``content_encoding``: its Content-Encoding header (a list
    such as ``gzip, br`` is undone last-first). Each step produces at most
    ``MAX_HTTPDNS_RESPONSE_BYTES + 1`` bytes, so a bomb costs 64 KiB, not gigabytes; a body
    over the cap is refused (``TOO_LARGE``), one in an unknown or broken encoding too
    (``UNDECODABLE``); either way the body returned is empty. A truncated stream gives what
    it held."""
    data = raw or b""
    cap = MAX_HTTPDNS_RESPONSE_BYTES
    if len(data) > cap:
        return b"", TOO_LARGE
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        decoded = _decode_one(data, coding, cap)
        if decoded is None or decoded[1] == "invalid":
            return b"", UNDECODABLE
        data, status = decoded
        if status == LIMIT or len(data) > cap:
            return b"", TOO_LARGE
    return data, None


def httpdns_response_contacts(
    path: str, raw: bytes | None, content_encoding: str | None, time: float, flow_id: str,
    anomalies: dict[str, int] | None = None,
) -> list[Contact]:
    """``httpdns_contacts`` for a response as sent (the flow file reader and the live proxy
    both call this): the body is decoded bounded first. An anomaly is counted in
    ``anomalies`` when given, else logged (the live proxy has no per-file count)."""
    if not raw or not is_httpdns_path(path):
        return []
    body, anomaly = httpdns_response_body(raw, content_encoding)
    if anomaly is not None:
        if anomalies is not None:
            anomalies[anomaly] = anomalies.get(anomaly, 0) + 1
        else:
            log.warning("consentscope: %s: HTTPDNS response of flow %s (%d bytes) not read", anomaly, flow_id, len(raw))
        return []
    return httpdns_contacts(path, body, time, flow_id)


__all__ = [
    "MAX_HTTPDNS_RESPONSE_BYTES", "TOO_LARGE", "UNDECODABLE",
    "httpdns_contacts", "httpdns_response_body", "httpdns_response_contacts", "is_httpdns_path",
]
