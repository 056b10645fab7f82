"""The one TLS ClientHello parser, for TLS over TCP and for QUIC's CRYPTO stream.

What an encrypted connection still tells: the server name (SNI), the offered application
protocols (ALPN), the offered versions, and the client random, which is the key of an NSS
key log line (``CLIENT_RANDOM <random> <secret>``) when a capture carries its secrets.
Written from RFC 8446 §4.1.2 and RFC 6066 §3; bounds are checked on every field, so a
hostile hello is "no hello", never an exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43
HANDSHAKE_CLIENT_HELLO = 0x01
CONTENT_HANDSHAKE = 0x16

_LEGACY_VERSIONS = {0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1"}


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    random: bytes  # 32 bytes
    sni: str | None
    alpn: tuple[str, ...]
    versions: tuple[int, ...]  # supported_versions, as offered
    complete: bool  # every field and extension lay within the bytes given
    session_id: bytes = b""  # legacy_session_id (TLS 1.2 resumption by id)
    suites: tuple[int, ...] = ()  # cipher suites offered, in order
    extensions: frozenset[int] = frozenset()  # the extension types offered

    @property
    def tls_version(self) -> str | None:
        """"TLSv1.3" if offered, else the legacy version's name."""
        if 0x0304 in self.versions:
            return "TLSv1.3"
        return _LEGACY_VERSIONS.get(self.legacy_version)


def parse_client_hello(msg: bytes) -> ClientHello | None:
    """A ClientHello handshake message (type, 3-byte length, body), possibly cut short as
    QUIC delivers it in pieces: what lies within ``msg`` is read, the rest is missing."""
    try:
        if msg[0] != HANDSHAKE_CLIENT_HELLO:
            return None
        legacy_version = struct.unpack(">H", msg[4:6])[0]
        random = msg[6:38]
        if len(random) < 32:
            return None
        i = 38
        session_id = msg[i + 1 : i + 1 + msg[i]]
        i += 1 + msg[i]
        n_suites = struct.unpack(">H", msg[i : i + 2])[0]
        raw = msg[i + 2 : i + 2 + n_suites]
        suites = struct.unpack(f">{len(raw) // 2}H", raw[: len(raw) // 2 * 2])
        i += 2 + n_suites
        i += 1 + msg[i]  # compression methods
    except (IndexError, struct.error):
        return None
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    types: set[int] = set()
    complete = i <= len(msg)
    if i + 2 <= len(msg):
        end = min(len(msg), i + 2 + struct.unpack(">H", msg[i : i + 2])[0])
        i += 2
        while i + 4 <= end:
            etype, elen = struct.unpack(">HH", msg[i : i + 4])
            data = msg[i + 4 : i + 4 + elen]
            if len(data) < elen:
                complete = False
            types.add(etype)
            if etype == EXT_SERVER_NAME:
                sni = _server_name(data) or sni
            elif etype == EXT_ALPN:
                alpn = _alpn(data)
            elif etype == EXT_SUPPORTED_VERSIONS and data:
                listed = data[1 : 1 + data[0]]
                versions = tuple(struct.unpack(f">{len(listed) // 2}H", listed[: len(listed) // 2 * 2]))
            i += 4 + elen
    return ClientHello(legacy_version, random, sni, alpn, versions, complete, session_id, suites, frozenset(types))


def _server_name(data: bytes) -> str | None:
    """The host_name of a server_name extension whose name lies whole within ``data``."""
    if len(data) < 5:
        return None
    n = struct.unpack(">H", data[3:5])[0]
    name = data[5 : 5 + n]
    if not name or len(name) < n:
        return None
    return name.decode("ascii", "replace").lower()


def _alpn(data: bytes) -> tuple[str, ...]:
    out = []
    i = 2
    while i < len(data):
        n = data[i]
        proto = data[i + 1 : i + 1 + n]
        if len(proto) < n:
            break
        out.append(proto.decode("ascii", "replace"))
        i += 1 + n
    return tuple(out)


def tls_client_hello(stream: bytes) -> ClientHello | None:
    """The ClientHello at the start of a client-to-server TLS stream, if it lies whole in
    its first record (as every client sends it; a hello split over records is rare)."""
    if len(stream) < 44 or stream[0] != CONTENT_HANDSHAKE or stream[5] != HANDSHAKE_CLIENT_HELLO:
        return None
    record_len = struct.unpack(">H", stream[3:5])[0]
    record = stream[5 : 5 + record_len]
    if len(record) < record_len or len(record) < 4:
        return None
    msg_len = int.from_bytes(record[1:4], "big")
    if msg_len > len(record) - 4:
        return None
    hello = parse_client_hello(record[: 4 + msg_len])
    return hello if hello is not None and hello.complete else None
