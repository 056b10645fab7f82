"""DNS messages over UDP port 53, with dpkt: the names asked, and the addresses answered.

Encryption hides content, not lookups: each question and each A/AAAA answer is a contact,
and an answer remembers which name an address had (the host of plain HTTP without a Host
header). Parsed defensively: dpkt decodes names as UTF-8 and raises ``UnicodeDecodeError``
on other bytes, and an A record's data may be any length; a message that cannot be read
is skipped, an answer of the wrong length is skipped alone.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

import dpkt

_FAMILY = {dpkt.dns.DNS_A: (socket.AF_INET, 4), dpkt.dns.DNS_AAAA: (socket.AF_INET6, 16)}


class Lookup(NamedTuple):
    name: str
    addr: str | None  # None: a question


def lookups(payload: bytes) -> list[Lookup] | None:
    """Questions of a query, or (name, address) of each A/AAAA answer of a response; None
    if the message cannot be parsed."""
    try:
        msg = dpkt.dns.DNS(payload)
    except Exception:  # dpkt on hostile bytes: UnpackError, struct.error, UnicodeDecodeError...
        return None
    if msg.qr == dpkt.dns.DNS_Q:
        return [Lookup(q.name.lower(), None) for q in msg.qd]
    out = []
    for an in msg.an:
        family = _FAMILY.get(an.type)
        if family is None or len(an.rdata) != family[1]:
            continue
        name = (msg.qd[0].name if msg.qd else an.name).lower()
        out.append(Lookup(name, socket.inet_ntop(family[0], an.rdata)))
    return out
