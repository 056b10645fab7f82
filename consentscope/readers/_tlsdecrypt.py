"""Decrypt one captured TLS connection from its two reassembled TCP byte streams and a key log.

Sans-IO: ``TlsConnection.feed(from_client, data)`` takes stream bytes in any slices, returns
the application-data plaintext it could decrypt so far (``PlainChunk``s, each naming the
stream byte offset of its record so the caller can map it to a packet time), and
``finish()`` gives the verdict. Nothing here raises on hostile input: a failure stops the
direction it happened in and is reported as a ``reason``; plaintext decrypted before it is
authentic (every record passed its AEAD tag or MAC check) and is still returned.

Supported, from the RFCs only:

* TLS 1.3 (RFC 8446): TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256. Traffic keys come from the logged traffic secrets
  (HKDF-Expand-Label, section 7.1/7.3), so PSK resumption needs nothing special.
  HelloRetryRequest, middlebox-compatibility ChangeCipherSpec, record padding, KeyUpdate
  (next secret = HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), section 7.2),
  0-RTT (CLIENT_EARLY_TRAFFIC_SECRET; rejected early data is skipped as the server does,
  section 4.2.10).
* TLS 1.2 (RFC 5246): key block from the logged master secret with the TLS 1.2 PRF (the
  suite's hash: SHA-384 for *_SHA384 suites, else SHA-256). AES-GCM (RFC 5288, explicit
  nonce), ChaCha20-Poly1305 (RFC 7905), AES-CBC with HMAC-SHA1/256/384 (explicit IV, padding
  and MAC checked; encrypt-then-MAC, RFC 7366, when both hellos carry it, which OpenSSL does
  by default). Session resumption (by ID or ticket) needs nothing special: the key log has a
  CLIENT_RANDOM line for the resumed connection too. The key exchange (RSA, DHE, ECDHE) does
  not matter since the master secret is logged. Renegotiation is not followed (its records
  fail authentication and stop the direction with ``bad-record``).

Not supported (``unsupported-suite``): SSL 3.0, TLS 1.0/1.1, CCM (also TLS 1.3's 0x1304/5),
NULL, RC4, 3DES, CAMELLIA, ARIA, GOST; DTLS; TLS inside QUIC (that is QUIC's own framing). ``reason`` is one of:

``no-key``            the key log lacks a secret this connection needs
``unsupported-suite`` version or cipher suite outside the list above
``handshake-missing`` the client stream does not start with a ClientHello, or no ServerHello
``stream-gap``        bytes are missing (the caller said so, or a stream ends inside a record)
``bad-record``        authentication failure (wrong key, corruption), malformed or oversized
                      record or handshake message, or buffering beyond ``max_buffered``

How the pcap reader uses it (once both land: ``pcap.py`` is being split per layer)
-----------------------------------------------------------------------------------------
The reader gets a ``keylog: KeyLog | None`` (``KeyLog.from_sources(*paths)`` from a
``--tls-keylog`` option, plus every pcapng Decryption Secrets Block: in the pcapng framer,
block type 0x0000000A, ``keylog.add_dsb(*parse_dsb(body, order))``; DSBs come before the
packets they unlock). ``_PcapReader.close()`` assembles one direction at a time, but
decryption needs both, so when the data starts with a ClientHello (``data[:1] == b"\x16"
and data[5:6] == b"\x01"``: ``_sni()`` is None for one without a server name, which must
still be decrypted) and a key log is present, the reader parks ``(data, times, gap, s)``
under the connection key and, when the reverse direction ``(s.dst, s.dport, s.src,
s.sport)`` closes (or at ``flush()``, with ``b""`` for a direction never seen), does::

    result = decrypt_connection(client_data, server_data, keylog,
                                client_gap=client_gap is not None, server_gap=server_gap is not None)
    yield Contact(s.first_time, hello[0], s.dst, s.dport, "tls-sni", hello[1])   # as today
    yield from https_records(                                                     # _httpparse.py
        result, server_ip=s.dst, port=s.dport, flow_prefix=f"pcap:{s.src}:{s.sport}-{s.dst}:{s.dport}",
        time_at=lambda off: _time_at(times, off, s.first_time), http1=_http_requests)

``https_records`` sends HTTP/1.x plaintext to the existing parser (``_http_requests``) and
HTTP/2 (ALPN "h2" or the connection preface) to ``_h2.h2_requests``, and builds the
``RequestRecord``s exactly as ``flowfile.flow_to_records`` does for the same traffic through
mitmproxy (tested against mitmdump's own flow file). A parked direction counts towards
``MAX_STREAM_BYTES``/``MAX_STREAMS`` like an open one. When ``result.decrypted`` is False the
reader should count ``result.reason`` per capture (and may put it on the tls-sni Contact);
plaintext decrypted before a failure is authentic and is still scanned.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ._keylog import KeyLog
from ._tls_hello import ClientHello, parse_client_hello

#: Largest TLSCiphertext fragment: 2^14 + 2048 (RFC 5246 6.2.3; TLS 1.3 allows only +256).
MAX_RECORD = 2**14 + 2048
#: Largest handshake message reassembled (certificate chains are the big ones).
MAX_HANDSHAKE_MESSAGE = 1024 * 1024
#: Unconsumed bytes held per direction (waiting for the peer's hello, or a partial record).
MAX_BUFFERED = 17 * 1024 * 1024
#: Client bytes of rejected 0-RTT data skipped before giving up (RFC 8446 4.2.10).
MAX_EARLY_SKIP = 16 * 1024 * 1024

REASONS = ("no-key", "unsupported-suite", "handshake-missing", "stream-gap", "bad-record")

_HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
_CT_CCS, _CT_ALERT, _CT_HANDSHAKE, _CT_APPDATA = 20, 21, 22, 23
_HS_CLIENT_HELLO, _HS_SERVER_HELLO, _HS_EOED, _HS_EE, _HS_FINISHED, _HS_KEY_UPDATE = 1, 2, 5, 8, 20, 24
_EXT_ALPN, _EXT_ETM, _EXT_EARLY, _EXT_VERSIONS = 16, 22, 42, 43
_CONTENT_TYPES = frozenset((_CT_CCS, _CT_ALERT, _CT_HANDSHAKE, _CT_APPDATA, 24))  # 24: heartbeat
_RECORD_HEADER = struct.Struct(">BBxH")  # content type, major version, length
_VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}


class _Fail(Exception):
    """Stops one direction with a reason (internal; never leaves this module)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------- cipher suites


