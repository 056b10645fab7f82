"""pcap/pcapng: public captures parse; hand-built edge cases with dpkt; damage keeps what came before."""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import ssl
import struct
from pathlib import Path

import dpkt
import pytest

from consentscope.detectors import RequestRecord
from consentscope.readers import CaptureError, Contact
from consentscope.readers.capture import read_capture
from consentscope.readers.pcap import iter_pcap

SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures-public"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="public captures not present (../shared/captures-public is outside the repo)"
)
PCAPS = sorted(str(p.relative_to(SHARED)) for p in SHARED.glob("*/*.pcap*")) if SHARED.is_dir() else []
#: ours reads one more than the inventory's naive count: "OPTIONS\n" without a target
LENIENT_EXTRA = {"zeek/methods.pcap": 1}


@needs_shared
@pytest.mark.parametrize("name", PCAPS)
def test_public_captures(name: str) -> None:
    row = next(r for r in json.loads((SHARED / "inventory.json").read_text()) if r["file"] == name)
    items = list(read_capture(str(SHARED / name)))
    requests = [i for i in items if isinstance(i, RequestRecord)]
    assert len(requests) == row["http_requests"] + LENIENT_EXTRA.get(name, 0)
    http_contacts = [i for i in items if isinstance(i, Contact) and i.via == "http"]
    assert len(http_contacts) == len(requests)


@needs_shared
def test_real_app_traffic_carries_the_android_id() -> None:
    items = list(read_capture(str(SHARED / "ndpi" / "1kxun.pcap")))
    hits = [r for r in items if isinstance(r, RequestRecord) and "b9e28776354d259e" in r.path + r.body.decode("latin-1")]
    assert len(hits) == 10 and "net.rayjump.com" in {r.host for r in hits}
    sni = {c.host for c in items if isinstance(c, Contact) and c.via == "tls-sni"}
    dns = {c.host for c in items if isinstance(c, Contact) and c.via == "dns"}
    assert sni and dns


# ----------------------------------------------------------------------------- building packets

CLIENT, SERVER = "10.9.0.2", "10.9.0.1"


def tcp_packet(seq: int, data: bytes = b"", flags: int = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH,
               src: str = CLIENT, dst: str = SERVER, sport: int = 40000, dport: int = 80, v6: bool = False) -> bytes:
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=data)
    if v6:
        ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                          nxt=6, hlim=64, data=tcp, plen=len(bytes(tcp)))
        return bytes(ip)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, data=tcp)
    ip.len = len(bytes(ip))
    return bytes(ip)


def ether(ip: bytes, v6: bool = False) -> bytes:
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6,
                                        type=dpkt.ethernet.ETH_TYPE_IP6 if v6 else dpkt.ethernet.ETH_TYPE_IP,
                                        data=ip))


def write_pcap(path: Path, frames: list[bytes], linktype: int = 1, t0: float = 1_772_445_600.0) -> list[int]:
    """Write a little-endian µs pcap; returns the byte offset where each record starts."""
    starts = []
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, frame in enumerate(frames):
            starts.append(fh.tell())
            t = t0 + i * 0.01
            fh.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)) + frame)
    return starts


REQUEST = b"POST /log?imei=861234567890127 HTTP/1.1\r\nHost: sdk.example.net\r\nContent-Length: 11\r\n\r\nhello=world"


def test_out_of_order_and_retransmitted_segments(tmp_path: Path) -> None:
    pieces = [REQUEST[:20], REQUEST[20:50], REQUEST[50:]]
    seqs = [1001, 1021, 1051]
    frames = [ether(tcp_packet(1000, flags=dpkt.tcp.TH_SYN))]
    for i in (2, 0, 0, 1):  # out of order, one retransmitted
        frames.append(ether(tcp_packet(seqs[i], pieces[i])))
    frames.append(ether(tcp_packet(1000 + 1 + len(REQUEST), flags=dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)))
    path = tmp_path / "ooo.pcap"
    write_pcap(path, frames)
    [req] = [i for i in iter_pcap(str(path)) if isinstance(i, RequestRecord)]
    assert (req.method, req.host, req.path, req.body, req.body_truncated) == (
        "POST", "sdk.example.net", "/log?imei=861234567890127", b"hello=world", False)


