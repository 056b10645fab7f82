"""HTTPDNS answers in captured responses, as contacts that name IP addresses.

Apps that resolve through HTTPDNS (Tencent/DNSPod, Alibaba Cloud) connect to bare IPs
afterwards; the answer, seen in the response, is what names them (regulations aside, an
auditor cannot act on "sent to 203.0.113.7"). Every source with responses (flow files, HAR,
the live proxy) turns an answer into ``Contact(via="httpdns")`` items; the pipeline
remembers the names, and later requests to those IPs are classified by name. Parsing is
``tracker_db.names_from_httpdns`` (pure); this module only decides when to call it.
"""

from __future__ import annotations

import re

from consentscope.tracker_db import names_from_httpdns

from ._base import Contact

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


__all__ = ["httpdns_contacts", "is_httpdns_path"]
