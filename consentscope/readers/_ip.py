"""IPv4 and IPv6 fragment reassembly: the transport segment once a datagram is whole.

dpkt parses one packet; a datagram split into fragments (large DNS answers, QUIC over
small MTUs, IPv6 atomic fragments) is put back together here, then parsed as TCP or UDP.
"""

from __future__ import annotations

import struct

import dpkt

from consentscope.detectors import DEFAULT_LIMITS, Limits

_TRANSPORT = {6: dpkt.tcp.TCP, 17: dpkt.udp.UDP}
#: Bytes held for one datagram: the IP length field stops at 65,535, and overlapping
#: (retransmitted) fragments may hold each byte twice; more is not one datagram.
_MAX_DATAGRAM_HELD = 2 * 65535


class Defragmenter:
    """Fragments per datagram, at most ``Limits.max_fragmented`` datagrams at once, each
    of at most ``Limits.max_fragments_per_datagram`` pieces and 128 KiB, so what waits for
    its missing pieces stays under ~128 MB whatever the capture."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.max_fragmented = limits.max_fragmented
        self.max_pieces = limits.max_fragments_per_datagram
        self.dropped = 0  # datagrams given up for breaking a bound
        self.fragments: dict[tuple, dict[int, tuple[bytes, bool]]] = {}

    def payload(self, ip: dpkt.ip.IP | dpkt.ip6.IP6) -> dpkt.Packet | bytes | None:
        """The transport segment of ``ip`` (reassembled if it is a fragment), or None while
        pieces are missing."""
        if isinstance(ip, dpkt.ip.IP):
            if ip.mf or ip.offset:
                # the offset field counts 8-byte units (RFC 791), as IPv6's does
                return self.add((ip.src, ip.dst, ip.id, ip.p), ip.p, ip.offset * 8, bool(ip.mf), ip.data)
            return ip.data
        frag = ip.extension_hdrs.get(44)
        if frag is not None and (frag.frag_off or frag.m_flag):
            key = (ip.src, ip.dst, frag.id, frag.nxt)
            return self.add(key, frag.nxt, frag.frag_off * 8, bool(frag.m_flag), ip.data)
        return ip.data  # not a fragment, or an atomic fragment: the whole datagram

    def add(self, key: tuple, proto: int, offset: int, more: bool, data: object) -> dpkt.Packet | None:
        frags = self.fragments.setdefault(key, {})
        frags[offset] = (bytes(data) if not isinstance(data, bytes) else data, not more)  # type: ignore[call-overload]
        if len(self.fragments) > self.max_fragmented:
            self.fragments.pop(next(iter(self.fragments)))
        if len(frags) > self.max_pieces or sum(len(p) for p, _ in frags.values()) > _MAX_DATAGRAM_HELD:
            self.fragments.pop(key, None)
            self.dropped += 1
            return None
        whole = bytearray()
        for off in sorted(frags):
            piece, last = frags[off]
            if off > len(whole):
                return None  # still missing a piece
            whole[off:] = piece
            if last:
                self.fragments.pop(key, None)  # may already be evicted above
                parser = _TRANSPORT.get(proto)
                if parser is None or len(whole) > 65535:
                    return None
                try:
                    return parser(bytes(whole))
                except (dpkt.UnpackError, struct.error):
                    return None
        return None
