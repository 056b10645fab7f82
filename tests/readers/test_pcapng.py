"""pcapng framing: short blocks and options cost only their block; Decryption Secrets
Blocks hand their TLS key logs to the caller."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from consentscope.readers.pcap import iter_pcap

from ._build import IDB_ETHERNET, REQUEST, block, epb, ether, pcapng, read_all, stream_frames, tcp_packet

KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"


def _requests(items: list) -> list[str]:
    return [i.host for i in items if type(i).__name__ == "RequestRecord"]


@pytest.mark.parametrize("short", [
    block(1, b""),  # an interface description without a link type
    block(3, b""),  # a simple packet without its length
    block(6, b"\x00" * 8),  # an enhanced packet without its header
    block(0x0A, b"TLSK"),  # decryption secrets without their length
], ids=["idb", "spb", "epb", "dsb"])
def test_short_block_costs_only_itself(tmp_path: Path, short: bytes) -> None:
    frames = [epb(f) for f in stream_frames(REQUEST)]
    path = tmp_path / "short.pcapng"
    path.write_bytes(pcapng(IDB_ETHERNET, short, *frames))
    anomalies: dict[str, int] = {}
    items, error = read_all(iter_pcap, path, anomalies=anomalies, secrets=[])
    assert error is None and _requests(items) == ["sdk.example.net"]
    assert anomalies == {"pcapng-short-block": 1}


def test_interface_option_without_a_value(tmp_path: Path) -> None:
    """if_tsresol declared one byte long, but the block ends after the option header."""
    idb = block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HH", 9, 1))
    path = tmp_path / "opt.pcapng"
    path.write_bytes(pcapng(idb, *[epb(f) for f in stream_frames(REQUEST)]))
    items, error = read_all(iter_pcap, path)
    assert error is None and _requests(items) == ["sdk.example.net"]
    assert items[-1].time == pytest.approx(1_772_445_600.0)  # the default µs resolution


def _dsb(stype: int, payload: bytes) -> bytes:
    return block(0x0A, struct.pack("<II", stype, len(payload)) + payload)


def test_decryption_secrets_blocks_hand_over_their_key_logs(tmp_path: Path) -> None:
    second = b"CLIENT_RANDOM " + b"ef" * 32 + b" " + b"01" * 48 + b"\n"
    path = tmp_path / "dsb.pcapng"
    path.write_bytes(pcapng(IDB_ETHERNET, _dsb(0x544C534B, KEYLOG), _dsb(0x57474B4C, b"wireguard keys"),
                            epb(ether(tcp_packet(1, REQUEST))), _dsb(0x544C534B, second)))
    secrets: list[bytes] = []
    items, error = read_all(iter_pcap, path, secrets=secrets)
    assert error is None and _requests(items) == ["sdk.example.net"]
    assert secrets == [KEYLOG, second]  # TLS key logs only, in file order, padding removed
    assert read_all(iter_pcap, path)[0] == items  # without a list they are skipped


def test_truncated_at_every_byte_yields_exactly_the_complete_records(tmp_path: Path) -> None:
    """Each request is one packet with FIN: complete once its block is. Cut anywhere, the
    requests of whole blocks come out, then one CaptureError at the cut block's offset
    (a cut between blocks is a shorter file, not damage: pcapng has no trailer)."""
    import dpkt

    packets = [epb(ether(tcp_packet(1, REQUEST.replace(b"sdk.", f"h{i}.".encode()), sport=42000 + i,
                                    flags=dpkt.tcp.TH_ACK | dpkt.tcp.TH_FIN)), t=1_772_445_600.0 + i)
               for i in range(3)]
    blocks = [pcapng(), IDB_ETHERNET, _dsb(0x544C534B, KEYLOG), *packets]
    data = b"".join(blocks)
    ends = [sum(len(b) for b in blocks[: i + 1]) for i in range(len(blocks))]
    path = tmp_path / "cut.pcapng"
    for cut in range(1, len(data) + 1):
        path.write_bytes(data[:cut])
        secrets: list[bytes] = []
        items, error = read_all(iter_pcap, path, secrets=secrets)
        whole = sum(1 for end in ends if end <= cut)
        assert _requests(items) == [f"h{i}.example.net" for i in range(max(0, whole - 3))], cut
        assert secrets == ([KEYLOG] if whole >= 3 else []), cut
        if cut in ends:
            assert error is None, cut
        else:
            assert error is not None and error.path == str(path), cut
            assert error.offset == (ends[whole - 1] if whole else 0), cut
