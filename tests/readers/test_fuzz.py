"""Fuzz invariant of the readers (h11's fuzz/afl-server.py idea, with hypothesis): for any
bytes, a reader yields records and contacts, then ends or raises CaptureError naming the
file. Valid seed captures with every layer in them (HTTP/1 plain and chunked, TLS, QUIC,
DNS, IPv4 fragments, IPv6; pcapng with interfaces, options and secrets; HAR) are mutated:
bytes flipped, inserted, deleted, lengths set to extremes, the file cut anywhere.
Derandomized, so a run is repeatable; a few seconds each."""

from __future__ import annotations

import functools
import gzip
import json
import lzma
import os
import socket
import struct
import tempfile
from collections.abc import Callable, Iterator

import dpkt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentscope.detectors import RequestRecord
from consentscope.readers import CaptureError, Contact
from consentscope.readers.capture import read_capture
from consentscope.readers.har import iter_har
from consentscope.readers.pcap import iter_pcap

from ._build import IDB_ETHERNET, SHB, block, epb, ether, stream_frames, tcp_packet, udp_packet
from .test_pcap import _client_hello, _quic_initial
from .test_tls_hello import _real_hello

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def _frames() -> tuple[bytes, ...]:
    """Ethernet frames exercising every layer of the pcap reader."""
    chunked = (b"POST /c HTTP/1.1\r\nHost: a.example.net\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\nGET /lf HTTP/1.1\nHost: b.example.net\n\n")
    frames = stream_frames(chunked, sport=41000)
    frames += stream_frames(b"CONNECT c.example.net:443 HTTP/1.1\r\n\r\n", sport=41001, dport=3128)
    hello = _client_hello("tls.example.net")
    frames += stream_frames(hello, sport=41002, dport=443)
    dns = dpkt.dns.DNS(id=1, qr=dpkt.dns.DNS_R, qd=[dpkt.dns.DNS.Q(name="tls.example.net")],
                       an=[dpkt.dns.DNS.RR(name="tls.example.net", type=dpkt.dns.DNS_A, cls=1, ttl=60,
                                           rdata=socket.inet_aton("203.0.113.7"))])
    frames.append(ether(udp_packet(bytes(dns))))
    quic = _quic_initial(bytes.fromhex("8394c8f03e515708"), _real_hello("quic.example.net")[5:])
    frames.append(ether(udp_packet(quic, sport=50000, dport=443, src="10.9.0.2", dst="203.0.113.8")))
    tcp = bytes(dpkt.tcp.TCP(sport=41003, dport=80, seq=1, flags=dpkt.tcp.TH_ACK, data=b"GET /f HTTP/1.1\r\n\r\n"))
    for a, b, mf in ((0, 24, 1), (24, len(tcp), 0)):
        ip = dpkt.ip.IP(src=socket.inet_aton("10.9.0.2"), dst=socket.inet_aton("10.9.0.1"), p=6, id=9, mf=mf, offset=a // 8)
        ip.data = tcp[a:b]
        ip.len = 20 + b - a
        frames.append(ether(bytes(ip)))
    frames.append(ether(tcp_packet(1, b"GET /6 HTTP/1.1\r\n\r\n", src="2001:db8::2", dst="2001:db8::1", v6=True), v6=True))
    return tuple(frames)


@functools.cache
def pcap_seed() -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(_frames()):
        out += struct.pack("<IIII", 1_772_445_600 + i, 0, len(f), len(f)) + f
    return out


@functools.cache
def pcapng_seed() -> bytes:
    idb_ns = block(1, struct.pack("<HHI", 101, 0, 65535) + struct.pack("<HHB3x", 9, 1, 9) + b"\x00" * 4)
    dsb = block(0x0A, struct.pack("<II", 0x544C534B, 20) + b"CLIENT_RANDOM aa bb\n")
    raw = block(6, struct.pack("<IIIII", 1, 0, 0, 40, 40) + tcp_packet(1, b"GET /r HTTP/1.1\r\n\r\n")[:40])
    spb = block(3, struct.pack("<I", len(_frames()[0])) + _frames()[0])
    return SHB + IDB_ETHERNET + idb_ns + dsb + b"".join(epb(f) for f in _frames()) + raw + spb


@functools.cache
def har_seed() -> bytes:
    def entry(i: int) -> dict:
        return {"startedDateTime": "2026-03-02T18:00:00.250+08:00", "serverIPAddress": "203.0.113.5",
                "request": {"method": "POST" if i % 2 else "GET", "url": f"https://h{i}.example.net/p?q={i}",
                            "httpVersion": "HTTP/2", "headers": [{"name": "User-Agent", "value": "okhttp"}],
                            "postData": {"mimeType": "text/plain", "text": "eyJhIjoxfQ==", "encoding": "base64"}},
                "response": {"status": 200, "content": {"text": "caf\u00e9 \\\" [{"}}, "timings": {"wait": 1.5}}
    doc = {"log": {"version": "1.2", "creator": {"name": "t"}, "entries": [entry(i) for i in range(3)], "pages": []}}
    return b"\xef\xbb\xbf" + json.dumps(doc, indent=1).encode()


_EXTREMES = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x0c\x00\x00\x00", b"-5\r\n",
             b"\n\n", b'"', b"[[[[", b"9" * 40, b"\\"]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, keep_head: int = 0) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(keep_head, max(keep_head, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "extreme"]))
        if op == "flip":
            data[pos : pos + 1] = bytes([(data[pos] if pos < len(data) else 0) ^ draw(st.integers(1, 255))])
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 24))]
        else:
            value = draw(st.sampled_from(_EXTREMES))
            data[pos : pos + len(value)] = value
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


