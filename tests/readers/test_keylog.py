"""NSS key log parsing: every label, merging, duplicates, junk counted and never fatal."""

from __future__ import annotations

import struct
from pathlib import Path

from consentscope.readers._keylog import DSB_TLS_KEY_LOG, LABELS, KeyLog, parse_dsb

R1 = bytes(range(32))
R2 = bytes(range(32, 64))
MS = bytes(range(48))
S32 = bytes(range(100, 132))
S48 = bytes(range(100, 148))


def line(label: str, random: bytes, secret: bytes) -> str:
    return f"{label} {random.hex()} {secret.hex()}\n"


def test_every_label_is_kept_by_client_random() -> None:
    text = line("CLIENT_RANDOM", R1, MS)
    for label in sorted(LABELS - {"CLIENT_RANDOM"}):
        text += line(label, R2, S32)
    text += line("EXPORTER_SECRET", R2, S32) + line("EARLY_EXPORTER_SECRET", R2, S48)
    log = KeyLog()
    assert log.add_text(text) == len(LABELS)
    assert log.get(R1, "CLIENT_RANDOM") == MS
    assert set(log.secrets(R2)) == LABELS - {"CLIENT_RANDOM"}
    assert log.get(R2, "SERVER_TRAFFIC_SECRET_0") == S32
    assert log.get(R2, "EXPORTER_SECRET") is None  # ignored, and not counted as bad
    assert log.bad_lines == 0 and len(log) == 2 and R1 in log and b"x" not in log


def test_sha384_secrets_and_upper_case_hex() -> None:
    log = KeyLog()
    log.add_text(f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1.hex().upper()} {S48.hex().upper()}")
    assert log.get(R1, "CLIENT_HANDSHAKE_TRAFFIC_SECRET") == S48


def test_garbage_is_counted_and_skipped() -> None:
    good = line("CLIENT_RANDOM", R1, MS)
    junk = [
        "not a key log line",
        "CLIENT_RANDOM zz" + "0" * 62 + " " + MS.hex(),  # not hex
        "CLIENT_RANDOM " + R1.hex()[:-2] + " " + MS.hex(),  # short random
        "CLIENT_RANDOM " + R1.hex() + " " + MS.hex()[:-2],  # 47-byte master secret
        "CLIENT_RANDOM " + R1.hex() + " " + MS.hex() + "0",  # odd hex length
        "SERVER_TRAFFIC_SECRET_0 " + R1.hex() + " " + bytes(20).hex(),  # no hash is 20 bytes here
        "MADE_UP_LABEL " + R1.hex() + " " + S32.hex(),
        "CLIENT_RANDOM " + R1.hex(),  # truncated line
        "x" * 5000,
    ]
    text = "# a comment\n\n" + "\n".join(junk) + "\r\n" + good + "\x00\xff binary tail"
    log = KeyLog()
    assert log.add_text(text.encode("latin-1")) == 1
    assert log.bad_lines == len(junk) + 1
    assert log.get(R1, "CLIENT_RANDOM") == MS


def test_duplicates_are_merged_and_conflicts_counted() -> None:
    other = bytes(48)
    log = KeyLog()
    log.add_text(line("CLIENT_RANDOM", R1, MS) * 3)
    assert len(log) == 1 and log.conflicts == 0
    log.add_text(line("CLIENT_RANDOM", R1, other))
    assert log.get(R1, "CLIENT_RANDOM") == MS and log.conflicts == 1


def test_several_sources_files_text_and_dsb(tmp_path: Path) -> None:
    a = tmp_path / "a.keys"
    a.write_text(line("CLIENT_RANDOM", R1, MS))
    b = KeyLog()
    b.add_text(line("SERVER_HANDSHAKE_TRAFFIC_SECRET", R2, S32) + "junk\n")
    log = KeyLog.from_sources(a, str(tmp_path / "missing.keys"), line("CLIENT_TRAFFIC_SECRET_0", R2, S32).encode())
    assert log.bad_lines == 1  # the missing file
    log.merge(b)
    assert log.get(R1, "CLIENT_RANDOM") == MS
    assert set(log.secrets(R2)) == {"SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"}
    assert log.bad_lines == 2

    # a pcapng Decryption Secrets Block body: type "TLSK", length, key log text (padded)
    payload = line("SERVER_TRAFFIC_SECRET_0", R2, S32).encode()
    body = struct.pack("<II", DSB_TLS_KEY_LOG, len(payload)) + payload + b"\x00" * (-len(payload) % 4)
    parsed = parse_dsb(body)
    assert parsed == (DSB_TLS_KEY_LOG, payload)
    assert log.add_dsb(*parsed) == 1
    assert log.add_dsb(0x57474B4C, b"wireguard keys") == 0  # other secret types are not ours
    assert parse_dsb(body[:6]) is None and parse_dsb(struct.pack(">II", DSB_TLS_KEY_LOG, 9999) + payload, ">") is None
    big_endian = struct.pack(">II", DSB_TLS_KEY_LOG, len(payload)) + payload
    assert parse_dsb(big_endian, ">") == (DSB_TLS_KEY_LOG, payload)