def test_missing_segment_scans_up_to_the_gap(tmp_path: Path) -> None:
    frames = [ether(tcp_packet(1, REQUEST[:-5])), ether(tcp_packet(1 + len(REQUEST) + 100, b"late"))]
    path = tmp_path / "gap.pcap"
    write_pcap(path, frames)
    [req] = [i for i in iter_pcap(str(path)) if isinstance(i, RequestRecord)]
    assert req.body == b"hello=" and req.body_truncated


def test_ipv6_and_sll2(tmp_path: Path) -> None:
    ip6 = tcp_packet(1, REQUEST, src="2001:db8::2", dst="2001:db8::1", v6=True)
    path = tmp_path / "v6.pcap"
    write_pcap(path, [ether(ip6, v6=True)])
    assert [r.server_ip for r in iter_pcap(str(path)) if isinstance(r, RequestRecord)] == ["2001:db8::1"]
    sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x02" * 8) + tcp_packet(1, REQUEST)
    path = tmp_path / "sll2.pcap"
    write_pcap(path, [sll2], linktype=276)
    assert [r.host for r in iter_pcap(str(path)) if isinstance(r, RequestRecord)] == ["sdk.example.net"]


def test_gzip_body_split_across_many_segments(tmp_path: Path) -> None:
    body = gzip.compress(b'{"imei":"861234567890127"}' * 200, mtime=0)
    head = f"POST /u HTTP/1.1\r\nHost: sdk.example.net\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    stream = head.encode() + body
    frames = [ether(tcp_packet(1 + i, stream[i : i + 7])) for i in range(0, len(stream), 7)]
    path = tmp_path / "split.pcap"
    write_pcap(path, frames)
    [req] = [i for i in iter_pcap(str(path)) if isinstance(i, RequestRecord)]
    assert req.body == body and not req.body_truncated


def _client_hello(name: str) -> bytes:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_tls_sni_and_dns_answers_are_contacts(tmp_path: Path) -> None:
    hello = _client_hello("ulogs.umeng.com")
    dns = dpkt.dns.DNS(id=1, qr=dpkt.dns.DNS_R, qd=[dpkt.dns.DNS.Q(name="ulogs.umeng.com")],
                       an=[dpkt.dns.DNS.RR(name="ulogs.umeng.com", type=dpkt.dns.DNS_A, cls=1, ttl=60,
                                           rdata=socket.inet_aton("203.0.113.7"))])
    udp = dpkt.udp.UDP(sport=53, dport=5353, data=bytes(dns))
    udp.ulen = len(bytes(udp))
    ip = dpkt.ip.IP(src=socket.inet_aton("10.9.0.53"), dst=socket.inet_aton(CLIENT), p=17, data=udp)
    ip.len = len(bytes(ip))
    frames = [ether(bytes(ip)), ether(tcp_packet(1, hello, dst="203.0.113.7", dport=443)),
              ether(tcp_packet(1 + len(hello), flags=dpkt.tcp.TH_RST, dst="203.0.113.7", dport=443))]
    path = tmp_path / "tls.pcap"
    write_pcap(path, frames)
    contacts = [(c.via, c.host, c.ip) for c in iter_pcap(str(path)) if isinstance(c, Contact)]
    assert ("dns", "ulogs.umeng.com", "203.0.113.7") in contacts
    assert ("tls-sni", "ulogs.umeng.com", "203.0.113.7") in contacts


def test_pcapng_with_two_interfaces_and_a_simple_packet_block(tmp_path: Path) -> None:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb_eth = block(1, struct.pack("<HHI", 1, 0, 65535))
    idb_raw = block(1, struct.pack("<HHI", 101, 0, 65535) + struct.pack("<HHB3x", 9, 1, 9) + b"\x00" * 4)
    other = REQUEST.replace(b"sdk.example.net", b"raw.example.net")
    ts = int(1_772_445_600 * 1e9)
    raw_pkt = tcp_packet(1, other, sport=40001)
    epb_raw = block(6, struct.pack("<IIIII", 1, ts >> 32, ts & 0xFFFFFFFF, len(raw_pkt), len(raw_pkt)) + raw_pkt)
    eth_pkt = ether(tcp_packet(1, REQUEST))
    spb = block(3, struct.pack("<I", len(eth_pkt)) + eth_pkt)
    path = tmp_path / "two.pcapng"
    path.write_bytes(shb + idb_eth + idb_raw + epb_raw + spb)
    reqs = sorted((r.host, r.time) for r in iter_pcap(str(path)) if isinstance(r, RequestRecord))
    assert [h for h, _ in reqs] == ["raw.example.net", "sdk.example.net"]
    assert dict(reqs)["raw.example.net"] == pytest.approx(1_772_445_600.0)  # nanosecond interface


