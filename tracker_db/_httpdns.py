"""Names from HTTPDNS answers seen in traffic, so later IP-only connections get a name.

Apps that resolve through HTTPDNS connect to bare IPs; without these answers an auditor
only sees "sent to 203.0.113.7". Pure functions (request path and response body in,
(name, ip) pairs out), covering the two plaintext APIs apps use most: Tencent/DNSPod
``/d?dn=`` and Alibaba Cloud ``/<account>/d?host=`` and ``/<account>/resolve?host=``.
Encrypted queries (DES/AES ``dn``) yield nothing, by design.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import parse_qs, urlsplit

__all__ = ["MAX_HTTPDNS_BODY", "names_from_httpdns"]

#: HTTPDNS answers are a few hundred bytes; larger bodies are not answers and are skipped.
MAX_HTTPDNS_BODY = 64 * 1024


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _tencent(names: list[str], body: str) -> list[tuple[str, str]]:
    """``1.2.3.4;5.6.7.8,600`` for one name; ``a.com.:1.2.3.4;…,600`` lines for several."""
    out: list[tuple[str, str]] = []
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        if ".:" in line:
            name, _, rest = line.partition(".:")
            targets = [name.lower()]
        else:
            rest, targets = line, names[:1]
        for part in rest.split(",", 1)[0].split(";"):
            ip = _ip(part)
            out.extend((n, ip) for n in targets if ip)
    return out


def _alibaba(body: str) -> list[tuple[str, str]]:
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    answers = doc.get("dns", [doc]) if isinstance(doc, dict) else []
    out: list[tuple[str, str]] = []
    for a in answers:
        if not isinstance(a, dict) or not isinstance(a.get("host"), str):
            continue
        for key in ("ips", "ipsv6"):
            for v in a.get(key) or ():
                ip = _ip(v) if isinstance(v, str) else None
                if ip:
                    out.append((a["host"].lower().rstrip("."), ip))
    return out


def names_from_httpdns(path: str, body: bytes | str) -> list[tuple[str, str]]:
    """(name, ip) pairs from one HTTPDNS exchange; empty when it is not one we can read."""
    if len(body) > MAX_HTTPDNS_BODY:
        return []
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    segments = [s for s in parts.path.split("/") if s]
    if segments == ["d"] and "dn" in query and "alg" not in query:
        names = [n.lower().rstrip(".") for n in query["dn"][0].split(",") if n]
        return _tencent(names, text)
    if len(segments) == 2 and segments[1] in ("d", "resolve") and "host" in query:
        return _alibaba(text)
    return []
