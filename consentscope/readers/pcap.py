"""pcap and pcapng captures: plain HTTP requests as records, TLS/QUIC/DNS/HTTP as contacts.

This module only wires the layers together, one module each, as dpkt keeps one per
protocol: framing (``_pcapfile``, ``_pcapng``, magic numbers in ``_magic``), the common
frames' TCP/UDP segments without dpkt (``_fastpath``: Ethernet/raw/cooked, unfragmented IPv4
or IPv6, the same answers), other link types to IP (``_link``, dpkt), fragments (``_ip``),
TCP reassembly (``_tcp``; dpkt has none), HTTP/1 (``_http1``), the ClientHello of TLS and
QUIC (``_tls_hello``, ``_quic``) and DNS (``_dns``, dpkt). What encryption hides still
counts: every ClientHello's SNI and every DNS answer becomes a ``Contact``.

Every bound is a field of ``Limits``. Damage is isolated per packet and per stream: a
packet or stream that no layer can make sense of costs only itself, and is counted in
``anomalies`` (by name) when the caller passes a dict. Damage to the framing itself ends
the file: every complete item is yielded, then one ``CaptureError`` names file and offset.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dpkt

from consentscope.detectors import DEFAULT_LIMITS, Limits, RequestRecord

from . import _magic, _pcapfile, _pcapng
from ._base import CaptureError, CaptureItem, Contact
from ._dns import lookups
from ._fastpath import Segment, segment_of
from ._http1 import connect_port, host_only, requests
from ._ip import Defragmenter
from ._link import SUPPORTED_LINKTYPES, addresses, ip_of
from ._open import open_maybe_compressed
from ._quic import QuicNames
from ._tcp import Stream, Streams, time_at
from ._tls_hello import ClientHello, tls_client_hello

if TYPE_CHECKING:
    from ._keylog import KeyLog
    from ._quicdecrypt import QuicConnection, QuicDecryptor

__all__ = ["SUPPORTED_LINKTYPES", "iter_pcap"]

#: Idle streams are looked for every this many packets (a scan of the open streams).
_IDLE_CHECK_PACKETS = 5000
#: Common frames are read by ``_fastpath`` rather than dpkt (the same segments; tests turn
#: it off to compare both paths on whole captures).
FAST_PATH = True

_IP4, _TCP, _UDP = dpkt.ip.IP, dpkt.tcp.TCP, dpkt.udp.UDP
_MF_OFFSET = dpkt.ip.IP_MF | dpkt.ip.IP_OFFMASK
_SYN, _FIN_RST = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST

#: Server-to-client bytes kept for decryption (ServerHello, the handshake, HTTP/2 SETTINGS):
#: requests come from the client, so the rest of a large response is not needed. Cut at a
#: TLS record boundary.
MAX_SERVER_HANDSHAKE_BYTES = 256 * 1024
#: Server directions parked until their client direction closes (a connection's server may
#: close first); beyond this many the oldest is dropped and its connection says "no-key".
MAX_PARKED_SERVERS = 4096
#: Why a QUIC connection is not read: the key log has no secrets for it (or there is none);
#: with them ``_quicdecrypt`` reads its HTTP/3 requests.
QUIC_NOT_DECRYPTED = "unsupported-protocol"

#: What one bad packet or stream can raise from our layers or dpkt's; caught per packet
#: and per stream so that it costs only itself.
_RECORD_ERRORS = (dpkt.Error, struct.error, IndexError, KeyError, ValueError, OverflowError)


class _PcapReader:
    def __init__(self, path: str, limits: Limits, anomalies: dict[str, int] | None,
                 keylog: KeyLog | None = None) -> None:
        self.path = path
        #: decrypting only when there is a secret to decrypt with
        self.keylog = keylog if keylog is not None and len(keylog) else None
        self.parked: OrderedDict[tuple[str, int, str, int], tuple[bytes, bool]] = OrderedDict()
        self.limits = limits
        self.anomalies = anomalies
        self.streams = Streams(limits, self.anomaly)
        self.names: OrderedDict[str, str] = OrderedDict()  # ip -> name, from DNS answers
        self.defrag = Defragmenter(limits)
        self.quic = QuicNames(limits)
        self.quicdec: QuicDecryptor | None = None
        if self.keylog is not None:  # imported only to decrypt, as _tlsdecrypt is
            from ._quicdecrypt import QuicDecryptor

            self.quicdec = QuicDecryptor(self.keylog, limits, self.anomaly)
        self.count = 0

    def anomaly(self, name: str) -> None:
        if self.anomalies is not None:
            self.anomalies[name] = self.anomalies.get(name, 0) + 1

    def packet(self, t: float, linktype: int, frame: bytes) -> Iterator[CaptureItem]:
        seg = segment_of(linktype, frame) if FAST_PATH else None  # the common frames, without dpkt
        if seg is None:
            seg = self.dpkt_segment(linktype, frame)
            if seg is None:
                return
        proto, src, sport, dst, dport, seq, flags, payload = seg
        if proto == 6:
            key = (src, sport, dst, dport)
            for s in self.streams.segment(key, t, seq, payload, bool(flags & _SYN)):
                yield from self.assembled(s)
            if flags & _FIN_RST:
                closed = self.streams.pop(key)
                if closed is not None:
                    yield from self.assembled(closed)
        elif proto == 17 and 53 in (sport, dport):
            yield from self.dns(t, payload)
        elif proto == 17:
            if payload[:1] and payload[0] & 0xC0 == 0xC0:  # a QUIC long header
                hello = self.quic.feed_hello(payload)
                if hello is not None and hello.sni is not None:
                    yield from self.quic_hello(t, hello, payload, src, sport, dst, dport)
            if self.quicdec is not None and len(self.quicdec) and payload[:1] and payload[0] & 0x40:
                for conn in self.quicdec.datagram(t, payload, src, sport, dst, dport):
                    yield from self.quic_done(conn)
        self.count += 1
        if self.count % _IDLE_CHECK_PACKETS == 0:
            for s in self.streams.pop_idle(t):
                yield from self.assembled(s)
            if self.quicdec is not None:
                for conn in self.quicdec.idle(t):
                    yield from self.quic_done(conn)

    def dpkt_segment(self, linktype: int, frame: bytes) -> Segment | None:
        """What ``segment_of`` gives, read by dpkt and for every frame: other link layers,
        fragments (reassembled), extension headers. Protocol 0: an IP packet that is
        neither TCP nor UDP (counted, nothing else). None: not IP, or a fragment still
        waiting for its other pieces."""
        ip = ip_of(linktype, frame)
        if ip is None:
            return None
        if type(ip) is _IP4 and not ip._flags_offset & _MF_OFFSET:  # not a fragment: the common case
            seg = ip.data
        else:
            seg = self.defrag.payload(ip)
            if seg is None:
                return None
        src, dst = addresses(ip)
        kind = type(seg)
        if kind is _TCP:
            return 6, src, seg.sport, dst, seg.dport, seg.seq, seg.flags, bytes(seg.data)
        if kind is _UDP:
            return 17, src, seg.sport, dst, seg.dport, 0, 0, bytes(seg.data)
        return 0, src, 0, dst, 0, 0, 0, b""

    def quic_hello(self, t: float, hello: ClientHello, payload: bytes, src: str, sport: int, dst: str,
                   dport: int) -> Iterator[CaptureItem]:
        """A QUIC connection's ClientHello: decrypted later if the key log has its secrets,
        else a contact now."""
        assert hello.sni is not None
        if self.quicdec is not None:
            conn, finished = self.quicdec.start(t, hello.random, hello.sni, payload, src, sport, dst, dport)
            for old in finished:
                yield from self.quic_done(old)
            if conn is not None:
                return
        yield Contact(t, hello.sni, dst, dport, "quic-sni", "QUICv1", decrypted=False, reason=QUIC_NOT_DECRYPTED)

    def quic_done(self, conn: QuicConnection) -> Iterator[CaptureItem]:
        """The contact and records of a decrypted QUIC connection, once it is over."""
        from ._h2 import MAX_BODY

        (src, sport), (dst, dport) = conn.client, conn.server
        ok = conn.decrypted > 0 or conn.failed == 0
        if not ok:
            self.anomaly("quic-not-decrypted")
        yield Contact(conn.first_time, conn.sni, dst, dport, "quic-sni", "QUICv1", decrypted=ok,
                      reason=None if ok else "bad-record")
        try:
            yield from conn.records(f"pcap:{src}:{sport}-{dst}:{dport}:quic", MAX_BODY, self.anomaly)
        except _RECORD_ERRORS:
            self.anomaly("quic-connection-unparsable")

    def dns(self, t: float, payload: bytes) -> Iterator[CaptureItem]:
        found = lookups(payload)
        if found is None:
            self.anomaly("dns-unparsable")
            return
        for name, address in found:
            if address is None:
                yield Contact(t, name, None, 53, "dns")
                continue
            self.names[address] = name
            self.names.move_to_end(address)
            if len(self.names) > self.limits.max_dns_names:
                self.names.popitem(last=False)
            yield Contact(t, name, address, None, "dns")

    def assembled(self, s: Stream) -> Iterator[CaptureItem]:
        """Items of a closed stream; a stream that breaks a layer costs only itself."""
        try:
            yield from self._assembled(s)
        except _RECORD_ERRORS:
            self.anomaly("tcp-stream-unparsable")

    def _assembled(self, s: Stream) -> Iterator[CaptureItem]:
        data, times, gap = s.assemble()
        if not data:
            return
        if s.size > self.limits.max_stream_bytes:
            self.anomaly("tcp-stream-truncated")
        if self.keylog is not None and data[:1] == b"\x16" and data[5:6] == b"\x02":
            self._park_server(s, data, gap is not None)  # a ServerHello: wait for its client
            return
        hello = tls_client_hello(data)
        if hello is not None and self.keylog is not None:
            yield from self._decrypted(s, data, times, gap, hello)
            return
        if hello is not None and hello.sni is not None:
            yield Contact(s.first_time, hello.sni, s.dst, s.dport, "tls-sni", hello.tls_version, decrypted=False,
                          reason="no-key")
            return
        host_for_ip = self.names.get(s.dst, s.dst)
        for n, req in enumerate(requests(data)):
            t = time_at(times, req.offset, s.first_time)
            m = req.method.decode("latin-1")
            hdr = {k.lower(): v for k, v in req.headers}
            host = host_only(hdr.get("host", "")) or host_for_ip
            tgt = req.target.decode("latin-1")
            if m == "CONNECT":
                h, _, p = tgt.rpartition(":")
                yield Contact(t, h.lower(), s.dst, connect_port(p, s.dport), "http-connect")
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
                path=tgt or "/", headers=tuple(req.headers), body=req.body, server_ip=s.dst,
                body_truncated=not req.complete or (gap is not None and req.offset + len(req.body) >= gap),
            )

    def _park_server(self, s: Stream, data: bytes, gap: bool) -> None:
        self.parked[(s.dst, s.dport, s.src, s.sport)] = (_handshake_part(data), gap)
        while len(self.parked) > MAX_PARKED_SERVERS:
            self.parked.popitem(last=False)

    def _server_side(self, s: Stream) -> tuple[bytes, bool]:
        """The server-to-client bytes of the connection whose client direction is ``s``."""
        key = (s.src, s.sport, s.dst, s.dport)
        parked = self.parked.pop(key, None)
        if parked is not None:
            return parked
        other = self.streams.pop((s.dst, s.dport, s.src, s.sport))
        if other is None:
            return b"", False
        data, _, gap = other.assemble()
        return _handshake_part(data), gap is not None

    def _decrypted(self, s: Stream, data: bytes, times: list[tuple[int, float]], gap: int | None,
                   hello: ClientHello) -> Iterator[CaptureItem]:
        from ._httpparse import https_records
        from ._tlsdecrypt import decrypt_connection

        assert self.keylog is not None
        server, server_gap = self._server_side(s)
        msg = data[5 : 9 + int.from_bytes(data[6:9], "big")]  # what ``hello`` was parsed from: not parsed twice
        result = decrypt_connection(data, server, self.keylog, client_gap=gap is not None, server_gap=server_gap,
                                    client_hello=(msg, hello))
        if not result.decrypted:
            self.anomaly(f"tls-not-decrypted:{result.reason}")
        yield Contact(s.first_time, hello.sni or "", s.dst, s.dport, "tls-sni", hello.tls_version,
                      decrypted=result.decrypted, reason=result.reason)
        yield from https_records(
            result, server_ip=s.dst, port=s.dport, flow_prefix=f"pcap:{s.src}:{s.sport}-{s.dst}:{s.dport}",
            time_at=lambda off: time_at(times, off, s.first_time), http1=requests,
        )

    def flush(self) -> Iterator[CaptureItem]:
        for s in self.streams.pop_all():
            yield from self.assembled(s)
        if self.quicdec is not None:
            for conn in self.quicdec.all():
                yield from self.quic_done(conn)
        if self.defrag.dropped and self.anomalies is not None:
            self.anomalies["ip-fragments-dropped"] = self.defrag.dropped


def _handshake_part(data: bytes) -> bytes:
    """The first ``MAX_SERVER_HANDSHAKE_BYTES`` of a server stream, cut after a whole record."""
    if len(data) <= MAX_SERVER_HANDSHAKE_BYTES:
        return data
    pos = 0
    while pos + 5 <= len(data):
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        if end > MAX_SERVER_HANDSHAKE_BYTES:
            break
        pos = end
    return data[:pos]


def pcapng_secrets(path: str, limits: Limits = DEFAULT_LIMITS) -> list[bytes]:
    """The key logs of every Decryption Secrets Block of a pcapng, wherever they are in it.

    PCAPdroid writes secrets between the packets and sometimes after them, so they are read
    in a first pass before any connection is decrypted; damage ends the pass quietly (the
    reading pass reports it)."""
    out: list[bytes] = []
    with open_maybe_compressed(path) as fh:
        head = _pcapfile.read_exact(fh, 4)
        if _magic.packet_format_of(head) != "pcapng":
            return out
        try:
            head += _pcapfile.read_exact(fh, 8)
            for _ in _pcapng.frames(path, fh, head, limits, out, None):
                pass
        except (CaptureError, OSError, EOFError):
            pass
    return out


def iter_pcap(
    path: str, secrets: list[bytes] | None = None, limits: Limits = DEFAULT_LIMITS,
    anomalies: dict[str, int] | None = None, keylog: KeyLog | None = None,
) -> Iterator[CaptureItem]:
    """Items of a pcap or pcapng file (optionally gzip/xz/zstd compressed) in capture order.

    ``secrets``: a list to which the TLS key log of each pcapng Decryption Secrets Block
    is appended (NSS key log text, in file order). ``keylog``: TLS secrets (``--keylog``
    files); the pcapng's own Decryption Secrets Blocks are added to it first, and every TLS
    connection it has secrets for is decrypted into the records the proxy would have made
    (``_tlsdecrypt``, ``_httpparse``), every QUIC connection into its HTTP/3 requests
    (``_quicdecrypt``, when the connection closes or the capture ends); each TLS contact says
    whether it was decrypted and why not (``no-key``, ``unsupported-suite``,
    ``handshake-missing``, ``stream-gap``, ``bad-record``), each QUIC contact likewise
    (``unsupported-protocol`` without secrets, ``bad-record``). ``anomalies``: a dict counting, by
    name, packets and streams skipped as unreadable. Damage to the file's framing ends it:
    every complete item is yielded, then ``CaptureError`` names the file and offset."""
    if keylog is not None:
        for text in pcapng_secrets(path, limits):
            keylog.add_text(text)
    reader = _PcapReader(path, limits, anomalies, keylog)
    error: CaptureError | None = None
    unsupported: dict[int, tuple[int, int]] = {}  # link type -> (first offset, count)
    with open_maybe_compressed(path) as fh:
        head = _pcapfile.read_exact(fh, 4)
        kind = _magic.packet_format_of(head)
        if kind is None:
            raise CaptureError(path, "not a pcap or pcapng file", 0)
        try:
            if kind == "pcap":
                frames = _pcapfile.frames(path, fh, head, limits)
            else:
                head += _pcapfile.read_exact(fh, 8)
                frames = _pcapng.frames(path, fh, head, limits, secrets, anomalies)
            for offset, t, linktype, frame in frames:
                if linktype not in SUPPORTED_LINKTYPES:
                    first, n = unsupported.get(linktype, (offset, 0))
                    unsupported[linktype] = (first, n + 1)
                    continue
                try:
                    yield from reader.packet(t, linktype, frame)
                except _RECORD_ERRORS:
                    reader.anomaly("packet-unparsable")
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
