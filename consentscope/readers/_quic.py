"""The server name of a QUIC connection, from the client's Initial packets.

Initial packets are encrypted with keys derived from the client's own Destination
Connection ID and a published salt (RFC 9001 §5.2), so anyone on the path can read the
ClientHello in them: decrypting needs no secrets. Chrome spreads a large ClientHello over
several Initials, so CRYPTO data is gathered per connection until the name is found.
The ClientHello itself is read by ``_tls_hello``, the parser TLS over TCP uses too.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from consentscope.detectors import DEFAULT_LIMITS, Limits

from ._tls_hello import ClientHello, parse_client_hello

INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
QUIC_V1 = 0x00000001


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def initial_keys(dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) protecting the client's Initial packets (RFC 9001 §5.2)."""
    h = HMAC(INITIAL_SALT_V1, hashes.SHA256())
    h.update(dcid)
    initial_secret = h.finalize()
    client = _expand_label(initial_secret, "client in", 32)
    return (
        _expand_label(client, "quic key", 16),
        _expand_label(client, "quic iv", 12),
        _expand_label(client, "quic hp", 16),
    )


def _varint(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    length = 1 << (first >> 6)
    value = first & 0x3F
    for b in data[i + 1 : i + length]:
        value = (value << 8) | b
    if i + length > len(data):
        raise ValueError("truncated varint")
    return value, i + length


def initial_crypto(packet: bytes) -> tuple[bytes, list[tuple[int, bytes]]] | None:
    """(DCID, [(offset, CRYPTO data)]) of a QUIC v1 client Initial packet, or None."""
    try:
        if len(packet) < 7 or packet[0] & 0xC0 != 0xC0 or (packet[0] >> 4) & 0x03 != 0:
            return None
        if struct.unpack(">I", packet[1:5])[0] != QUIC_V1:
            return None
        i = 5
        dcid = packet[i + 1 : i + 1 + packet[i]]
        i += 1 + packet[i]
        i += 1 + packet[i]  # source connection id
        token_len, i = _varint(packet, i)
        i += token_len
        length, i = _varint(packet, i)
        pn_offset = i
        key, iv, hp = initial_keys(dcid)
        sample = packet[pn_offset + 4 : pn_offset + 20]
        if len(sample) < 16:
            return None
        enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
        mask = enc.update(sample) + enc.finalize()
        first = packet[0] ^ (mask[0] & 0x0F)
        pn_len = (first & 0x03) + 1
        protected_pn = packet[pn_offset : pn_offset + pn_len]
        pn_bytes = bytes(b ^ m for b, m in zip(protected_pn, mask[1 : 1 + pn_len], strict=True))
        header = bytes([first]) + packet[1:pn_offset] + pn_bytes
        pn = int.from_bytes(pn_bytes, "big")
        nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
        payload = packet[pn_offset + pn_len : pn_offset + length]
        plain = AESGCM(key).decrypt(nonce, payload, header)
    except Exception:
        return None
    return dcid, _crypto_frames(plain)


def _crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    i = 0
    try:
        while i < len(plain):
            ftype = plain[i]
            if ftype == 0x00 or ftype == 0x01:  # PADDING, PING
                i += 1
            elif ftype in (0x02, 0x03):  # ACK
                i += 1
                _, i = _varint(plain, i)
                _, i = _varint(plain, i)
                count, i = _varint(plain, i)
                _, i = _varint(plain, i)
                for _ in range(count * 2):
                    _, i = _varint(plain, i)
                if ftype == 0x03:
                    for _ in range(3):
                        _, i = _varint(plain, i)
            elif ftype == 0x06:  # CRYPTO
                offset, i = _varint(plain, i + 1)
                length, i = _varint(plain, i)
                out.append((offset, plain[i : i + length]))
                i += length
            elif ftype == 0x1C:  # CONNECTION_CLOSE
                break
            else:
                break
    except (ValueError, IndexError):
        pass
    return out


class QuicNames:
    """CRYPTO data per connection until the ClientHello yields a server name, for at most
    ``Limits.max_quic_connections`` connections at once; ``Limits.max_quic_named`` named
    connections are remembered."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.max_connections = limits.max_quic_connections
        self.max_named = limits.max_quic_named
        self._pending: dict[bytes, dict[int, bytes]] = {}
        self._done: dict[bytes, None] = {}  # insertion-ordered: the oldest is forgotten first

    def feed(self, packet: bytes) -> str | None:
        """The server name once this packet completes it, else None."""
        hello = self.feed_hello(packet)
        return hello.sni if hello is not None else None

    def feed_hello(self, packet: bytes) -> ClientHello | None:
        """The ClientHello once this packet completes its server name, else None."""
        got = initial_crypto(packet)
        if got is None:
            return None
        dcid, frames = got
        if dcid in self._done or not frames:
            return None
        parts = self._pending.setdefault(dcid, {})
        for offset, data in frames:
            parts[offset] = data
        stream = bytearray()
        for offset in sorted(parts):
            if offset > len(stream):
                break
            stream[offset:] = parts[offset]
        hello = parse_client_hello(bytes(stream))
        if hello is not None and hello.sni is not None:
            self._done[dcid] = None
            if len(self._done) > self.max_named:
                del self._done[next(iter(self._done))]
            self._pending.pop(dcid, None)
            return hello
        if len(self._pending) > self.max_connections:
            self._pending.pop(next(iter(self._pending)))
        return None
