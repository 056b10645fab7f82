"""The server name of a QUIC connection, from the client's Initial packets.

Initial packets are encrypted with keys derived from the client's own Destination
Connection ID and a published salt (RFC 9001 §5.2), so anyone on the path can read the
ClientHello in them: decrypting needs no secrets. Chrome spreads a large ClientHello over
several Initials, so CRYPTO data is gathered per connection until the name is found.
The ClientHello itself is read by ``_tls_hello``, the parser TLS over TCP uses too.

The QUIC transport pieces every QUIC reader shares live here too: variable-length
integers (RFC 9000 §16) and packet protection (RFC 9001 §5: keys, header protection,
packet numbers), used for the Initials below and by ``_quicdecrypt`` for 1-RTT packets.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from consentscope.detectors import DEFAULT_LIMITS, Limits

from ._tls_hello import ClientHello, parse_client_hello
from ._tlsdecrypt import hkdf_expand_label

INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
QUIC_V1 = 0x00000001


def initial_keys(dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) protecting the client's Initial packets (RFC 9001 §5.2)."""
    client = _client_initial_secret(dcid)
    return (
        hkdf_expand_label(client, b"quic key", b"", 16, "sha256"),
        hkdf_expand_label(client, b"quic iv", b"", 12, "sha256"),
        hkdf_expand_label(client, b"quic hp", b"", 16, "sha256"),
    )


def _client_initial_secret(dcid: bytes) -> bytes:
    initial_secret = hmac.digest(INITIAL_SALT_V1, dcid, "sha256")  # HKDF-Extract
    return hkdf_expand_label(initial_secret, b"client in", b"", 32, "sha256")


def varint(data: bytes, i: int) -> tuple[int, int]:
    """RFC 9000 §16 variable-length integer at ``data[i]``; ValueError when truncated."""
    if i >= len(data):
        raise ValueError("truncated varint")
    first = data[i]
    length = 1 << (first >> 6)
    if i + length > len(data):
        raise ValueError("truncated varint")
    value = first & 0x3F
    for b in data[i + 1 : i + length]:
        value = (value << 8) | b
    return value, i + length


# ----------------------------------------------------------------------------- packet protection


@dataclass(frozen=True)
class QuicSuite:
    name: str
    aead: type[AESGCM] | type[ChaCha20Poly1305]
    key_len: int
    hash_name: str


AES_128_GCM = QuicSuite("TLS_AES_128_GCM_SHA256", AESGCM, 16, "sha256")
AES_256_GCM = QuicSuite("TLS_AES_256_GCM_SHA384", AESGCM, 32, "sha384")
CHACHA20 = QuicSuite("TLS_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, 32, "sha256")
#: suites a traffic secret of this length can belong to, the most common first
SUITES_BY_SECRET_LEN = {32: (AES_128_GCM, CHACHA20), 48: (AES_256_GCM,)}


class PacketKeys:
    """AEAD and header protection of one direction and key phase (RFC 9001 §5)."""

    def __init__(self, suite: QuicSuite, secret: bytes, hp: bytes | None = None) -> None:
        self.suite = suite
        self.secret = secret
        key = hkdf_expand_label(secret, b"quic key", b"", suite.key_len, suite.hash_name)
        self.iv = int.from_bytes(hkdf_expand_label(secret, b"quic iv", b"", 12, suite.hash_name), "big")
        self.hp = hp if hp is not None else hkdf_expand_label(secret, b"quic hp", b"", suite.key_len, suite.hash_name)
        self.aead = suite.aead(key)
        self._ecb = Cipher(algorithms.AES(self.hp), modes.ECB()).encryptor() if suite.aead is AESGCM else None

    def mask(self, sample: bytes) -> bytes:
        """The header protection mask of a 16-byte sample (§5.4.3 AES, §5.4.4 ChaCha20)."""
        if self._ecb is not None:
            return self._ecb.update(sample)
        enc = Cipher(algorithms.ChaCha20(self.hp, sample), None).encryptor()
        return enc.update(b"\x00" * 5)

    def decrypt(self, pn: int, header: bytes, payload: bytes) -> bytes:
        return self.aead.decrypt((self.iv ^ pn).to_bytes(12, "big"), payload, header)

    def next(self) -> PacketKeys:
        """The keys after a key update (§6.1); header protection keys do not change."""
        h = self.suite.hash_name
        nxt = hkdf_expand_label(self.secret, b"quic ku", b"", len(self.secret), h)
        return PacketKeys(self.suite, nxt, self.hp)


def decode_packet_number(largest: int, truncated: int, nbits: int) -> int:
    """RFC 9000 Appendix A.3: the full packet number closest to the next expected one."""
    expected = largest + 1
    win = 1 << nbits
    hwin = win // 2
    candidate = (expected & ~(win - 1)) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


def unprotect(keys: PacketKeys, packet: bytes, pn_offset: int, largest: int, long_header: bool) -> tuple[int, bytes]:
    """(packet number, plaintext) of one protected packet (§5.3, §5.4); ``packet`` ends
    where this packet ends. Raises InvalidTag or ValueError."""
    sample = packet[pn_offset + 4 : pn_offset + 20]
    if len(sample) < 16:
        raise ValueError("packet too short to sample")
    mask = keys.mask(sample)
    first = packet[0] ^ (mask[0] & (0x0F if long_header else 0x1F))
    pn_len = (first & 0x03) + 1
    truncated = int.from_bytes(packet[pn_offset : pn_offset + pn_len], "big") ^ int.from_bytes(
        mask[1 : 1 + pn_len], "big")
    pn = decode_packet_number(largest, truncated, pn_len * 8)
    header = bytes((first,)) + packet[1:pn_offset] + truncated.to_bytes(pn_len, "big")
    return pn, keys.decrypt(pn, header, packet[pn_offset + pn_len :])


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
        token_len, i = varint(packet, i)
        i += token_len
        length, i = varint(packet, i)
        keys = PacketKeys(AES_128_GCM, _client_initial_secret(dcid))
        _, plain = unprotect(keys, packet[: i + length], i, -1, True)
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
                _, i = varint(plain, i)
                _, i = varint(plain, i)
                count, i = varint(plain, i)
                _, i = varint(plain, i)
                for _ in range(count * 2):
                    _, i = varint(plain, i)
                if ftype == 0x03:
                    for _ in range(3):
                        _, i = varint(plain, i)
            elif ftype == 0x06:  # CRYPTO
                offset, i = varint(plain, i + 1)
                length, i = varint(plain, i)
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
