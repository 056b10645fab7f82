"""Hand-made capture bytes shared by the reader tests (dpkt builds the packets)."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dpkt

from consentscope.readers import CaptureError

from .test_pcap import CLIENT, REQUEST, SERVER, ether, tcp_packet, write_pcap

__all__ = ["CLIENT", "IDB_ETHERNET", "REQUEST", "SERVER", "SHB", "block", "epb", "ether", "pcapng", "read_all", "stream_frames", "tcp_packet",
           "udp_packet", "write_pcap"]


def udp_packet(payload: bytes, sport: int = 53, dport: int = 5353, src: str = "10.9.0.53", dst: str = CLIENT) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = len(bytes(udp))
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, data=udp)
    ip.len = len(bytes(ip))
    return bytes(ip)


def stream_frames(data: bytes, sport: int = 40000, dport: int = 80, mss: int = 1448, fin: bool = True) -> list[bytes]:
    """One client-to-server TCP direction carrying ``data``, in full segments."""
    frames = [ether(tcp_packet(1 + off, data[off : off + mss], sport=sport, dport=dport))
              for off in range(0, len(data), mss)]
    if fin:
        frames.append(ether(tcp_packet(1 + len(data), flags=dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, sport=sport, dport=dport)))
    return frames


def block(btype: int, body: bytes, pad: bool = True) -> bytes:
    """A little-endian pcapng block."""
    if pad:
        body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
IDB_ETHERNET = block(1, struct.pack("<HHI", 1, 0, 65535))


def epb(frame: bytes, iface: int = 0, t: float = 1_772_445_600.0) -> bytes:
    ts = int(t * 1e6)
    return block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def pcapng(*blocks: bytes) -> bytes:
    return SHB + b"".join(blocks)


def read_all(read, path: Path, **kw) -> tuple[list, CaptureError | None]:  # type: ignore[no-untyped-def]
    """Items a reader yields, and the CaptureError it ends with (None: it ended cleanly)."""
    got: list = []
    try:
        for item in read(str(path), **kw):
            got.append(item)
    except CaptureError as e:
        return got, e
    return got, None