@dataclass(frozen=True, slots=True)
class Suite:
    code: int
    name: str
    kind: str  # "gcm", "chacha" or "cbc"
    key_len: int
    fixed_iv_len: int  # TLS 1.2 key block IV bytes (GCM salt 4, ChaCha 12, CBC 16 unused)
    mac: str | None  # CBC HMAC hash
    prf: str  # TLS 1.2 PRF hash / TLS 1.3 HKDF hash
    tls13: bool = False

    @property
    def mac_len(self) -> int:
        return digest_size(self.mac) if self.mac else 0


def _suites() -> dict[int, Suite]:
    table: dict[int, Suite] = {}

    def add(code: int, name: str, kind: str, key: int, mac: str | None, prf: str, tls13: bool = False) -> None:
        iv = {"gcm": 4, "chacha": 12, "cbc": 16}[kind]
        table[code] = Suite(code, name, kind, key, 12 if tls13 else iv, mac, prf, tls13)

    add(0x1301, "TLS_AES_128_GCM_SHA256", "gcm", 16, None, "sha256", True)
    add(0x1302, "TLS_AES_256_GCM_SHA384", "gcm", 32, None, "sha384", True)
    add(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256", True)
    for kx, base in (("RSA", 0x009C), ("DHE_RSA", 0x009E)):
        add(base, f"TLS_{kx}_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256")
        add(base + 1, f"TLS_{kx}_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384")
    for kx, base in (("ECDHE_ECDSA", 0xC02B), ("ECDHE_RSA", 0xC02F)):
        add(base, f"TLS_{kx}_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256")
        add(base + 1, f"TLS_{kx}_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384")
    for code, kx in ((0xCCA8, "ECDHE_RSA"), (0xCCA9, "ECDHE_ECDSA"), (0xCCAA, "DHE_RSA")):
        add(code, f"TLS_{kx}_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256")
    cbc = [
        (0x002F, "RSA", 16, "sha1"), (0x0035, "RSA", 32, "sha1"),
        (0x003C, "RSA", 16, "sha256"), (0x003D, "RSA", 32, "sha256"),
        (0x0033, "DHE_RSA", 16, "sha1"), (0x0039, "DHE_RSA", 32, "sha1"),
        (0x0067, "DHE_RSA", 16, "sha256"), (0x006B, "DHE_RSA", 32, "sha256"),
        (0xC009, "ECDHE_ECDSA", 16, "sha1"), (0xC00A, "ECDHE_ECDSA", 32, "sha1"),
        (0xC013, "ECDHE_RSA", 16, "sha1"), (0xC014, "ECDHE_RSA", 32, "sha1"),
        (0xC023, "ECDHE_ECDSA", 16, "sha256"), (0xC024, "ECDHE_ECDSA", 32, "sha384"),
        (0xC027, "ECDHE_RSA", 16, "sha256"), (0xC028, "ECDHE_RSA", 32, "sha384"),
    ]
    for code, kx, key, mac in cbc:
        suffix = {"sha1": "SHA", "sha256": "SHA256", "sha384": "SHA384"}[mac]
        prf = "sha384" if mac == "sha384" else "sha256"
        add(code, f"TLS_{kx}_WITH_AES_{key * 8}_CBC_{suffix}", "cbc", key, mac, prf)
    return table


SUITES = _suites()


# ----------------------------------------------------------------------------- key derivation


#: hash name -> (constructor, block size, digest size) for ``_hmac``
_HASHES = {"sha256": (hashlib.sha256, 64, 32), "sha384": (hashlib.sha384, 128, 48), "sha1": (hashlib.sha1, 64, 20)}
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class _Hmac:
    """HMAC (RFC 2104) with one key, from two of hashlib's hashes: with OpenSSL 3 the one-shot
    ``hmac.digest`` sets up a MAC object per call (~2.5 us), two hashes take ~1 us; the HMACs
    of key derivation were 15% of decrypting a small connection (sampled with py-spy).
    ``hmac.digest`` for hashes outside ``_HASHES``."""

    __slots__ = ("hash_name", "inner", "new", "outer")

    def __init__(self, key: bytes, hash_name: str) -> None:
        self.hash_name = hash_name
        entry = _HASHES.get(hash_name)
        if entry is None:
            self.new, self.inner, self.outer = None, key, b""
            return
        new, block, _ = entry
        if len(key) > block:
            key = new(key).digest()
        key = key.ljust(block, b"\x00")
        self.new, self.inner, self.outer = new, key.translate(_IPAD), key.translate(_OPAD)

    def digest(self, msg: bytes) -> bytes:
        new = self.new
        if new is None:
            return hmac.digest(self.inner, msg, self.hash_name)
        return new(self.outer + new(self.inner + msg).digest()).digest()


def digest_size(hash_name: str) -> int:
    entry = _HASHES.get(hash_name)
    return entry[2] if entry is not None else hashlib.new(hash_name).digest_size


def hkdf_expand_label(secret: bytes | _Hmac, label: bytes, context: bytes, length: int, hash_name: str) -> bytes:
    """RFC 8446 7.1: HKDF-Expand(Secret, HkdfLabel, Length), HkdfLabel = length, "tls13 "+label, context.
    HKDF-Expand itself (RFC 5869 2.3): every key and IV of a connection is one or two HMACs,
    and small connections are most of a capture, so the HMAC is ``_Hmac`` (``secret`` may be
    one already keyed with it, for several labels) and the HkdfLabel of each (label, length)
    is built once."""
    mac = secret if isinstance(secret, _Hmac) else _Hmac(secret, hash_name)
    info = _LABELS.get((label, length)) if not context else None
    if info is None:
        full = b"tls13 " + label
        info = struct.pack(">H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
        if not context and len(_LABELS) < 64:  # the labels are constants of the callers
            _LABELS[label, length] = info
    block = out = mac.digest(info + b"\x01")
    i = 2
    while len(out) < length:  # beyond one block of the hash (not for TLS's keys and IVs)
        block = mac.digest(block + info + bytes((i,)))
        out += block
        i += 1
    return out[:length]


_LABELS: dict[tuple[bytes, int], bytes] = {}


def prf12(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 section 5: PRF(secret, label, seed) = P_<hash>(secret, label + seed)."""
    seed = label + seed
    mac = _Hmac(secret, hash_name)
    out = bytearray()
    a = seed
    while len(out) < length:
        a = mac.digest(a)
        out += mac.digest(a + seed)
    return bytes(out[:length])


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    """RFC 8446 5.3: the IV XOR the record sequence number, left-padded to the IV's length."""
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(len(iv), "big")


class _Tls13Keys:
    """One direction's record protection for one TLS 1.3 traffic secret, with KeyUpdate."""

    def __init__(self, suite: Suite, secret: bytes) -> None:
        self.suite = suite
        self._set(secret)

    def _set(self, secret: bytes) -> None:
        s = self.suite
        self.secret = secret
        mac = _Hmac(secret, s.prf)
        key = hkdf_expand_label(mac, b"key", b"", s.key_len, s.prf)
        self.iv = hkdf_expand_label(mac, b"iv", b"", 12, s.prf)
        self._iv = int.from_bytes(self.iv, "big")
        self.aead = ChaCha20Poly1305(key) if s.kind == "chacha" else AESGCM(key)
        self.seq = 0

    def update(self) -> None:
        """RFC 8446 7.2: application_traffic_secret_N+1."""
        size = digest_size(self.suite.prf)
        self._set(hkdf_expand_label(self.secret, b"traffic upd", b"", size, self.suite.prf))

    def decrypt(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        """(inner content type, content) of one record; raises InvalidTag."""
        plain = self.aead.decrypt((self._iv ^ self.seq).to_bytes(12, "big"), payload, header)  # RFC 8446 5.3
        self.seq += 1
        if plain[-1:] not in (b"\x00", b""):  # the common case: no padding
            return plain[-1], plain[:-1]
        end = len(plain.rstrip(b"\x00"))  # RFC 8446 5.4: zero padding after the content type
        if end == 0:
            raise _Fail("bad-record")  # no content type at all
        return plain[end - 1], plain[: end - 1]


class _Tls12Keys:
    """One direction's TLS 1.2 record protection from the key block."""

    def __init__(self, suite: Suite, mac_key: bytes, key: bytes, iv: bytes, etm: bool) -> None:
        self.suite, self.mac_key, self.key, self.iv, self.etm = suite, mac_key, key, iv, etm
        self.seq = 0
        if suite.kind == "gcm":
            self.aead: AESGCM | ChaCha20Poly1305 | None = AESGCM(key)
        elif suite.kind == "chacha":
            self.aead = ChaCha20Poly1305(key)
        else:
            self.aead = None
        self._mac = _Hmac(mac_key, suite.mac) if suite.mac else None  # CBC: keyed once per direction
        self._aes = algorithms.AES(key) if suite.kind == "cbc" else None

    def decrypt(self, ctype: int, version: bytes, payload: bytes) -> bytes:
        seq = struct.pack(">Q", self.seq)
        kind = self.suite.kind
        if kind == "gcm":  # RFC 5288: nonce = salt(4) + explicit(8), carried first in the record
            if len(payload) < 8 + 16:
                raise _Fail("bad-record")
            aad = seq + bytes([ctype]) + version + struct.pack(">H", len(payload) - 24)
            assert self.aead is not None
            plain = self.aead.decrypt(self.iv + payload[:8], payload[8:], aad)
        elif kind == "chacha":  # RFC 7905: nonce = iv XOR seq, no explicit part
            if len(payload) < 16:
                raise _Fail("bad-record")
            aad = seq + bytes([ctype]) + version + struct.pack(">H", len(payload) - 16)
            assert self.aead is not None
            plain = self.aead.decrypt(_xor_nonce(self.iv, self.seq), payload, aad)
        else:
            plain = self._cbc(seq, ctype, version, payload)
        self.seq += 1
        return plain

    def _cbc(self, seq: bytes, ctype: int, version: bytes, payload: bytes) -> bytes:
        mac_len = self.suite.mac_len
        mac_name = self.suite.mac or "sha1"
        if self.etm:  # RFC 7366: MAC over IV + ciphertext, checked before decrypting
            body, tag = payload[:-mac_len], payload[-mac_len:]
            if len(body) < 32 or len(body) % 16:
                raise _Fail("bad-record")
            want = self._mac_of(seq + bytes([ctype]) + version + struct.pack(">H", len(body)) + body, mac_name)
            if not hmac.compare_digest(want, tag):
                raise InvalidTag()
            plain = self._cbc_decrypt(body)
            return self._unpad(plain)
        if len(payload) < 32 or len(payload) % 16:
            raise _Fail("bad-record")
        plain = self._unpad(self._cbc_decrypt(payload))
        if len(plain) < mac_len:
            raise InvalidTag()
        content, tag = plain[: len(plain) - mac_len], plain[len(plain) - mac_len :]
        want = self._mac_of(seq + bytes([ctype]) + version + struct.pack(">H", len(content)) + content, mac_name)
        if not hmac.compare_digest(want, tag):
            raise InvalidTag()
        return content

    def _mac_of(self, msg: bytes, mac_name: str) -> bytes:
        return self._mac.digest(msg) if self._mac is not None else hmac.new(self.mac_key, msg, mac_name).digest()

    def _cbc_decrypt(self, body: bytes) -> bytes:
        """TLS 1.1+ explicit IV: the first block of the record is the IV."""
        dec = Cipher(self._aes or algorithms.AES(self.key), modes.CBC(body[:16])).decryptor()
        return dec.update(body[16:]) + dec.finalize()

    @staticmethod
    def _unpad(plain: bytes) -> bytes:
        if not plain:
            raise InvalidTag()
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-(pad + 1) :] != bytes([pad]) * (pad + 1):
            raise InvalidTag()
        return plain[: -(pad + 1)]


def tls12_keys(suite: Suite, master: bytes, client_random: bytes, server_random: bytes,
               etm: bool) -> tuple[_Tls12Keys, _Tls12Keys]:
    """(client write, server write) protection from the master secret (RFC 5246 6.3)."""
    mac_len = suite.mac_len
    n = 2 * (mac_len + suite.key_len + suite.fixed_iv_len)
    block = prf12(suite.prf, master, b"key expansion", server_random + client_random, n)
    parts = []
    pos = 0
    for size in (mac_len, mac_len, suite.key_len, suite.key_len, suite.fixed_iv_len, suite.fixed_iv_len):
        parts.append(block[pos : pos + size])
        pos += size
    cmac, smac, ckey, skey, civ, siv = parts
    return _Tls12Keys(suite, cmac, ckey, civ, etm), _Tls12Keys(suite, smac, skey, siv, etm)


# ----------------------------------------------------------------------------- hello parsing


def _vec16(data: bytes, pos: int) -> tuple[bytes, int]:
    """The vector with a 2-byte length at ``data[pos:]``, and the position after it; an overrun
    is a malformed message."""
    end = pos + 2 + (data[pos] << 8 | data[pos + 1]) if pos + 2 <= len(data) else -1
    if end < 0 or end > len(data):
        raise _Fail("bad-record")
    return data[pos + 2 : end], end


def _extensions(data: bytes, pos: int = 0) -> dict[int, bytes]:
    """The extensions block at ``data[pos:]`` by type (the first of a repeated type); none
    when nothing follows."""
    out: dict[int, bytes] = {}
    if pos >= len(data):
        return out
    block, _ = _vec16(data, pos)
    i = 0
    while i < len(block):
        if i + 4 > len(block):
            raise _Fail("bad-record")
        typ = block[i] << 8 | block[i + 1]
        value, i = _vec16(block, i + 2)
        out.setdefault(typ, value)
    return out


def _alpn_list(data: bytes) -> list[str]:
    names = []
    lst, _ = _vec16(data, 0)
    i = 0
    while i < len(lst):
        end = i + 1 + lst[i]
        if end > len(lst):
            raise _Fail("bad-record")
        names.append(lst[i + 1 : end].decode("ascii", "replace"))
        i = end
    return names


@dataclass(slots=True)
class _Hello:
    random: bytes
    session_id: bytes
    suites: list[int]
    ext: dict[int, bytes]


def _parse_server_hello(body: bytes) -> tuple[int, _Hello]:
    """legacy_version(2) random(32) session_id<1> cipher_suite(2) compression(1) extensions."""
    if len(body) < 35 or 35 + body[34] + 3 > len(body):
        raise _Fail("bad-record")
    version = body[0] << 8 | body[1]
    random = body[2:34]
    i = 35 + body[34]
    sid = body[35:i]
    suite = body[i] << 8 | body[i + 1]
    ext = _extensions(body, i + 3)
    sv = ext.get(_EXT_VERSIONS)
    if sv is not None and len(sv) == 2:
        version = struct.unpack(">H", sv)[0]
    return version, _Hello(random, sid, [suite], ext)


# ----------------------------------------------------------------------------- the connection


@dataclass(slots=True)
class PlainChunk:
    """Application data of one record: ``offset`` is the stream byte offset of the record.
    Not frozen: one is made per record, and a frozen dataclass takes 1.8 us to make, not 0.4."""

    from_client: bool
    offset: int
    record: int
    data: bytes
    early: bool = False


@dataclass(slots=True)
class _Dir:
    client: bool
    buf: bytes = b""  # stream bytes fed and not yet consumed from ``pos`` on
    pos: int = 0  # records are sliced out of ``buf`` where they lie: one copy each
    base: int = 0  # stream offset of buf[pos]
    records: int = 0
    hs: bytearray = field(default_factory=bytearray)  # a handshake message begun, not yet whole
    keys: _Tls13Keys | _Tls12Keys | None = None
    pending: tuple[_Tls13Keys, str] | None = None  # TLS 1.3 (keys, stage) from the next record on
    stage: str = "hello"
    halted: str | None = None
    gap: bool = False
    skipped: int = 0
    out: list[PlainChunk] = field(default_factory=list)


class TlsConnection:
    """One TLS connection being decrypted; see the module docstring."""

    def __init__(self, keylog: KeyLog, *, max_buffered: int = MAX_BUFFERED,
                 client_hello: tuple[bytes, ClientHello] | None = None) -> None:
        """``client_hello``: a ClientHello message (type and length included) the caller has
        already parsed, and what it parsed to; used when the client's hello is that message."""
        self.keylog = keylog
        self._hello_known = client_hello
        self.max_buffered = max_buffered
        self.c = _Dir(True)
        self.s = _Dir(False)
        self.reason: str | None = None
        self.sni: str | None = None
        self.alpn_offered: list[str] = []
        self.alpn: str | None = None
        self.version: str | None = None
        self.suite: Suite | None = None
        self.offered_suites: list[int] = []
        self.client_random: bytes | None = None
        self.server_random: bytes | None = None
        self.resumed_session = False
        self._version_code: int | None = None
        self._client_session_id = b""
        self._etm_offered = False
        self._early_offered = False
        self._early_accepted: bool | None = None  # from EncryptedExtensions
        self._hrr = False  # a HelloRetryRequest was seen
        self._ee_seen = False
        self._server_hello = False
        self._pending_12: tuple[_Tls12Keys, _Tls12Keys] | None = None
        self.encrypt_then_mac = False
        self.early_skipped = 0  # bytes of rejected 0-RTT records skipped
        self.client_key_updates = 0
        self.server_key_updates = 0

    # ------------------------------------------------------------------ API

    def feed(self, from_client: bool, data: bytes) -> list[PlainChunk]:
        """Add stream bytes of one direction; returns the plaintext that became available
        (in either direction: client records may have waited for the server's hello)."""
        d = self.c if from_client else self.s
        if d.halted is None and not d.gap and data:
            if len(d.buf) - d.pos + len(data) > self.max_buffered:
                # a partial record is at most MAX_RECORD: this much only piles up waiting for a hello
                self._halt(d, "handshake-missing")
            else:
                d.buf = d.buf[d.pos :] + data if d.pos else d.buf + data
                d.pos = 0
        self._drive()
        out = self.c.out + self.s.out
        self.c.out, self.s.out = [], []
        return out

    def gap(self, from_client: bool) -> None:
        """The caller's reassembly lost bytes after what it fed: that direction ends here
        (later bytes of it are ignored) and the verdict is ``stream-gap``."""
        d = self.c if from_client else self.s
        d.gap = True

    def finish(self) -> tuple[bool, str | None]:
        """(decrypted, reason) once both streams are fed: decrypted means every record of both
        directions was authenticated and nothing was missing."""
        self._drive()
        if self.reason is None:
            if self.c.stage == "hello" or not self._server_hello:
                self._set_reason("handshake-missing")
            elif self.c.gap or self.s.gap or len(self.c.buf) > self.c.pos or len(self.s.buf) > self.s.pos:
                self._set_reason("stream-gap")
        return self.reason is None, self.reason

    @property
    def version_code(self) -> int | None:
        return self._version_code

    @property
    def hello_retry(self) -> bool:
        return self._hrr

    # ------------------------------------------------------------------ driving

    def _set_reason(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def _halt(self, d: _Dir, reason: str) -> None:
        d.halted = reason
        d.buf, d.pos = b"", 0
        d.hs = bytearray()
        self._set_reason(reason)

    def _drive(self) -> None:
        progress = True
        while progress:
            progress = False
            for d in (self.c, self.s):
                if d.halted is None and self._steps(d):
                    progress = True

    def _steps(self, d: _Dir) -> bool:
        """Process the complete records of ``d`` until it must wait or halts; whether any was."""
        done = False
        while d.halted is None:
            buf, pos = d.buf, d.pos
            if len(buf) - pos < 5:
                return done
            ctype, major, length = _RECORD_HEADER.unpack_from(buf, pos)
            if d.records == 0 and (ctype != _CT_HANDSHAKE or major != 3):
                self._halt(d, "handshake-missing")  # mid-connection start, or not TLS at all
                return done
            if ctype not in _CONTENT_TYPES or major != 3 or length > MAX_RECORD:
                self._halt(d, "bad-record")
                return done
            end = pos + 5 + length
            if len(buf) < end or not self._ready(d, ctype):
                return done
            header = buf[pos : pos + 5]
            payload = buf[pos + 5 : end]
            offset = d.base
            d.pos = end
            d.base += 5 + length
            index = d.records
            d.records += 1
            done = True
            try:
                if ctype == _CT_APPDATA and d.stage == "app" and self._version_code == 0x0304:
                    # the steady state, as _record13 and _content do it: most records of a capture
                    inner, content = cast(_Tls13Keys, d.keys).decrypt(header, payload)  # keys of "app" in 1.3
                    if inner != _CT_APPDATA:
                        self._content(d, inner, content, offset, index, early=False)
                    elif content:
                        d.out.append(PlainChunk(d.client, offset, index, content))
                else:
                    self._record(d, ctype, header, payload, offset, index)
            except _Fail as e:
                self._halt(d, e.reason)
            except InvalidTag:
                self._halt(d, "bad-record")
            except Exception:  # hostile bytes must never escape as an exception; any slip is a bad record
                self._halt(d, "bad-record")
        return done

    def _ready(self, d: _Dir, ctype: int) -> bool:
        """Whether ``d``'s next record can be handled now, or must wait for the peer."""
        if d.client:
            if d.stage == "hello":
                return True
            if not self._server_hello:
                if self.s.halted is not None:
                    self._halt(d, self.s.halted)
                return False
            if self._version_code == 0x0304 and ctype == _CT_APPDATA and d.stage == "early?":
                # whether 0-RTT was accepted is in the server's EncryptedExtensions
                return self._ee_seen or self.s.halted is not None
            return True
        if self.c.stage == "hello":  # the server's keys depend on the client random
            if self.c.halted is not None:
                self._halt(d, self.c.halted)
            return False
        return True

    # ------------------------------------------------------------------ records

    def _record(self, d: _Dir, ctype: int, header: bytes, payload: bytes, offset: int, index: int) -> None:
        if self._version_code == 0x0304:
            self._record13(d, ctype, header, payload, offset, index)
            return
        if ctype == _CT_CCS and d.stage == "hello" and self._hrr:
            if payload != b"\x01":  # TLS 1.3 middlebox CCS right after a HelloRetryRequest
                raise _Fail("bad-record")
            return
        if ctype == _CT_CCS and d.stage != "hello":
            if d is self.c and self._pending_12 is None:
                raise _Fail("bad-record")
            self._activate12(d)
            return
        if d.keys is not None:
            assert isinstance(d.keys, _Tls12Keys)
            plain = d.keys.decrypt(ctype, header[1:3], payload)
            if len(plain) > 2**14 + 1024:  # RFC 5246 6.2.2 bound on the compressed/plain fragment
                raise _Fail("bad-record")
            self._content(d, ctype, plain, offset, index, early=False)
            return
        if ctype == _CT_APPDATA:
            raise _Fail("bad-record")  # application data before ChangeCipherSpec
        self._content(d, ctype, payload, offset, index, early=False)

    def _record13(self, d: _Dir, ctype: int, header: bytes, payload: bytes, offset: int, index: int) -> None:
        if ctype == _CT_CCS:  # middlebox compatibility (RFC 8446 D.4): one byte, never protected
            if payload != b"\x01":
                raise _Fail("bad-record")
            return
        if ctype != _CT_APPDATA:
            if d.keys is not None and not (d.client and d.stage in ("early?", "hrr")) and ctype != _CT_ALERT:
                raise _Fail("bad-record")  # plaintext handshake after keys are in use
            self._content(d, ctype, payload, offset, index, early=False)
            return
        if d.client and d.stage in ("early?", "hrr"):
            self._early_record(d, header, payload, offset, index)
            return
        if d.keys is None:
            raise _Fail("bad-record")
        assert isinstance(d.keys, _Tls13Keys)
        inner, content = d.keys.decrypt(header, payload)
        self._content(d, inner, content, offset, index, early=False)

    def _early_record(self, d: _Dir, header: bytes, payload: bytes, offset: int, index: int) -> None:
        """A protected client record before its Finished-stage key is known to apply: 0-RTT data
        (when the server's EncryptedExtensions accepted it), or else the first handshake
        record. Rejected 0-RTT data is skipped, as the server does (RFC 8446 4.2.10): the
        server never acted on it, and clients send the request again after the handshake."""
        if d.stage == "early?" and self._early_accepted:
            if isinstance(d.keys, _Tls13Keys):
                inner, content = d.keys.decrypt(header, payload)  # accepted 0-RTT must decrypt
                self._content(d, inner, content, offset, index, early=True)
                return
            self._set_reason("no-key")  # accepted 0-RTT but no CLIENT_EARLY_TRAFFIC_SECRET: skip it
        if d.stage == "early?":
            hs = self._client_handshake_keys()
            try:
                inner, content = hs.decrypt(header, payload)
            except InvalidTag:
                pass
            else:
                d.keys, d.stage = hs, "handshake"
                self._content(d, inner, content, offset, index, early=False)
                return
        if not (self._early_offered or d.stage == "hrr"):
            raise _Fail("bad-record")  # without 0-RTT nothing may be skipped
        d.skipped += len(payload)
        self.early_skipped += len(payload)
        if d.skipped > MAX_EARLY_SKIP:
            raise _Fail("bad-record")

    def _content(self, d: _Dir, ctype: int, data: bytes, offset: int, index: int, early: bool) -> None:
        if ctype == _CT_APPDATA:
            if d.keys is None or d.stage not in ("app", "early?") or (d.stage == "early?" and not early):
                raise _Fail("bad-record")
            if data:
                d.out.append(PlainChunk(d.client, offset, index, data, early))
        elif ctype == _CT_HANDSHAKE:
            if len(d.hs) + len(data) > MAX_HANDSHAKE_MESSAGE + 4:
                raise _Fail("bad-record")
            if d.hs:  # a message began in an earlier record: gathered in place until whole
                d.hs += data
                if len(d.hs) < 4:
                    return
                n = int.from_bytes(d.hs[1:4], "big")
                if n > MAX_HANDSHAKE_MESSAGE:
                    raise _Fail("bad-record")
                if len(d.hs) < 4 + n:
                    return
                data, d.hs = bytes(d.hs), bytearray()
            pos, size = 0, len(data)
            while size - pos >= 4:
                n = data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]
                if n > MAX_HANDSHAKE_MESSAGE:
                    raise _Fail("bad-record")
                if size - pos < 4 + n:
                    break
                typ, body = data[pos], data[pos + 4 : pos + 4 + n]
                pos += 4 + n
                self._handshake(d, typ, body)
            if pos < size:
                d.hs = bytearray(data[pos:])
            if d.pending is not None:  # a key change takes effect at a record boundary (RFC 8446 5.1)
                if d.hs:
                    raise _Fail("bad-record")
                (d.keys, d.stage), d.pending = d.pending, None
        elif ctype == _CT_ALERT or ctype == 24:  # alerts and heartbeats carry nothing we report
            return
        else:
            raise _Fail("bad-record")

    # ------------------------------------------------------------------ handshake messages

    def _handshake(self, d: _Dir, typ: int, body: bytes) -> None:
        if d.client:
            if typ == _HS_CLIENT_HELLO and d.stage in ("hello", "hrr"):
                self._client_hello(d, body)
            elif typ == _HS_EOED and d.stage == "early?":
                d.pending = self._client_handshake_keys(), "handshake"
            elif typ == _HS_FINISHED and d.stage == "handshake" and self._version_code == 0x0304:
                self._pending_secret(d, "CLIENT_TRAFFIC_SECRET_0")
            elif typ == _HS_FINISHED and d.stage == "handshake":
                d.stage = "app"
            elif typ == _HS_KEY_UPDATE and d.stage == "app" and self._version_code == 0x0304:
                self._key_update(d)
            elif d.stage == "hello":
                raise _Fail("handshake-missing")
            return
        if typ == _HS_SERVER_HELLO and d.stage == "hello":
            self._server_hello_msg(d, body)
        elif typ == _HS_EE and d.stage == "handshake":
            ext = _extensions(body)
            if _EXT_ALPN in ext:
                names = _alpn_list(ext[_EXT_ALPN])
                self.alpn = names[0] if names else None
            self._early_accepted = _EXT_EARLY in ext
            self._ee_seen = True
        elif typ == _HS_FINISHED and d.stage == "handshake" and self._version_code == 0x0304:
            self._pending_secret(d, "SERVER_TRAFFIC_SECRET_0")
        elif typ == _HS_FINISHED and d.stage == "handshake":
            d.stage = "app"
        elif typ == _HS_KEY_UPDATE and d.stage == "app" and self._version_code == 0x0304:
            self._key_update(d)
        elif d.stage == "hello":
            raise _Fail("handshake-missing")

    def _client_hello(self, d: _Dir, body: bytes) -> None:
        # the one ClientHello parser (``_tls_hello``), given the message's type and length back
        msg = bytes((_HS_CLIENT_HELLO,)) + len(body).to_bytes(3, "big") + body
        known = self._hello_known
        hello = known[1] if known is not None and known[0] == msg else parse_client_hello(msg)
        if hello is None or not hello.complete:
            raise _Fail("bad-record")
        if d.stage == "hrr":  # ClientHello after HelloRetryRequest: same random, now the handshake key
            d.stage = "early?"
            return
        self.client_random = hello.random
        self._client_session_id = hello.session_id
        self.offered_suites = list(hello.suites)
        self._etm_offered = _EXT_ETM in hello.extensions
        self._early_offered = _EXT_EARLY in hello.extensions
        if hello.sni:
            self.sni = hello.sni
        if _EXT_ALPN in hello.extensions:
            self.alpn_offered = list(hello.alpn)
        d.stage = "sent-hello"

    def _server_hello_msg(self, d: _Dir, body: bytes) -> None:
        version, hello = _parse_server_hello(body)
        if hello.random == _HRR_RANDOM:  # HelloRetryRequest: another ClientHello/ServerHello follows
            self._hrr = True
            return
        self._server_hello = True
        self._version_code = version
        self.version = _VERSION_NAMES.get(version, f"0x{version:04x}")
        self.server_random = hello.random
        suite = SUITES.get(hello.suites[0])
        if suite is not None:
            self.suite = suite
        if _EXT_ALPN in hello.ext:
            names = _alpn_list(hello.ext[_EXT_ALPN])
            self.alpn = names[0] if names else None
        if version not in (0x0303, 0x0304) or suite is None or suite.tls13 != (version == 0x0304):
            self._halt(self.c, "unsupported-suite")
            raise _Fail("unsupported-suite")
        assert self.client_random is not None
        secrets = self.keylog.secrets(self.client_random)
        if version == 0x0304:
            secret = secrets.get("SERVER_HANDSHAKE_TRAFFIC_SECRET")
            if secret is None or len(secret) != digest_size(suite.prf):
                self._halt(self.c, "no-key")
                raise _Fail("no-key")
            d.keys, d.stage = _Tls13Keys(suite, secret), "handshake"
            c = self.c
            early = secrets.get("CLIENT_EARLY_TRAFFIC_SECRET")
            if self._hrr:
                c.stage = "hrr"  # 0-RTT is always rejected after HRR; CH2 comes next
            else:
                c.stage = "early?"
                if self._early_offered and early is not None and len(early) == len(secret):
                    c.keys = _Tls13Keys(suite, early)
            return
        master = secrets.get("CLIENT_RANDOM")
        if master is None:
            self._halt(self.c, "no-key")
            raise _Fail("no-key")
        self.resumed_session = bool(hello.session_id) and hello.session_id == self._client_session_id
        etm = self.encrypt_then_mac = self._etm_offered and _EXT_ETM in hello.ext and suite.kind == "cbc"
        self._pending_12 = tls12_keys(suite, master, self.client_random, hello.random, etm)
        d.stage = "handshake-plain"
        self.c.stage = "handshake-plain"

    def _activate12(self, d: _Dir) -> None:
        """ChangeCipherSpec: this direction's following records are protected (RFC 5246 7.1)."""
        if self._pending_12 is None:
            raise _Fail("bad-record")
        if d.keys is not None:
            raise _Fail("bad-record")  # renegotiation: not followed
        d.keys = self._pending_12[0 if d.client else 1]
        d.stage = "handshake"

    def _client_handshake_keys(self) -> _Tls13Keys:
        """A fresh copy (sequence 0) each time: trial decryptions must not advance it."""
        assert self.client_random is not None and self.suite is not None
        secret = self.keylog.get(self.client_random, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
        if secret is None:
            raise _Fail("no-key")
        return _Tls13Keys(self.suite, secret)

    def _pending_secret(self, d: _Dir, label: str) -> None:
        assert self.client_random is not None and self.suite is not None
        secret = self.keylog.get(self.client_random, label)
        if secret is None:
            raise _Fail("no-key")
        d.pending = _Tls13Keys(self.suite, secret), "app"

    def _key_update(self, d: _Dir) -> None:
        assert isinstance(d.keys, _Tls13Keys)
        nxt = _Tls13Keys(d.keys.suite, d.keys.secret)
        nxt.update()
        d.pending = nxt, "app"
        if d.client:
            self.client_key_updates += 1
        else:
            self.server_key_updates += 1

# ----------------------------------------------------------------------------- one-call API


@dataclass(frozen=True, slots=True)
class DecryptResult:
    """A whole connection's outcome. ``client_map``/``server_map``: (plaintext offset, stream
    offset of the record it came from) for each chunk, so times can be found per request."""

    sni: str | None
    alpn: str | None
    version: str | None
    suite: str | None
    decrypted: bool
    reason: str | None
    client_plain: bytes
    server_plain: bytes
    client_map: tuple[tuple[int, int], ...] = ()
    server_map: tuple[tuple[int, int], ...] = ()
    early_data: int = 0  # bytes of client plaintext that came as 0-RTT

    @property
    def is_h2(self) -> bool:
        return self.alpn == "h2" or self.client_plain.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

    def stream_offset(self, from_client: bool, plain_offset: int) -> int:
        """Stream byte offset of the record holding plaintext byte ``plain_offset``."""
        mapping = self.client_map if from_client else self.server_map
        i = bisect.bisect_right(mapping, (plain_offset, float("inf")))
        return mapping[i - 1][1] if i else 0


def _join(chunks: list[PlainChunk], limit: int) -> tuple[bytes, tuple[tuple[int, int], ...], int]:
    out = bytearray()
    mapping = []
    early = 0
    for ch in chunks:
        if len(out) >= limit:
            break
        mapping.append((len(out), ch.offset))
        out += ch.data[: limit - len(out)]
        if ch.early:
            early += len(ch.data)
    return bytes(out), tuple(mapping), early


def decrypt_connection(client_bytes: bytes, server_bytes: bytes, keylog: KeyLog, *,
                       client_gap: bool = False, server_gap: bool = False,
                       max_plain: int = MAX_BUFFERED,
                       client_hello: tuple[bytes, ClientHello] | None = None) -> DecryptResult:
    """Decrypt one whole connection; never raises on any input. ``client_hello``: the
    ClientHello message the caller already parsed, with its parse (``TlsConnection``)."""
    conn = TlsConnection(keylog, client_hello=client_hello)
    chunks: list[PlainChunk] = []
    # Both directions in alternating slices, as they were on the wire: a direction waiting for
    # the other's hello then holds one slice, not its whole stream.
    step = 64 * 1024
    for i in range(0, max(len(client_bytes), len(server_bytes)), step):
        if i < len(client_bytes):
            chunks += conn.feed(True, client_bytes[i : i + step])
        if i < len(server_bytes):
            chunks += conn.feed(False, server_bytes[i : i + step])
    if client_gap:
        conn.gap(True)
    if server_gap:
        conn.gap(False)
    chunks += conn.feed(True, b"")
    decrypted, reason = conn.finish()
    by: dict[bool, list[PlainChunk]] = {True: [], False: []}
    for ch in chunks:
        by[ch.from_client].append(ch)
    for lst in by.values():
        lst.sort(key=lambda ch: ch.record)
    cplain, cmap, early = _join(by[True], max_plain)
    splain, smap, _ = _join(by[False], max_plain)
    return DecryptResult(
        sni=conn.sni, alpn=conn.alpn, version=conn.version, suite=conn.suite.name if conn.suite else None,
        decrypted=decrypted, reason=reason, client_plain=cplain, server_plain=splain,
        client_map=cmap, server_map=smap, early_data=early,
    )