def holds(data: bytes, read: Callable[[str], Iterator[object]], suffix: str) -> None:
    """The invariant: items of the two kinds, then the end or one CaptureError naming the file."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            for item in read(path):
                assert isinstance(item, RequestRecord | Contact)
        except CaptureError as e:
            assert e.path == path
    finally:
        os.unlink(path)


def test_seeds_are_read_whole() -> None:
    """The seeds reach every layer: mutations start from captures that parse."""
    for data, read, suffix in ((pcap_seed(), iter_pcap, ".pcap"), (pcapng_seed(), iter_pcap, ".pcapng"),
                               (har_seed(), iter_har, ".har")):
        fd, path = tempfile.mkstemp(suffix=suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        items = list(read(path))
        os.unlink(path)
        vias = {i.via for i in items if isinstance(i, Contact)}
        assert any(isinstance(i, RequestRecord) for i in items)
        if read is iter_pcap:
            assert {"http", "tls-sni", "http-connect", "dns", "quic-sni"} <= vias


@FUZZ
@given(mutated(pcap_seed(), keep_head=4))
def test_pcap(data: bytes) -> None:
    holds(data, iter_pcap, ".pcap")


@FUZZ
@given(mutated(pcapng_seed(), keep_head=4))
def test_pcapng(data: bytes) -> None:
    holds(data, iter_pcap, ".pcapng")


@FUZZ
@given(mutated(har_seed()))
def test_har(data: bytes) -> None:
    holds(data, iter_har, ".har")


_PACK = {"gzip": lambda b: gzip.compress(b, mtime=0), "xz": lzma.compress,
         "zstd": lambda b: __import__("zstandard").ZstdCompressor(write_checksum=True).compress(b)}


@FUZZ
@given(st.sampled_from(sorted(_PACK)), st.sampled_from(["pcap", "pcapng", "har"]), st.data())
def test_compressed_container(kind: str, inner: str, data: st.DataObject) -> None:
    seed = {"pcap": pcap_seed, "pcapng": pcapng_seed, "har": har_seed}[inner]()
    packed = _PACK[kind](seed)
    holds(data.draw(mutated(packed, keep_head=8)), read_capture, f".{inner}.{kind}")


@FUZZ
@given(st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"{", b"\x1f\x8b", b"\xfd7zXZ\x00", b"x\x9c"]),
       st.binary(max_size=400))
def test_any_bytes_after_a_magic_number(magic: bytes, rest: bytes) -> None:
    holds(magic + rest, read_capture, ".bin")
