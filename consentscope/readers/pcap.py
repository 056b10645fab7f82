"""pcap and pcapng captures: plain HTTP requests as records, TLS/DNS/HTTP as contacts.

Framing is ours (both pcap byte orders, micro- and nanosecond stamps, pcapng with several
interfaces, Enhanced and Simple Packet Blocks) so that damage is reported with its byte
offset; link, IP, TCP, UDP and DNS headers are parsed with dpkt; TCP reassembly is ours
(dpkt has none). A stream is assembled when it closes (FIN/RST) or goes idle, so memory
follows the open connections, not the file. What encryption hides still counts: every
TLS ClientHello's SNI and every DNS answer becomes a ``Contact``.

IPv4 and IPv6 fragments are reassembled; QUIC connections are named from their Initial
packets (``_quic.py``).
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import dpkt

from consentscope.detectors import RequestRecord

from ._base import CaptureError, CaptureItem, Contact
from ._open import open_maybe_compressed
from ._quic import QuicNames

#: Bytes kept per TCP direction; a longer stream is scanned up to here (and flagged).
MAX_STREAM_BYTES = 16 * 1024 * 1024
#: Open TCP directions tracked at once; the oldest is assembled early beyond this.
MAX_STREAMS = 20_000
#: IPv4 datagrams awaiting fragments at once; the oldest is dropped beyond this.
MAX_FRAGMENTED = 1_000
#: A stream silent this long (capture time) is assembled: its connection is over.
IDLE_SECONDS = 120.0

_PCAP_MAGIC = {
    b"\xa1\xb2\xc3\xd4": (">", 1e-6), b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9), b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
}


# ----------------------------------------------------------------------------- framing


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    return data if data is not None else b""


def _pcap_frames(path: str, fh: BinaryIO, head: bytes) -> Iterator[tuple[int, float, int, bytes]]:
    order, unit = _PCAP_MAGIC[head[:4]]
    rest = _read_exact(fh, 20)
    if len(rest) < 20:
        raise CaptureError(path, "truncated pcap file header", 0)
    linktype = struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF
    offset = 24
    while True:
        hdr = _read_exact(fh, 16)
        if not hdr:
            return
        if len(hdr) < 16:
            raise CaptureError(path, "truncated packet header", offset)
        sec, frac, incl, _orig = struct.unpack(order + "IIII", hdr)
        if incl > 256 * 1024 * 1024:
            raise CaptureError(path, f"implausible packet length {incl}", offset)
        data = _read_exact(fh, incl)
        if len(data) < incl:
            raise CaptureError(path, f"truncated packet ({len(data)} of {incl} bytes)", offset)
        yield offset, sec + frac * unit, linktype, data
        offset += 16 + incl


def _pcapng_frames(path: str, fh: BinaryIO, head: bytes) -> Iterator[tuple[int, float, int, bytes]]:
    order = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, seconds per tick)
    offset = 0
    pending = head
    while True:
        raw = pending + _read_exact(fh, 12 - len(pending)) if len(pending) < 12 else pending
        pending = b""
        if not raw:
            return
        if len(raw) < 12:
            raise CaptureError(path, "truncated block header", offset)
        btype = struct.unpack(order + "I", raw[:4])[0]
        if btype == 0x0A0D0D0A:  # section header: learn the byte order
            order = "<" if raw[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        btype, blen = struct.unpack(order + "II", raw[:8])
        if blen < 12 or blen % 4 or blen > 256 * 1024 * 1024:
            raise CaptureError(path, f"bad block length {blen}", offset)
        body = raw[8:12] + _read_exact(fh, blen - 12)
        if len(body) < blen - 8:
            raise CaptureError(path, f"truncated block ({len(body) + 8} of {blen} bytes)", offset)
        body = body[: blen - 12]
        if btype == 1:  # interface description
            linktype = struct.unpack(order + "H", body[:2])[0]
            interfaces.append((linktype, _ts_resol(body[8:], order)))
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, hi, lo, incl = struct.unpack(order + "IIII", body[:16])
            if iface >= len(interfaces):
                raise CaptureError(path, f"packet for undeclared interface {iface}", offset)
            linktype, tick = interfaces[iface]
            yield offset, ((hi << 32) | lo) * tick, linktype, body[20 : 20 + incl]
        elif btype == 3 and interfaces:  # simple packet: interface 0, no time stamp
            (orig,) = struct.unpack(order + "I", body[:4])
            yield offset, 0.0, interfaces[0][0], body[4 : 4 + orig]
        offset += blen


def _ts_resol(options: bytes, order: str) -> float:
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[i : i + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[i + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        i += 4 + length + (-length % 4)
    return 1e-6


# ----------------------------------------------------------------------------- packets


SUPPORTED_LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})


def _ip_of(linktype: int, frame: bytes) -> dpkt.Packet | None:
    try:
        if linktype == 1:
            pkt = dpkt.ethernet.Ethernet(frame).data
        elif linktype in (101, 228, 229, 12, 14):
            version = frame[0] >> 4 if frame else 0
            pkt = dpkt.ip.IP(frame) if version == 4 else dpkt.ip6.IP6(frame) if version == 6 else None
        elif linktype == 113:
            pkt = dpkt.sll.SLL(frame).data
        elif linktype == 276:
            pkt = dpkt.sll2.SLL2(frame).data
        elif linktype in (0, 108):
            inner = frame[4:]
            version = inner[0] >> 4 if inner else 0
            pkt = dpkt.ip.IP(inner) if version == 4 else dpkt.ip6.IP6(inner) if version == 6 else None
        else:
            return None
    except (dpkt.UnpackError, IndexError, struct.error):
        return None
    return pkt if isinstance(pkt, dpkt.ip.IP | dpkt.ip6.IP6) else None


def _addr(pkt: dpkt.Packet, raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if isinstance(pkt, dpkt.ip6.IP6) else socket.AF_INET, raw)


@dataclass(slots=True)
class _Stream:
    src: str
    sport: int
    dst: str
    dport: int
    first_time: float
    last_time: float
    base: int | None = None
    segments: dict[int, bytes] = field(default_factory=dict)
    seg_times: dict[int, float] = field(default_factory=dict)
    size: int = 0
    closed: bool = False

    def add(self, seq: int, data: bytes, t: float, syn: bool) -> None:
        if syn:
            self.base = (seq + 1) & 0xFFFFFFFF
            return
        if not data:
            return
        if self.base is None:
            self.base = seq
        rel = (seq - self.base) & 0xFFFFFFFF
        if rel > MAX_STREAM_BYTES or self.size > MAX_STREAM_BYTES:
            return
        old = self.segments.get(rel)
        if old is None or len(data) > len(old):  # retransmission: keep the longer copy
            self.segments[rel] = data
            self.seg_times.setdefault(rel, t)
            self.size += len(data)

    def assemble(self) -> tuple[bytes, list[tuple[int, float]], int | None]:
        """The stream's bytes, the capture time at byte offsets, and the offset of the
        first gap (None if complete)."""
        out = bytearray()
        times: list[tuple[int, float]] = []
        gap = None
        for rel in sorted(self.segments):
            data = self.segments[rel]
            if rel > len(out):
                gap = len(out)
                break
            if rel + len(data) <= len(out):
                continue  # fully overlapped
            times.append((len(out), self.seg_times[rel]))
            out += data[len(out) - rel :]
        return bytes(out), times, gap


def _host_only(authority: str) -> str:
    """Host of a Host header value: without its port, IPv6 without brackets."""
    a = authority.strip().lower()
    if a.startswith("["):
        return a[1 : a.find("]")] if "]" in a else a[1:]
    return a.rsplit(":", 1)[0] if a.count(":") == 1 else a


def _time_at(times: list[tuple[int, float]], offset: int, default: float) -> float:
    t = default
    for start, ts in times:
        if start > offset:
            break
        t = ts
    return t


def _sni(data: bytes) -> tuple[str, str | None] | None:
    """SNI and TLS version from a ClientHello at the start of ``data``."""
    if len(data) < 44 or data[0] != 0x16 or data[5] != 0x01:
        return None
    try:
        rec = dpkt.ssl.TLSRecord(data)
        hello = dpkt.ssl.TLSHandshake(rec.data).data
    except (dpkt.UnpackError, dpkt.NeedData, struct.error, IndexError, ValueError):
        return None
    if not isinstance(hello, dpkt.ssl.TLSClientHello):
        return None
    name = version = None
    for ext_type, ext_data in getattr(hello, "extensions", []) or []:
        if ext_type == 0 and len(ext_data) > 5:
            ln = struct.unpack(">H", ext_data[3:5])[0]
            name = ext_data[5 : 5 + ln].decode("ascii", "replace").lower()
        elif ext_type == 43 and len(ext_data) >= 3:
            versions = [struct.unpack(">H", ext_data[i : i + 2])[0] for i in range(1, 1 + ext_data[0], 2)]
            version = "TLSv1.3" if 0x0304 in versions else None
    if name is None:
        return None
    return name, version or {0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1"}.get(hello.version)


_REQUEST_START = re.compile(rb"[A-Z][A-Z_-]{1,19}(?=[ \r\n])")


def _http_requests(data: bytes) -> Iterator[tuple[int, bytes, bytes, list[tuple[str, str]], bytes, bool]]:
    """(offset, method, target, headers, body, complete) for each request in a stream.

    Lenient on purpose, as servers are: bare LF line ends, a missing target or version."""
    pos = 0
    while pos < len(data) and _REQUEST_START.match(data, pos):
        crlf, lf = data.find(b"\r\n\r\n", pos), data.find(b"\n\n", pos)
        if crlf < 0 and lf < 0:
            line = data[pos:]
            if line.endswith(b"\n") and line.count(b"\n") == 1:  # HTTP/0.9: a request line alone
                parts = line.split()
                yield pos, parts[0], parts[1] if len(parts) > 1 else b"/", [], b"", True
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
        complete = True
        if "chunked" in lower.get("transfer-encoding", "").lower():
            body = bytearray()
            i = body_start
            while True:
                eol = data.find(b"\r\n", i)
                if eol < 0:
                    complete = False
                    break
                try:
                    size = int(data[i:eol].split(b";")[0], 16)
                except ValueError:
                    complete = False
                    break
                i = eol + 2
                if size == 0:
                    trailer = data.find(b"\r\n\r\n", i - 2)
                    i = trailer + 4 if trailer >= 0 else len(data)
                    break
                body += data[i : i + size]
                if i + size > len(data):
                    complete = False
                i += size + 2
            yield pos, method, target, headers, bytes(body), complete
            pos = i
        else:
            try:
                length = max(0, int(lower.get("content-length", "0") or 0))
            except ValueError:
                length = 0
            body = data[body_start : body_start + length]
            complete = len(body) == length
            yield pos, method, target, headers, body, complete
            pos = body_start + len(body)


# ----------------------------------------------------------------------------- the reader


class _PcapReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.streams: dict[tuple[str, int, str, int], _Stream] = {}
        self.names: dict[str, str] = {}  # ip -> name, from DNS answers
        self.fragments: dict[tuple, dict[int, tuple[bytes, bool]]] = {}
        self.quic = QuicNames()
        self.count = 0

    def packet(self, t: float, linktype: int, frame: bytes) -> Iterator[CaptureItem]:
        ip = _ip_of(linktype, frame)
        if ip is None:
            return
        if isinstance(ip, dpkt.ip.IP) and (ip.mf or ip.offset):
            key = (ip.src, ip.dst, ip.id, ip.p)
            seg = self.defragment(key, ip.p, ip.offset, bool(ip.mf), ip.data)
        elif isinstance(ip, dpkt.ip6.IP6) and 44 in ip.extension_hdrs:
            frag = ip.extension_hdrs[44]
            if frag.frag_off or frag.m_flag:
                key = (ip.src, ip.dst, frag.id, frag.nxt)
                seg = self.defragment(key, frag.nxt, frag.frag_off * 8, bool(frag.m_flag), ip.data)
            else:
                seg = ip.data  # an atomic fragment: the whole datagram
        else:
            seg = ip.data
        if seg is None:
            return
        src, dst = _addr(ip, ip.src), _addr(ip, ip.dst)
        if isinstance(seg, dpkt.tcp.TCP):
            key = (src, seg.sport, dst, seg.dport)
            s = self.streams.get(key)
            if s is None:
                if len(self.streams) >= MAX_STREAMS:
                    oldest = min(self.streams, key=lambda k: self.streams[k].last_time)
                    yield from self.close(oldest)
                s = self.streams[key] = _Stream(src, seg.sport, dst, seg.dport, t, t)
            s.last_time = t
            s.add(seg.seq, bytes(seg.data), t, bool(seg.flags & dpkt.tcp.TH_SYN))
            if seg.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
                yield from self.close(key)
        elif isinstance(seg, dpkt.udp.UDP) and 53 in (seg.sport, seg.dport):
            yield from self.dns(t, bytes(seg.data), src)
        elif isinstance(seg, dpkt.udp.UDP):
            payload = bytes(seg.data)
            if payload[:1] and payload[0] & 0xC0 == 0xC0:  # a QUIC long header
                name = self.quic.feed(payload)
                if name is not None:
                    yield Contact(t, name, dst, seg.dport, "quic-sni", "QUICv1")
        self.count += 1
        if self.count % 5000 == 0:
            idle = [k for k, s in self.streams.items() if t - s.last_time > IDLE_SECONDS]
            for k in idle:
                yield from self.close(k)

    def defragment(self, key: tuple, proto: int, offset: int, more: bool, data: object) -> dpkt.Packet | None:
        """IPv4/IPv6 fragment reassembly: the transport segment once every fragment of the
        datagram is in, else None."""
        frags = self.fragments.setdefault(key, {})
        frags[offset] = (bytes(data) if not isinstance(data, bytes) else data, not more)  # type: ignore[call-overload]
        if len(self.fragments) > MAX_FRAGMENTED:
            self.fragments.pop(next(iter(self.fragments)))
        whole = bytearray()
        for off in sorted(frags):
            piece, last = frags[off]
            if off > len(whole):
                return None  # still missing a piece
            whole[off:] = piece
            if last:
                del self.fragments[key]
                parser = {6: dpkt.tcp.TCP, 17: dpkt.udp.UDP}.get(proto)
                if parser is None or len(whole) > 65535:
                    return None
                try:
                    return parser(bytes(whole))
                except (dpkt.UnpackError, struct.error):
                    return None
        return None

    def dns(self, t: float, payload: bytes, src: str) -> Iterator[CaptureItem]:
        try:
            msg = dpkt.dns.DNS(payload)
        except (dpkt.UnpackError, struct.error, IndexError):
            return
        if msg.qr == dpkt.dns.DNS_Q:
            for q in msg.qd:
                yield Contact(t, q.name.lower(), None, 53, "dns")
            return
        for an in msg.an:
            if an.type in (dpkt.dns.DNS_A, dpkt.dns.DNS_AAAA):
                fam = socket.AF_INET if an.type == dpkt.dns.DNS_A else socket.AF_INET6
                addr = socket.inet_ntop(fam, an.rdata)
                name = (msg.qd[0].name if msg.qd else an.name).lower()
                self.names[addr] = name
                yield Contact(t, name, addr, None, "dns")

    def close(self, key: tuple[str, int, str, int]) -> Iterator[CaptureItem]:
        s = self.streams.pop(key, None)
        if s is None:
            return
        data, times, gap = s.assemble()
        if not data:
            return
        host_for_ip = self.names.get(s.dst, s.dst)
        hello = _sni(data)
        if hello is not None:
            yield Contact(s.first_time, hello[0], s.dst, s.dport, "tls-sni", hello[1])
            return
        for n, (off, method, target, headers, body, complete) in enumerate(_http_requests(data)):
            t = _time_at(times, off, s.first_time)
            m = method.decode("latin-1")
            hdr = {k.lower(): v for k, v in headers}
            host = _host_only(hdr.get("host", "")) or host_for_ip
            tgt = target.decode("latin-1")
            if m == "CONNECT":
                h, _, p = tgt.rpartition(":")
                yield Contact(t, h.lower(), s.dst, int(p) if p.isdigit() else s.dport, "http-connect")
                continue
            scheme = "http"
            if "://" in tgt:  # absolute form (proxy requests)
                scheme, _, rest = tgt.partition("://")
                authority, slash, path = rest.partition("/")
                host = authority.split(":")[0].lower() or host
                tgt = slash + path
                scheme = scheme.lower()
            flow_id = f"pcap:{s.src}:{s.sport}-{s.dst}:{s.dport}:{n}"
            yield Contact(t, host, s.dst, s.dport, "http", None, flow_id)
            yield RequestRecord(
                flow_id=flow_id, time=t, method=m, scheme=scheme, host=host or s.dst, port=s.dport,
                path=tgt or "/", headers=tuple(headers), body=body, server_ip=s.dst,
                body_truncated=not complete or (gap is not None and off + len(body) >= gap),
            )

    def flush(self) -> Iterator[CaptureItem]:
        for key in sorted(self.streams, key=lambda k: self.streams[k].first_time):
            yield from self.close(key)


def iter_pcap(path: str) -> Iterator[CaptureItem]:
    reader = _PcapReader(path)
    error: CaptureError | None = None
    with open_maybe_compressed(path) as fh:
        head = _read_exact(fh, 4)
        if head in _PCAP_MAGIC:
            frames = _pcap_frames(path, fh, head)
        elif head == b"\x0a\x0d\x0d\x0a":
            frames = _pcapng_frames(path, fh, head + _read_exact(fh, 8))
        else:
            raise CaptureError(path, "not a pcap or pcapng file", 0)
        unsupported: dict[int, tuple[int, int]] = {}  # link type -> (first offset, count)
        try:
            for offset, t, linktype, frame in frames:
                if linktype not in SUPPORTED_LINKTYPES:
                    first, n = unsupported.get(linktype, (offset, 0))
                    unsupported[linktype] = (first, n + 1)
                    continue
                yield from reader.packet(t, linktype, frame)
        except CaptureError as e:
            error = e
        except (OSError, EOFError) as e:
            error = CaptureError(path, f"read error: {e}")
        if error is None and unsupported:
            linktype, (first, n) = min(unsupported.items(), key=lambda kv: kv[1][0])
            error = CaptureError(path, f"{n} packets of unsupported link type {linktype} skipped", first)
    yield from reader.flush()
    if error is not None:
        raise error
