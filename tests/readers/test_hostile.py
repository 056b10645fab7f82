"""Hostile captures (issue 16): each crash or hang found by fuzzing, as hand-made bytes.

The invariant: for any bytes a reader yields items and then ends or raises CaptureError;
a bad packet, stream or block costs only itself (counted in ``anomalies``).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import random
import signal
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest

from consentscope.detectors import Limits, RequestRecord
from consentscope.readers import Contact
from consentscope.readers._http1 import requests
from consentscope.readers._tcp import Streams
from consentscope.readers.capture import read_capture
from consentscope.readers.pcap import iter_pcap

from ._build import REQUEST, ether, read_all, stream_frames, tcp_packet, udp_packet, write_pcap


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """A hang becomes a failure instead of a stuck test run."""
    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def hosts(items: list, via: str | None = None) -> list[str]:
    if via is None:
        return [i.host for i in items if isinstance(i, RequestRecord)]
    return [i.host for i in items if isinstance(i, Contact) and i.via == via]


def _dns_query(qname: bytes) -> bytes:
    return struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)


def _label_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def test_dns_name_that_is_not_utf8_costs_only_its_message(tmp_path: Path) -> None:
    bad = _dns_query(b"\x03\xff\xfe\xfd\x03com\x00")  # dpkt decodes labels as UTF-8
    good = _dns_query(_label_name("ok.example.net"))
    path = tmp_path / "dns.pcap"
    write_pcap(path, [ether(udp_packet(bad, sport=5353, dport=53)), ether(udp_packet(good, sport=5353, dport=53))])
    anomalies: dict[str, int] = {}
    items, error = read_all(iter_pcap, path, anomalies=anomalies)
    assert error is None and hosts(items, "dns") == ["ok.example.net"]
    assert anomalies == {"dns-unparsable": 1}


def test_a_record_of_the_wrong_length_is_skipped_alone(tmp_path: Path) -> None:
    qname = _label_name("a.example.net")
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 3) + b"\x01\x02\x03"  # an A record of 3 bytes
    rr += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 9])
    msg = struct.pack(">HHHHHH", 7, 0x8180, 1, 2, 0, 0) + qname + struct.pack(">HH", 1, 1) + rr
    path = tmp_path / "a.pcap"
    write_pcap(path, [ether(udp_packet(msg))])
    items, error = read_all(iter_pcap, path)
    assert error is None
    assert [(c.host, c.ip) for c in items if isinstance(c, Contact)] == [("a.example.net", "203.0.113.9")]


def test_ipv6_header_dpkt_cannot_parse(tmp_path: Path) -> None:
    """A fragment header followed by ESP: dpkt.ip6.IP6 raises AttributeError (found by
    fuzzing dpkt's IPv6 parser with random next headers)."""
    bad = bytes.fromhex("60000000cd692c00" + "00" * 32 + "3257e16eed1b3a756d8a8ef562dcd0edd1fe9958e86c")
    with pytest.raises(AttributeError):
        dpkt.ip6.IP6(bad)
    path = tmp_path / "v6.pcap"
    write_pcap(path, [bad, tcp_packet(1, REQUEST), tcp_packet(1 + len(REQUEST), flags=dpkt.tcp.TH_FIN)], linktype=101)
    items, error = read_all(iter_pcap, path)
    assert error is None and hosts(items) == ["sdk.example.net"]


def _client_hello(extensions: bytes) -> bytes:
    body = struct.pack(">H", 0x0303) + bytes(range(32)) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack(">H", len(extensions)) + extensions
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(msg)) + msg


def _ext(etype: int, data: bytes) -> bytes:
    return struct.pack(">HH", etype, len(data)) + data


def test_odd_length_supported_versions_extension(tmp_path: Path) -> None:
    name = b"odd.example.net"
    sni = _ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)
    versions = _ext(43, b"\x03\x03\x04\x03")  # a list of 3 bytes: one and a half versions
    hello = _client_hello(sni + versions)
    path = tmp_path / "tls.pcap"
    write_pcap(path, [ether(tcp_packet(1, hello, dport=443)),
                      ether(tcp_packet(1 + len(hello), flags=dpkt.tcp.TH_FIN, dport=443))])
    items, error = read_all(iter_pcap, path)
    assert error is None
    assert [(c.host, c.tls_version) for c in items if isinstance(c, Contact)] == [("odd.example.net", "TLSv1.3")]


@pytest.mark.parametrize("port", ["\xb2".encode("latin-1"), "٨٠".encode(), b"99999999999999999999"])
def test_connect_port_that_is_not_ascii_digits(tmp_path: Path, port: bytes) -> None:
    """'²' passes str.isdigit but int() rejects it; '٨٠' int() would read as 80; a port
    beyond 65535 is no port. All fall back to the connection's own port."""
    data = b"CONNECT api.example.net:" + port + b" HTTP/1.1\r\nHost: api.example.net\r\n\r\n"
    path = tmp_path / "connect.pcap"
    write_pcap(path, stream_frames(data, dport=8080))
    items, error = read_all(iter_pcap, path)
    assert error is None
    assert [(c.host, c.port) for c in items if isinstance(c, Contact)] == [("api.example.net", 8080)]


