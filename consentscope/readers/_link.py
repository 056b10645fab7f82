"""Link types to IP packets, with dpkt: Ethernet (VLAN and QinQ included), raw IP, Linux
cooked v1/v2, BSD loopback. One row per link type, as ``dpkt/ethernet.py`` dispatches on
its type field; an unsupported link type is counted by the reader and named at the end.
"""

from __future__ import annotations

import socket

import dpkt


def _by_version(frame: bytes) -> dpkt.Packet | None:
    version = frame[0] >> 4 if frame else 0
    return dpkt.ip.IP(frame) if version == 4 else dpkt.ip6.IP6(frame) if version == 6 else None


def _ethernet(frame: bytes) -> dpkt.Packet:
    """Plain Ethernet II carrying IP straight to dpkt's IP parser; anything else (VLAN,
    QinQ, MPLS, 802.3) through dpkt's Ethernet. Skipping the Ethernet object for the common
    case is ~8% of the whole reader's time on the bench capture."""
    ethertype = frame[12:14]
    if ethertype == b"\x08\x00":
        return dpkt.ip.IP(frame[14:])
    if ethertype == b"\x86\xdd":
        return dpkt.ip6.IP6(frame[14:])
    return dpkt.ethernet.Ethernet(frame).data


#: link type -> parser of a frame to the packet it carries (LINKTYPE_* numbers of tcpdump.org).
_LINKS = {
    1: _ethernet,  # ETHERNET
    12: _by_version, 14: _by_version, 101: _by_version,  # RAW (BSD/OpenBSD numbers, then the standard one)
    228: _by_version, 229: _by_version,  # IPV4, IPV6
    113: lambda f: dpkt.sll.SLL(f).data,  # LINUX_SLL
    276: lambda f: dpkt.sll2.SLL2(f).data,  # LINUX_SLL2
    0: lambda f: _by_version(f[4:]), 108: lambda f: _by_version(f[4:]),  # NULL, LOOP: 4-byte family first
}

SUPPORTED_LINKTYPES = frozenset(_LINKS)

IP = (dpkt.ip.IP, dpkt.ip6.IP6)


def ip_of(linktype: int, frame: bytes) -> dpkt.Packet | None:
    """The IPv4 or IPv6 packet in a frame, or None (not IP, unsupported, or unparsable).

    dpkt parses hostile bytes: besides ``UnpackError`` its IPv6 extension headers and
    link layers fail with ``KeyError``, ``ValueError`` or ``AttributeError`` on malformed
    input, so any failure of the parse is "not an IP packet", never an escape."""
    parse = _LINKS.get(linktype)
    if parse is None:
        return None
    try:
        pkt = parse(frame)
    except Exception:
        return None
    return pkt if isinstance(pkt, IP) else None


def addresses(pkt: dpkt.ip.IP | dpkt.ip6.IP6) -> tuple[str, str]:
    """Text form of the source and destination addresses of ``pkt`` (IPv4 or IPv6)."""
    family = socket.AF_INET6 if type(pkt) is dpkt.ip6.IP6 else socket.AF_INET
    return socket.inet_ntop(family, pkt.src), socket.inet_ntop(family, pkt.dst)