def test_truncated_pcap_at_every_byte_of_the_last_record(tmp_path: Path) -> None:
    frames = [ether(tcp_packet(1, REQUEST, sport=40000 + i)) for i in range(3)]
    path = tmp_path / "full.pcap"
    starts = write_pcap(path, frames)
    data = path.read_bytes()
    for cut in range(starts[2] + 1, len(data)):
        path.write_bytes(data[:cut])
        got = []
        with pytest.raises(CaptureError) as e:
            for item in iter_pcap(str(path)):
                got.append(item)
        assert len([g for g in got if isinstance(g, RequestRecord)]) == 2
        assert e.value.offset == starts[2] and str(path) in str(e.value)


def test_consent_marker_can_be_a_tls_server_name(tmp_path: Path) -> None:
    """Encrypted traffic: the app's consent call is only visible as a server name."""
    import subprocess
    import sys

    hello = _client_hello("consent.demoshop.com.cn")
    frames = [
        ether(tcp_packet(1, REQUEST, sport=40001)),
        ether(tcp_packet(1, hello, sport=40002, dst="203.0.113.9", dport=443)),
        ether(tcp_packet(1 + len(hello), flags=dpkt.tcp.TH_RST, sport=40002, dst="203.0.113.9", dport=443)),
        ether(tcp_packet(1, REQUEST, sport=40003)),
    ]
    path = tmp_path / "marker.pcap"
    write_pcap(path, frames)
    profile = tmp_path / "p.toml"
    profile.write_text('[device]\nimei = "861234567890127"\n')
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(path), "--profile", str(profile),
                        "--consent-marker", r"^consent\.demoshop\.com\.cn$", "--json", str(out), "--db", "", "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert [f["phase"] for f in doc["findings"]] == ["before-consent", "after-consent"]
    assert [c["via"] for c in doc["contacts"] if c["host"] == "consent.demoshop.com.cn"] == ["tls-sni"]


def test_unsupported_link_type_is_named_after_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "odd.pcap"
    starts = write_pcap(path, [b"\x00" * 40, b"\x00" * 40], linktype=147)  # DLT_USER0
    with pytest.raises(CaptureError) as e:
        list(iter_pcap(str(path)))
    assert e.value.offset == starts[0] and "2 packets of unsupported link type 147" in str(e.value)


