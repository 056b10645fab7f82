"""NSS key log parsing: every label, merging, duplicates, junk counted and never fatal."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.readers._keylog import DSB_TLS_KEY_LOG, IGNORED_LABELS, LABELS, MAX_LINE, KeyLog, parse_dsb

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


_ASCII_HEX = re.compile(r"[0-9a-fA-F]+")


def _reference(text: str) -> tuple[dict[bytes, dict[str, bytes]], int]:
    """The line rules spelled out with a regex: (secrets by client random, bad lines)."""
    secrets: dict[bytes, dict[str, bytes]] = {}
    bad = 0
    for raw in text.splitlines():
        parts = raw.strip().split()
        if not parts or raw.strip().startswith("#"):
            continue
        if len(raw.strip()) > MAX_LINE or len(parts) != 3:
            bad += 1
            continue
        label, rnd, sec = parts
        if label in IGNORED_LABELS:
            continue
        ok = label in LABELS and all(_ASCII_HEX.fullmatch(x) for x in (rnd, sec)) and len(rnd) == 64
        ok = ok and len(sec) % 2 == 0 and len(sec) // 2 in ((48,) if label == "CLIENT_RANDOM" else (32, 48))
        if not ok:
            bad += 1
            continue
        secrets.setdefault(bytes.fromhex(rnd), {}).setdefault(label, bytes.fromhex(sec))
    return secrets, bad


_PIECES = st.sampled_from(["CLIENT_RANDOM", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET", "RSA", "client_random",
                           "aa" * 32, "AB" * 32, "ab" * 48, "cd" * 32, "0" * 63, "0" * 65, "f" * 97, "g" * 64,
                           "\uff21" * 64, "\u0663" * 64, "0x" + "a" * 62, "#", " ", "\t", "\x85", "\u3000"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=5).map(" ".join), max_size=8).map("\n".join))
def test_lines_follow_the_rules(text: str) -> None:
    """Hex only in ASCII (not fullwidth or Arabic-Indic digits), exact lengths, any whitespace."""
    log = KeyLog()
    log.add_text(text)
    assert (log._secrets, log.bad_lines) == _reference(text)