@pytest.mark.parametrize("compress", ["gzip", "xz", "zstd"])
def test_corrupt_compressed_data_past_the_first_kilobytes(tmp_path: Path, compress: str) -> None:
    import zstandard

    rnd = random.Random(16)
    frames = []
    for i in range(400):  # random bodies, so the compressed stream is long
        req = f"POST /log/{i} HTTP/1.1\r\nHost: sdk.example.net\r\nContent-Length: 100\r\n\r\n".encode()
        frames += stream_frames(req + rnd.randbytes(100), sport=20000 + i)
    plain = tmp_path / "plain.pcap"
    write_pcap(plain, frames)
    pack, unpack, error = {
        "gzip": (lambda b: gzip.compress(b, mtime=0), lambda b: gzip.GzipFile(fileobj=io.BytesIO(b)).read(), zlib.error),
        "xz": (lzma.compress, lambda b: lzma.LZMADecompressor().decompress(b), lzma.LZMAError),
        "zstd": (zstandard.ZstdCompressor(write_checksum=True).compress,
                 lambda b: zstandard.ZstdDecompressor().stream_reader(io.BytesIO(b)).read(1 << 24), zstandard.ZstdError),
    }[compress]
    packed = pack(plain.read_bytes())
    assert len(packed) > 16384
    for at in range(len(packed) * 2 // 3, len(packed), 101):  # damage the library itself rejects
        data = packed[:at] + bytes(b ^ 0x5A for b in packed[at : at + 32]) + packed[at + 32 :]
        try:
            unpack(data)
        except Exception as e:  # e.g. gzip's CRC error is an OSError the readers always caught
            if isinstance(e, error):
                break
    else:
        pytest.fail("no damage found that the decompressor rejects")
    path = tmp_path / f"bad.pcap.{compress}"
    path.write_bytes(data)
    for read in (iter_pcap, read_capture):
        items, err = read_all(read, path)
        assert err is not None and err.offset is not None, err
        if compress != "gzip":  # gzip has no check before its end: garbage may break the framing first
            assert "cannot decompress" in err.message, err
        assert 0 < len(hosts(items)) < 400


def test_negative_chunk_size_ends_the_body(tmp_path: Path) -> None:
    """int("-5", 16) is -5: the walk went back 3 bytes per round, for ever."""
    data = (b"POST /c HTTP/1.1\r\nHost: sdk.example.net\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n-5\r\nxx\r\n0\r\n\r\n")
    path = tmp_path / "chunked.pcap"
    write_pcap(path, stream_frames(data))
    with deadline(10):
        items, error = read_all(iter_pcap, path)
    [req] = [i for i in items if isinstance(i, RequestRecord)]
    assert error is None and req.body == b"hello" and req.body_truncated


def test_bare_lf_requests_are_linear() -> None:
    """100,000 bare-LF requests in 1.6 MB took 70 s (each searched the rest of the stream
    for a CRLF CRLF); twice as many must take about twice as long, not four times."""
    def run(n: int) -> float:
        data = b"GET /i HTTP/1.1\nHost: a\n\n" * n
        t = time.perf_counter()
        assert sum(1 for _ in requests(data)) == n
        return time.perf_counter() - t

    with deadline(30):
        small, large = min(run(50_000) for _ in range(2)), min(run(100_000) for _ in range(2))
    assert large < 3.5 * small + 0.05, (small, large)
    assert large < 5.0


def test_bare_lf_stream_through_the_reader(tmp_path: Path) -> None:
    data = b"GET /i HTTP/1.1\nHost: a.example.net\n\n" * 100_000
    assert len(data) > 1_600_000
    path = tmp_path / "lf.pcap"
    write_pcap(path, stream_frames(data))
    with deadline(60):
        items, error = read_all(iter_pcap, path)
    assert error is None and len(hosts(items)) == 100_000


def test_one_budget_for_the_bytes_of_all_open_streams() -> None:
    streams = Streams(Limits(max_open_stream_bytes=10_000))
    early = []
    for i in range(100):  # 100 connections of 3,000 bytes, none closing
        for off in range(0, 3000, 1000):
            early += streams.segment(("10.0.0.2", 1000 + i, "10.0.0.1", 80), float(i), 1 + off, b"x" * 1000, False)
            assert streams.held <= 10_000
    assert len(early) >= 96 and streams.held == sum(s.size for s in streams.open.values())
    assert [s.sport for s in early] == sorted(s.sport for s in early)  # least recently active first


def test_budget_assembles_streams_early_and_loses_nothing(tmp_path: Path) -> None:
    frames = []
    for i in range(30):  # 30 open uploads, interleaved, never closed
        frames += stream_frames(REQUEST.replace(b"hello=world", b"x" * 11) + b"y" * 4000, sport=30000 + i, fin=False)
    path = tmp_path / "open.pcap"
    write_pcap(path, frames)
    items, error = read_all(iter_pcap, path, limits=Limits(max_open_stream_bytes=20_000))
    assert error is None and len(hosts(items)) == 30


def test_fragments_of_one_datagram_are_bounded(tmp_path: Path) -> None:
    """300 eight-byte fragments of one datagram that never completes: dropped at 128
    pieces (each new piece re-sorted them all), the rest of the capture read."""
    frames = []
    for i in range(300):
        ip = dpkt.ip.IP(src=socket.inet_aton("10.9.0.2"), dst=socket.inet_aton("10.9.0.1"), p=6, id=5, mf=1, offset=i)
        ip.data = b"\x00" * 8
        ip.len = 28
        frames.append(ether(bytes(ip)))
    frames += stream_frames(REQUEST)
    path = tmp_path / "frags.pcap"
    write_pcap(path, frames)
    anomalies: dict[str, int] = {}
    items, error = read_all(iter_pcap, path, anomalies=anomalies)
    assert error is None and hosts(items) == ["sdk.example.net"]
    assert anomalies == {"ip-fragments-dropped": 2}  # at piece 129, and again at 258