def test_ipv4_fragments_are_reassembled(tmp_path: Path) -> None:
    tcp = bytes(dpkt.tcp.TCP(sport=40000, dport=80, seq=1, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data=REQUEST))
    cuts = [0, 48, 96, len(tcp)]
    frames = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        more = 1 if i < len(cuts) - 2 else 0
        ip = dpkt.ip.IP(src=socket.inet_aton(CLIENT), dst=socket.inet_aton(SERVER), p=6, id=77, mf=more, offset=a // 8)
        ip.data = tcp[a:b]
        ip.len = 20 + (b - a)
        frames.append(ether(bytes(ip)))
    frames = [frames[2], frames[0], frames[1]]  # out of order too
    path = tmp_path / "frag.pcap"
    write_pcap(path, frames)
    [req] = [i for i in iter_pcap(str(path)) if isinstance(i, RequestRecord)]
    assert (req.path, req.body) == ("/log?imei=861234567890127", b"hello=world")


def _quic_initial(dcid: bytes, data: bytes, offset: int = 0, pn: int = 0) -> bytes:
    """A client Initial carrying ``data`` at ``offset`` of the CRYPTO stream, protected as
    RFC 9001 §5 says (the inverse of what the reader does)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from consentscope.readers._quic import initial_keys

    key, iv, hp = initial_keys(dcid)
    frame = b"\x06" + struct.pack(">HH", 0x4000 | offset, 0x4000 | len(data)) + data
    frame += b"\x00" * (1100 - len(frame))  # PADDING, as clients pad their Initials
    pn_bytes = pn.to_bytes(2, "big")
    length = len(pn_bytes) + len(frame) + 16
    header = bytes([0xC1]) + struct.pack(">I", 1) + bytes([len(dcid)]) + dcid + b"\x00\x00"
    header += struct.pack(">H", 0x4000 | length) + pn_bytes
    payload = AESGCM(key).encrypt((int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big"), frame, header)
    pn_offset = len(header) - 2
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update((header[pn_offset:] + payload)[4:20]) + enc.finalize()
    protected = bytes([header[0] ^ (mask[0] & 0x0F)]) + header[1:pn_offset]
    protected += bytes(b ^ m for b, m in zip(header[pn_offset:], mask[1:3], strict=True))
    return protected + payload


def test_quic_initial_gives_the_server_name(tmp_path: Path) -> None:
    hello = _client_hello("api-access.pangolin-sdk-toutiao.com")[5:]  # handshake message, no record header
    dcid = bytes.fromhex("8394c8f03e515708")
    # the ClientHello split over two Initials, as Chrome does with large ones; then a third
    packets = [_quic_initial(dcid, hello[:120]), _quic_initial(dcid, hello[120:], 120, pn=1),
               _quic_initial(dcid, b"", pn=2)]
    frames = []
    for payload in packets:
        udp = dpkt.udp.UDP(sport=50000, dport=443, data=payload)
        udp.ulen = len(bytes(udp))
        ip = dpkt.ip.IP(src=socket.inet_aton(CLIENT), dst=socket.inet_aton("203.0.113.8"), p=17, data=udp)
        ip.len = len(bytes(ip))
        frames.append(ether(bytes(ip)))
    path = tmp_path / "quic.pcap"
    write_pcap(path, frames)
    contacts = [(c.via, c.host, c.ip, c.tls_version) for c in iter_pcap(str(path)) if isinstance(c, Contact)]
    assert contacts == [("quic-sni", "api-access.pangolin-sdk-toutiao.com", "203.0.113.8", "QUICv1")]


def test_quic_keys_match_rfc_9001_appendix_a() -> None:
    from consentscope.readers._quic import initial_keys

    key, iv, hp = initial_keys(bytes.fromhex("8394c8f03e515708"))
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2")


def test_ipv6_fragments_are_reassembled(tmp_path: Path) -> None:
    tcp = bytes(dpkt.tcp.TCP(sport=40000, dport=80, seq=1, flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data=REQUEST))
    src, dst = socket.inet_pton(socket.AF_INET6, "2001:db8::2"), socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    frames = []
    cuts = [0, 64, len(tcp)]
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        more = 1 if i == 0 else 0
        frag_hdr = struct.pack(">BBHI", 6, 0, (a // 8) << 3 | more, 0xBEEF)
        body = frag_hdr + tcp[a:b]
        ip6 = struct.pack(">IHBB", 6 << 28, len(body), 44, 64) + src + dst + body
        frames.append(ether(ip6, v6=True))
    path = tmp_path / "frag6.pcap"
    write_pcap(path, frames[::-1])
    [req] = [i for i in iter_pcap(str(path)) if isinstance(i, RequestRecord)]
    assert (req.server_ip, req.body) == ("2001:db8::1", b"hello=world")


@pytest.mark.parametrize("compress", ["gzip", "xz", "zstd"])
def test_compressed_big_endian_nanosecond_loopback_capture(tmp_path: Path, compress: str) -> None:
    """Compression, byte order, time resolution and the BSD loopback link type at once."""
    import lzma

    import zstandard

    frame = struct.pack("<I", 2) + tcp_packet(1, REQUEST)  # DLT_NULL: host-order family 2 (AF_INET)
    t_ns = 1_772_445_600_123_456_789
    raw = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 0)
    raw += struct.pack(">IIII", t_ns // 10**9, t_ns % 10**9, len(frame), len(frame)) + frame
    packed = {"gzip": gzip.compress, "xz": lzma.compress, "zstd": zstandard.ZstdCompressor().compress}[compress](raw)
    path = tmp_path / "capture.bin"  # the name says nothing: the format is told by content
    path.write_bytes(packed)
    [req] = [i for i in read_capture(str(path)) if isinstance(i, RequestRecord)]
    assert req.host == "sdk.example.net" and req.time == pytest.approx(1_772_445_600.123456789)
