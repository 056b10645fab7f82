"""A hand-built TLS 1.3 byte stream, for what real clients on this machine cannot be made to
send: record padding, KeyUpdate in the middle of a large transfer, a HelloRetryRequest,
oversized records. Written from RFC 8446 independently of the decryptor (its own
HKDF-Expand-Label), so the decryptor is checked against the RFC, not against itself.
"""

from __future__ import annotations

import hashlib
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
SUITE_HASH = {0x1301: (hashes.SHA256(), 16), 0x1302: (hashes.SHA384(), 32), 0x1303: (hashes.SHA256(), 32)}


def expand_label(algo: hashes.HashAlgorithm, secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(algo, length, info).derive(secret)


def record(ctype: int, payload: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + struct.pack(">H", len(payload)) + payload


def handshake(typ: int, body: bytes) -> bytes:
    return bytes([typ]) + len(body).to_bytes(3, "big") + body


def ext(typ: int, data: bytes) -> bytes:
    return struct.pack(">HH", typ, len(data)) + data


def client_hello(random: bytes, suites: tuple[int, ...] = (0x1301, 0x1302, 0x1303), sni: str = "synth.test",
                 early: bool = False) -> bytes:
    name = sni.encode()
    exts = ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)
    exts += ext(16, struct.pack(">H", 3) + b"\x02h2")
    exts += ext(43, b"\x02\x03\x04")
    if early:
        exts += ext(42, b"")
    body = b"\x03\x03" + random + b"\x00" + struct.pack(">H", 2 * len(suites))
    body += b"".join(struct.pack(">H", s) for s in suites) + b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    return handshake(1, body)


def server_hello(random: bytes, suite: int) -> bytes:
    exts = ext(43, b"\x03\x04")
    body = b"\x03\x03" + random + b"\x00" + struct.pack(">H", suite) + b"\x00" + struct.pack(">H", len(exts)) + exts
    return handshake(2, body)


def encrypted_extensions(alpn: bytes = b"h2", early: bool = False) -> bytes:
    exts = ext(16, struct.pack(">H", len(alpn) + 1) + bytes([len(alpn)]) + alpn)
    if early:
        exts += ext(42, b"")
    return handshake(8, struct.pack(">H", len(exts)) + exts)


class Encryptor:
    """One direction's TLS 1.3 record protection (RFC 8446 5.2, 5.3, 7.2, 7.3)."""

    def __init__(self, suite: int, secret: bytes) -> None:
        self.suite = suite
        self.algo, self.key_len = SUITE_HASH[suite]
        self.set(secret)

    def set(self, secret: bytes) -> None:
        self.secret = secret
        key = expand_label(self.algo, secret, b"key", self.key_len)
        self.iv = expand_label(self.algo, secret, b"iv", 12)
        self.aead = ChaCha20Poly1305(key) if self.suite == 0x1303 else AESGCM(key)
        self.seq = 0

    def key_update(self) -> None:
        self.set(expand_label(self.algo, self.secret, b"traffic upd", self.algo.digest_size))

    def record(self, inner_type: int, content: bytes, pad: int = 0) -> bytes:
        inner = content + bytes([inner_type]) + bytes(pad)
        header = bytes([23, 3, 3]) + struct.pack(">H", len(inner) + 16)
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        return header + self.aead.encrypt(nonce, inner, header)
