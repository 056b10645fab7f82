"""The fast frame path (``_fastpath``) gives what the dpkt path gives: frame by frame on every
public capture, the fuzz seeds and hypothesis' hostile frames; whole captures (items,
anomalies, the closing error) with the fast path on and off, also under mutation."""

from __future__ import annotations

import socket
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentscope.detectors import DEFAULT_LIMITS
from consentscope.readers import CaptureError, _magic, _pcapfile, _pcapng, pcap
from consentscope.readers._fastpath import segment_of
from consentscope.readers._keylog import KeyLog
from consentscope.readers._open import open_maybe_compressed
from consentscope.readers.pcap import _PcapReader, iter_pcap

from . import tls13synth as synth
from ._build import ether, stream_frames, tcp_packet, udp_packet, write_pcap
from .test_fuzz import mutated, pcap_seed, pcapng_seed

SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures-public"
CAPTURES = sorted(str(p.relative_to(SHARED)) for p in SHARED.glob("*/*.pcap*")) if SHARED.is_dir() else []
needs_shared = pytest.mark.skipif(
    not CAPTURES, reason="public captures not present (../shared/captures-public is outside the repo)")
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINKTYPES = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147]


def dpkt_reading(linktype: int, frame: bytes) -> object:
    return _PcapReader("frame", DEFAULT_LIMITS, None).dpkt_segment(linktype, frame)


def agrees(linktype: int, frame: bytes) -> bool:
    """Whether the fast path answered; when it does, its answer is dpkt's."""
    fast = segment_of(linktype, frame)
    if fast is None:
        return False
    assert fast == dpkt_reading(linktype, frame), (linktype, frame.hex())
    assert len(fast[7]) <= len(frame)
    return True


def frames_of(path: Path) -> Iterator[tuple[int, bytes]]:
    with open_maybe_compressed(str(path)) as fh:
        head = _pcapfile.read_exact(fh, 4)
        if _magic.packet_format_of(head) == "pcap":
            found = _pcapfile.frames(str(path), fh, head)
        else:
            found = _pcapng.frames(str(path), fh, head + _pcapfile.read_exact(fh, 8))
        for _, _, linktype, frame in found:
            yield linktype, frame


def read_both(path: Path, keylog_text: str | None = None) -> None:
    """iter_pcap with and without the fast path: the same items, anomalies and end."""
    seen = []
    for fast in (True, False):
        pcap.FAST_PATH = fast
        try:
            keylog = None
            if keylog_text is not None:
                keylog = KeyLog()
                keylog.add_text(keylog_text)
            anomalies: dict[str, int] = {}
            items: list = []
            error = None
            try:
                for item in iter_pcap(str(path), anomalies=anomalies, keylog=keylog):
                    items.append(item)
            except CaptureError as e:
                error = str(e)
            seen.append((items, anomalies, error))
        finally:
            pcap.FAST_PATH = True
    assert seen[0] == seen[1]


@needs_shared
@pytest.mark.parametrize("name", CAPTURES)
def test_every_frame_of_the_public_captures(name: str) -> None:
    answered = [agrees(lt, f) for lt, f in frames_of(SHARED / name)]
    if name == "zeek/http-qinq-0.pcap":
        assert not any(answered)  # two VLAN tags: dpkt's
    else:
        assert any(answered), "the common frames take the fast path (one VLAN tag included)"


@needs_shared
@pytest.mark.parametrize("name", CAPTURES)
def test_public_captures_read_the_same_both_ways(name: str) -> None:
    read_both(SHARED / name)


def test_the_fuzz_seeds_read_the_same_both_ways(tmp_path: Path) -> None:
    for name, data in (("seed.pcap", pcap_seed()), ("seed.pcapng", pcapng_seed())):
        (tmp_path / name).write_bytes(data)
        read_both(tmp_path / name)
        assert any(agrees(lt, f) for lt, f in frames_of(tmp_path / name))


