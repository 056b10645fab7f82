"""The common frame read without dpkt: Ethernet II (untagged or with one 802.1Q tag) / raw IP /
Linux cooked / BSD loopback, unfragmented IPv4 or IPv6 without extension headers, then TCP or
UDP.

dpkt builds a ``Packet`` object per layer, with a ``setattr`` per header field: on the
bench capture that was a fifth of the whole reader. This reads exactly what the reader
uses (addresses, ports, sequence number, flags, payload) with one ``unpack_from`` per
header and one slice for the payload (the plain bench capture reads 1.8x as fast). It
answers only for frames it is sure of and returns None for everything else (QinQ and other
tag stacks, MPLS, fragments, extension headers, IPv4 with a version nibble dpkt would
ignore, short or inconsistent headers, other protocols): those go through dpkt (``_link``,
``_ip``), which stays the reference. For every frame it
answers, the answer equals what the dpkt path gives (``tests/readers/test_fastpath.py``
compares both on every public capture, the suite's captures and hypothesis' frames),
including dpkt's leniencies: the IPv4 ``len`` and IPv6 ``plen`` fields cut the payload
(Ethernet padding), and a zero one (segmentation offload, jumbograms) means "the rest
of the frame"; checksums are not checked, as dpkt does not.
"""

from __future__ import annotations

import struct
from socket import AF_INET, AF_INET6, inet_ntop

#: (protocol 6 or 17, source, source port, destination, destination port, TCP sequence
#: number, TCP flags, payload); sequence number and flags are 0 for UDP.
Segment = tuple[int, str, int, str, int, int, int, bytes]

_IP4 = struct.Struct(">BxHxxHxB")  # version+IHL, total length, flags+fragment offset, protocol
_IP6 = struct.Struct(">4xHB")  # payload length, next header
_TCP = struct.Struct(">HHI4xBB")  # ports, sequence number, data offset, flags
_UDP = struct.Struct(">HH")
_FRAGMENT = 0x3FFF  # IPv4 MF flag and fragment offset

#: link type -> (bytes before the IP header, where its EtherType is, or -1: by version nibble)
_LINKS = {
    1: (14, 12),  # ETHERNET
    12: (0, -1), 14: (0, -1), 101: (0, -1), 228: (0, -1), 229: (0, -1),  # RAW, IPV4, IPV6
    113: (16, 14),  # LINUX_SLL
    276: (20, 0),  # LINUX_SLL2
    0: (4, -1), 108: (4, -1),  # NULL, LOOP
}


#: (source, destination) address bytes -> their text: a connection's packets share a pair,
#: so one lookup replaces two ``inet_ntop`` calls per packet. Emptied when full.
_NAMES: dict[bytes, tuple[str, str]] = {}
_MAX_NAMES = 4096


def _names(pair: bytes, family: int, size: int) -> tuple[str, str]:
    if len(_NAMES) >= _MAX_NAMES:
        _NAMES.clear()
    names = _NAMES[pair] = (inet_ntop(family, pair[:size]), inet_ntop(family, pair[size:]))
    return names


def segment_of(linktype: int, frame: bytes) -> Segment | None:
    """The TCP or UDP segment of a common frame, or None: let dpkt read it."""
    link = _LINKS.get(linktype)
    if link is None:
        return None
    off, ethertype_at = link
    if linktype == 1 and frame[12:14] == b"\x81\x00":  # one 802.1Q tag, as dpkt's Ethernet reads it
        off, ethertype_at = 18, 16
    n = len(frame)
    if n < off + 20:
        return None
    version = frame[off] >> 4
    if ethertype_at >= 0:
        et = frame[ethertype_at : ethertype_at + 2]
        if not ((et == b"\x08\x00" and version == 4) or (et == b"\x86\xdd" and version == 6)):
            return None
    if version == 4:
        vhl, total, frag, proto = _IP4.unpack_from(frame, off)
        ihl = (vhl & 0x0F) * 4
        if ihl < 20 or frag & _FRAGMENT:
            return None
        end = off + total if total else n
        start = off + ihl
        pair = frame[off + 12 : off + 20]
        names = _NAMES.get(pair)
        if names is None:
            names = _names(pair, AF_INET, 4)
    elif version == 6:
        if n < off + 40:
            return None
        plen, proto = _IP6.unpack_from(frame, off)
        start = off + 40
        end = start + plen if plen else n
        pair = frame[off + 8 : off + 40]
        names = _NAMES.get(pair)
        if names is None:
            names = _names(pair, AF_INET6, 16)
    else:
        return None
    if end > n:
        end = n
    if proto == 6:
        if end - start < 20:
            return None
        sport, dport, seq, doff, flags = _TCP.unpack_from(frame, start)
        hl = (doff >> 4) * 4
        if hl < 20:
            return None
        return 6, names[0], sport, names[1], dport, seq, (doff & 1) << 8 | flags, frame[start + hl : end]
    if proto == 17:
        if end - start < 8:
            return None
        sport, dport = _UDP.unpack_from(frame, start)
        return 17, names[0], sport, names[1], dport, 0, 0, frame[start + 8 : end]
    return None
