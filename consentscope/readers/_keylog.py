"""TLS secrets in the NSS key log format, from files and pcapng Decryption Secrets Blocks.

Browsers, curl, OpenSSL (``SSLKEYLOGFILE``, ``SSLContext.keylog_filename``), Frida hooks and
mitmproxy all write the same text: one ``LABEL <client random hex> <secret hex>`` per line.
A capture is decrypted from these secrets alone, so the reader never needs a private key
and never does any key exchange: TLS 1.2 needs the master secret (``CLIENT_RANDOM``), TLS
1.3 the per-stage traffic secrets. Lines are keyed by the 32-byte client random because that
is what both sides of one connection show in the clear (ClientHello.random).

Key logs are written by hand-built hooks and concatenated from many runs, so a bad line is
counted and skipped, never fatal: one truncated line must not cost the rest of a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

#: Labels whose secrets the decryptor uses.
LABELS = frozenset({
    "CLIENT_RANDOM",  # TLS 1.2 (and older) master secret, 48 bytes
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
})
#: Labels that are valid but carry nothing the decryptor needs: not counted as bad.
IGNORED_LABELS = frozenset({
    "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "EARLY_EXPORTER_MASTER_SECRET",
    "RSA",  # encrypted pre-master secret: a master secret is always logged beside it by NSS/OpenSSL
    "ECH_SECRET", "ECH_CONFIG",
})
#: pcapng Decryption Secrets Block type for TLS key logs ("TLSK", pcapng spec section 4.7).
DSB_TLS_KEY_LOG = 0x544C534B
#: Longest line considered: a valid line is ~200 characters, so anything longer is junk.
MAX_LINE = 1024
#: Client randoms remembered; a key log beyond this is cut (and counted as bad lines).
MAX_ENTRIES = 1_000_000
#: Bytes read from one key log file.
MAX_FILE_BYTES = 256 * 1024 * 1024


class KeyLog:
    """Secrets by client random, merged from any number of sources.

    ``bad_lines`` counts lines that were neither a usable secret, an ignored label, a comment
    nor blank; ``conflicts`` counts a label logged twice for one client random with different
    secrets (the first one is kept: key logs are appended to, so the first is the original).
    """

    def __init__(self) -> None:
        self._secrets: dict[bytes, dict[str, bytes]] = {}
        self.bad_lines = 0
        self.conflicts = 0
        self.lines = 0

    # ------------------------------------------------------------------ sources

    @classmethod
    def from_sources(cls, *sources: str | bytes | Path) -> KeyLog:
        """A key log from files (``Path`` or ``str`` path) and raw key log text (``bytes``)."""
        log = cls()
        for src in sources:
            if isinstance(src, bytes):
                log.add_text(src)
            else:
                log.add_file(src)
        return log

    def add_file(self, path: str | Path) -> int:
        """Read one key log file; a missing or unreadable file counts one bad line."""
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES)
        except OSError:
            self.bad_lines += 1
            return 0
        return self.add_text(data)

    def add_dsb(self, secrets_type: int, data: bytes) -> int:
        """The payload of a pcapng Decryption Secrets Block; other secret types are ignored."""
        if secrets_type != DSB_TLS_KEY_LOG:
            return 0
        return self.add_text(data)

    def add_text(self, text: str | bytes) -> int:
        """Parse key log text; returns how many new secrets it added."""
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        added = 0
        for raw in text.splitlines():
            self.lines += 1
            added += self._line(raw)
        return added

    def merge(self, other: KeyLog) -> None:
        """Take every secret of ``other`` this log does not already have."""
        for random, labels in other._secrets.items():
            for label, secret in labels.items():
                self._put(random, label, secret)
        self.bad_lines += other.bad_lines
        self.lines += other.lines

    # ------------------------------------------------------------------ lookup

    def get(self, client_random: bytes, label: str) -> bytes | None:
        entry = self._secrets.get(bytes(client_random))
        return entry.get(label) if entry else None

    def secrets(self, client_random: bytes) -> dict[str, bytes]:
        """All secrets logged for one connection (a copy)."""
        return dict(self._secrets.get(bytes(client_random), {}))

    def __contains__(self, client_random: object) -> bool:
        return isinstance(client_random, bytes | bytearray) and bytes(client_random) in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:  # an empty key log is still a key log object
        return True

    # ------------------------------------------------------------------ internals

    def _line(self, raw: str) -> int:
        line = raw.strip()
        if not line or line.startswith("#"):
            return 0
        if len(line) > MAX_LINE:
            self.bad_lines += 1
            return 0
        parts = line.split()
        if len(parts) != 3:
            self.bad_lines += 1
            return 0
        label, random_hex, secret_hex = parts
        if label in IGNORED_LABELS:
            return 0
        if label not in LABELS or len(random_hex) != 64 or len(secret_hex) % 2:
            self.bad_lines += 1
            return 0
        try:  # split() left no whitespace, so fromhex accepts exactly the ASCII hex digits
            random, secret = bytes.fromhex(random_hex), bytes.fromhex(secret_hex)
        except ValueError:
            self.bad_lines += 1
            return 0
        # master secret: always 48 bytes; TLS 1.3 secrets: the suite's hash length (SHA-256/384)
        sizes = (48,) if label == "CLIENT_RANDOM" else (32, 48)
        if len(secret) not in sizes:
            self.bad_lines += 1
            return 0
        return self._put(random, label, secret)

    def _put(self, random: bytes, label: str, secret: bytes) -> int:
        entry = self._secrets.get(random)
        if entry is None:
            if len(self._secrets) >= MAX_ENTRIES:
                self.bad_lines += 1
                return 0
            entry = self._secrets[random] = {}
        old = entry.get(label)
        if old is not None:
            if old != secret:
                self.conflicts += 1
            return 0
        entry[label] = secret
        return 1


def parse_dsb(body: bytes, byte_order: str = "<") -> tuple[int, bytes] | None:
    """(secrets type, secrets data) of a pcapng Decryption Secrets Block body (the bytes after
    the block type and total length), or None if it is too short to be one."""
    if len(body) < 8:
        return None
    secrets_type, length = struct.unpack(byte_order + "II", body[:8])
    if length > len(body) - 8:
        return None
    return secrets_type, bytes(body[8 : 8 + length])


def keylog_from(sources: Iterable[str | bytes | Path]) -> KeyLog:
    """Convenience for callers holding a list of sources."""
    return KeyLog.from_sources(*sources)