def test_decrypted_tls_reads_the_same_both_ways(tmp_path: Path) -> None:
    """TLS 1.3 connections with their key log (the bench's capture, small), the server first."""
    lines = []
    frames = []
    for i in range(3):
        random, secrets = bytes([i]) * 32, {lb: bytes([i + 1]) * 32 for lb in (
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0")}
        lines += [f"{k} {random.hex()} {v.hex()}" for k, v in secrets.items()]
        server = synth.record(22, synth.server_hello(bytes(32), 0x1301)) + synth.record(20, b"\x01")
        s_hs = synth.Encryptor(0x1301, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
        server += s_hs.record(22, synth.encrypted_extensions(alpn=b"http/1.1"))
        server += s_hs.record(22, synth.handshake(11, b"\x00\x00\x00\x00") + synth.handshake(20, bytes(32)))
        client = synth.record(22, synth.client_hello(random, sni=f"h{i}.example.net")) + synth.record(20, b"\x01")
        client += synth.Encryptor(0x1301, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]).record(
            22, synth.handshake(20, bytes(32)))
        request = b"POST /p HTTP/1.1\r\nHost: h.example.net\r\nContent-Length: 3000\r\n\r\n" + b"x" * 3000
        client += synth.Encryptor(0x1301, secrets["CLIENT_TRAFFIC_SECRET_0"]).record(23, request)
        frames += [ether(tcp_packet(1 + off, server[off : off + 1448], src="10.9.0.1", dst="10.9.0.2",
                                    sport=443, dport=40000 + i)) for off in range(0, len(server), 1448)]
        frames += stream_frames(client, sport=40000 + i, dport=443)
    write_pcap(tmp_path / "tls.pcap", frames)
    text = "\n".join(lines) + "\n"
    read_both(tmp_path / "tls.pcap", text)
    keylog = KeyLog()
    keylog.add_text(text)
    items = list(iter_pcap(str(tmp_path / "tls.pcap"), keylog=keylog))
    assert [i.decrypted for i in items if getattr(i, "via", None) == "tls-sni"] == [True] * 3
    assert [len(i.body) for i in items if hasattr(i, "body")] == [3000] * 3


def test_hand_built_link_layers(tmp_path: Path) -> None:
    """Each link type and IP version the fast path reads, and cases it leaves to dpkt."""
    ip4 = tcp_packet(1, b"GET / HTTP/1.1\r\n\r\n")
    ip6 = tcp_packet(1, b"GET / HTTP/1.1\r\n\r\n", src="2001:db8::2", dst="2001:db8::1", v6=True)
    sll = struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800) + ip4
    sll2 = struct.pack(">HHIHBB8s", 0x86DD, 0, 1, 1, 0, 6, b"\x02" * 8) + ip6
    assert agrees(1, ether(ip4)) and agrees(1, ether(ip6, v6=True))
    assert agrees(101, ip4) and agrees(229, ip6) and agrees(0, b"\x02\x00\x00\x00" + ip4)
    assert agrees(113, sll) and agrees(276, sll2)
    assert agrees(1, ether(ip4) + b"\x00" * 30)  # Ethernet padding: cut by the IP length
    tso = ip4[:2] + b"\x00\x00" + ip4[4:]  # a zero IP length (segmentation offload): the rest of the frame
    assert agrees(101, tso)
    assert agrees(1, ether(udp_packet(b"\x00" * 12)))
    options = dpkt.ip.IP(src=socket.inet_aton("10.0.0.1"), dst=socket.inet_aton("10.0.0.2"), p=6, hl=6,
                         opts=b"\x01\x01\x01\x00", data=dpkt.tcp.TCP(sport=1, dport=2, data=b"xy"))
    options.len = len(bytes(options))
    assert agrees(101, bytes(options))
    vlan = ether(ip4)[:12] + b"\x81\x00\x00\x05\x08\x00" + ip4
    assert agrees(1, vlan) and agrees(1, ether(ip6)[:12] + b"\x81\x00\x20\x07\x86\xdd" + ip6)
    qinq = ether(ip4)[:12] + b"\x81\x00\x00\x05\x81\x00\x00\x06\x08\x00" + ip4
    ad = ether(ip4)[:12] + b"\x88\xa8\x00\x05\x08\x00" + ip4
    fragment = ip4[:6] + b"\x20\x00" + ip4[8:]
    v6_in_v4 = ether(ip6)  # EtherType IPv4, version 6: dpkt reads it as IPv4 anyway
    for linktype, frame in ((1, qinq), (1, ad), (101, fragment), (1, v6_in_v4), (101, ip4[:30]), (147, ip4)):
        assert segment_of(linktype, frame) is None
    frames = [ether(ip4), ether(ip6, v6=True), vlan, qinq, ad, ether(fragment), v6_in_v4, ether(tso)]
    write_pcap(tmp_path / "mixed.pcap", frames)
    read_both(tmp_path / "mixed.pcap")


def mostly(draw: st.DrawFn, usual: object, *odd: object) -> object:
    """Mostly ``usual``, else one of ``odd``: most frames reach the fast path."""
    return draw(st.sampled_from(odd)) if draw(st.integers(0, 15)) == 15 else usual


@st.composite
def hostile_frames(draw: st.DrawFn) -> tuple[int, bytes]:
    """Frames near the common shape, any field off, cut anywhere."""
    linktype = draw(st.sampled_from([1, 1, *LINKTYPES]))  # Ethernet the most
    v6 = draw(st.booleans())
    ethertype = mostly(draw, b"\x86\xdd" if v6 else b"\x08\x00", b"\x08\x00", b"\x86\xdd", b"\x81\x00", b"\x12\x34")
    tag = mostly(draw, draw(st.sampled_from([b"", b"\x81\x00\x00\x05"])),  # none or one VLAN tag
                 b"\x81\x00\x00\x05\x81\x00\x00\x06", b"\x88\xa8\x00\x05", b"\x81\x00")  # two, 802.1ad, cut
    link = {1: b"\x04" * 12 + tag + ethertype, 113: b"\x00" * 14 + ethertype, 276: ethertype + b"\x00" * 18,
            0: b"\x02\x00\x00\x00", 108: b"\x00\x00\x00\x02"}.get(linktype, b"")
    proto = mostly(draw, draw(st.sampled_from([6, 17])), 1, 44, 0, 60, draw(st.integers(0, 255)))
    payload = draw(st.binary(max_size=64))
    if proto == 17:
        transport = struct.pack(">HHHH", draw(st.integers(0, 65535)), draw(st.sampled_from([53, 443, 80])),
                                len(payload) + 8, 0) + payload
    else:
        doff = mostly(draw, draw(st.sampled_from([5, 8])), 0, 4, 15)
        flags = draw(st.integers(0, 0x1FF))
        transport = struct.pack(">HHIIBBHHH", 40000, 443, draw(st.integers(0, 2**32 - 1)), 0,
                                doff << 4 | flags >> 8, flags & 0xFF, 0, 0, 0) + b"\x01" * max(0, doff * 4 - 20) + payload
    length = mostly(draw, "exact", "zero", "short", "long", "any")
    if v6:
        plen = {"exact": len(transport), "zero": 0, "short": len(transport) // 2, "long": len(transport) + 9,
                "any": draw(st.integers(0, 65535))}[length]
        ip = struct.pack(">IHBB", mostly(draw, 0x60000000, 0x40000000, 0x6F0F0F0F), plen, proto, 64)
        ip += bytes(range(32)) + transport
    else:
        ihl = mostly(draw, draw(st.sampled_from([5, 6])), 4, 0, 15)
        total = {"exact": ihl * 4 + len(transport), "zero": 0, "short": ihl * 2, "long": ihl * 4 + len(transport) + 9,
                 "any": draw(st.integers(0, 65535))}[length]
        frag = mostly(draw, draw(st.sampled_from([0, 0x4000, 0x8000])), 0x2000, 0x0001, draw(st.integers(0, 65535)))
        ip = struct.pack(">BBHHHBBH4s4s", mostly(draw, 4, 6, 0) << 4 | ihl, 0, total, 7, frag, 64,
                         proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + b"\x01" * max(0, ihl * 4 - 20)
        ip += transport
    frame = link + ip + draw(st.binary(max_size=8))
    if mostly(draw, False, True):
        frame = frame[: draw(st.integers(0, len(frame)))]
    return linktype, frame


@PROPERTY
@given(hostile_frames())
def test_hostile_frames_agree(case: tuple[int, bytes]) -> None:
    agrees(*case)


@PROPERTY
@given(st.sampled_from(LINKTYPES), st.binary(max_size=120))
def test_any_bytes_agree(linktype: int, frame: bytes) -> None:
    agrees(linktype, frame)


def _same_both_ways(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.cap"
        path.write_bytes(data)
        read_both(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(pcap_seed(), keep_head=4))
def test_mutated_pcaps_read_the_same_both_ways(data: bytes) -> None:
    _same_both_ways(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(pcapng_seed(), keep_head=4))
def test_mutated_pcapngs_read_the_same_both_ways(data: bytes) -> None:
    _same_both_ways(data)
