"""HTTP/3 requests of QUIC connections whose TLS secrets are in a key log (RFC 9000, 9001,
9114, 9204), sans-IO and bounded.

A QUIC connection is found by its client Initial (``_quic`` reads the ClientHello from it):
the ClientHello's random names the secrets in the key log. The client's 1-RTT packets are
protected with keys from ``CLIENT_TRAFFIC_SECRET_0`` (RFC 9001 §5.1: HKDF-Expand-Label
"quic key", "quic iv", "quic hp"); the cipher suite is not in the ClientHello, so the
candidates the secret's length allows are tried on the first packet and the one that
authenticates is kept. Key updates (§6) are followed with "quic ku".

Packets are matched to their connection by connection ID, as QUIC itself does: the client's
short-header packets carry the ID the server chose, which the server's long-header packets
show as their Source Connection ID (and the client's Handshake packets as their
Destination); a connection whose server chose an empty ID is matched by its UDP addresses.

Only client-to-server data is read: STREAM frames of client-initiated bidirectional streams
(requests) and of the client's QPACK encoder stream. Every stream and connection is bounded
by ``Limits``; damage costs only its packet, stream or connection and is counted as an
anomaly (``quic-undecryptable``, ``quic-bad-frame``, ``quic-stream-limit``, ...).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator

from cryptography.exceptions import InvalidTag

from consentscope.detectors import DEFAULT_LIMITS, Limits, RequestRecord

from ._h3 import request_frames
from ._keylog import KeyLog
from ._qpack import EncoderStream, decode_block
from ._quic import (
    SUITES_BY_SECRET_LEN,
    PacketKeys,
    unprotect,
    varint,
)

QUIC_V1 = 0x00000001
_ENCODER_STREAM = 0x02
#: Pieces of one stream held out of order; beyond this the stream has a gap (a real sender
#: retransmits a handful; each piece costs a dict entry, however small).
MAX_PENDING = 4096
#: Connection IDs remembered per connection (client's, original, server's): a handshake
#: shows three or four; more is a peer (or damage) inventing them.
MAX_CIDS = 16


class _Stream:
    """One stream's bytes: the in-order prefix grows in place, later pieces wait (at most
    ``MAX_PENDING`` of them; beyond, the stream has a gap from there)."""

    __slots__ = ("data", "encoder_mark", "first_time", "pending", "size", "truncated")

    def __init__(self, first_time: float, encoder_mark: int = 0) -> None:
        self.first_time = first_time
        self.data = bytearray()
        self.pending: dict[int, bytes] = {}
        self.size = 0  # bytes held, for the connection's bound
        self.truncated = False
        self.encoder_mark = encoder_mark  # QPACK encoder stream bytes received when this stream began

    def add(self, offset: int, data: bytes) -> None:
        if not data:
            return
        end = len(self.data)
        if offset > end:
            old = self.pending.get(offset)
            if old is not None and len(old) >= len(data):
                return
            if old is None and len(self.pending) >= MAX_PENDING:
                self.truncated = True
                return
            self.pending[offset] = data
            self.size += len(data) - (len(old) if old else 0)
            return
        if offset + len(data) > end:
            self.data += data[end - offset :]
            self.size += offset + len(data) - end
            while self.pending:
                off = min(self.pending)
                if off > len(self.data):
                    break
                chunk = self.pending.pop(off)
                self.size -= len(chunk)
                if off + len(chunk) > len(self.data):
                    self.size += off + len(chunk) - len(self.data)
                    self.data += chunk[len(self.data) - off :]

    def assemble(self) -> tuple[bytes, bool]:
        """(bytes from offset 0 up to the first gap, whether a gap cut them)."""
        return bytes(self.data), bool(self.pending)


class _Direction:
    """The 1-RTT keys of one direction: the suite found by trial, key updates followed."""

    def __init__(self, secret: bytes) -> None:
        self.candidates = [PacketKeys(s, secret) for s in SUITES_BY_SECRET_LEN.get(len(secret), ())]
        self.keys: PacketKeys | None = None  # once a packet authenticated
        self.next_keys: PacketKeys | None = None
        self.prev_keys: PacketKeys | None = None
        self.phase = 0
        self.largest = -1

    def open(self, packet: bytes, pn_offset: int) -> tuple[int, bytes] | None:
        """(packet number, plaintext) of a short-header packet, or None."""
        if self.keys is None:
            for keys in self.candidates:
                try:
                    got = unprotect(keys, packet, pn_offset, self.largest, False)
                except (InvalidTag, ValueError):
                    continue
                self.keys = keys
                self.candidates = []
                return self._seen(got)
            return None
        for keys in self._keys_to_try(packet, pn_offset):
            try:
                got = unprotect(keys, packet, pn_offset, self.largest, False)
            except (InvalidTag, ValueError):
                continue
            if keys is self.next_keys:  # the peer updated its keys (§6.2)
                self.prev_keys, self.keys, self.next_keys = self.keys, self.next_keys, None
                self.phase ^= 1
            return self._seen(got)
        return None

    def _seen(self, got: tuple[int, bytes]) -> tuple[int, bytes]:
        self.largest = max(self.largest, got[0])
        return got

    def _keys_to_try(self, packet: bytes, pn_offset: int) -> list[PacketKeys]:
        assert self.keys is not None
        # the key phase bit is under header protection: find it with the (shared) hp key
        sample = packet[pn_offset + 4 : pn_offset + 20]
        if len(sample) < 16:
            return []
        phase = ((packet[0] ^ self.keys.mask(sample)[0]) >> 2) & 1
        if phase == self.phase:
            return [self.keys]
        if self.next_keys is None:
            self.next_keys = self.keys.next()
        return [k for k in (self.next_keys, self.prev_keys) if k is not None]


class QuicConnection:
    """One client's QUIC connection being decrypted: the client's packets for its requests,
    the server's (when its secret is logged too) only for the connection IDs it issues."""

    def __init__(self, hello_random: bytes, secret: bytes, t: float, sni: str, client: tuple[str, int],
                 server: tuple[str, int], limits: Limits, early_secret: bytes | None = None,
                 server_secret: bytes | None = None) -> None:
        self.sni = sni
        self.client = client
        self.server = server
        self.first_time = t
        self.last_time = t
        self.limits = limits
        self.random = hello_random
        self.up = _Direction(secret)
        self.down = _Direction(server_secret) if server_secret else None
        #: 0-RTT keys (RFC 9001 §5.6), from the resumed session's suite: tried like the 1-RTT ones
        self.early = [PacketKeys(s, early_secret) for s in SUITES_BY_SECRET_LEN.get(len(early_secret), ())
                      ] if early_secret else []
        self.decrypted = 0
        self.failed = 0
        self.closed = False
        self.streams: dict[int, _Stream] = {}
        self.uni: dict[int, _Stream] = {}
        self.bytes = 0
        self.cids: set[bytes] = set()  # IDs registered for this connection, both sides'
        self.server_cid_len: int | None = None
        #: IDs the peers issued in NEW_CONNECTION_ID frames, (from the server, ID), for the decryptor to route
        self.issued: list[tuple[bool, bytes]] = []
        self.encoder = EncoderStream(max_entries=limits.max_qpack_entries, max_bytes=limits.max_qpack_table_bytes)
        self.encoder_id: int | None = None

    # ------------------------------------------------------------------ packets

    def short_packet(self, t: float, packet: bytes, cid_len: int, anomaly: Callable[[str], None]) -> None:
        """A short-header packet of the client, to a connection ID of ``cid_len`` bytes."""
        got = self.up.open(packet, 1 + cid_len)
        self._opened(t, got, anomaly, False)

    def server_packet(self, t: float, packet: bytes, cid_len: int, anomaly: Callable[[str], None]) -> None:
        """A short-header packet of the server: read for its NEW_CONNECTION_ID frames only."""
        if self.down is None:
            return
        got = self.down.open(packet, 1 + cid_len)
        if got is None:
            anomaly("quic-server-undecryptable")
            return
        try:
            self._frames(t, got[1], anomaly, True)
        except (ValueError, IndexError):
            anomaly("quic-server-bad-frame")

    def early_packet(self, t: float, packet: bytes, pn_offset: int, anomaly: Callable[[str], None]) -> None:
        """A 0-RTT packet of this client (``packet`` ends where the packet ends)."""
        got = None
        for keys in self.early:
            try:
                got = unprotect(keys, packet, pn_offset, self.up.largest, True)
            except (InvalidTag, ValueError):
                continue
            self.early = [keys]
            self.up._seen(got)  # 0-RTT and 1-RTT share one packet number space
            break
        self._opened(t, got, anomaly, False)

    def _opened(self, t: float, got: tuple[int, bytes] | None, anomaly: Callable[[str], None],
                from_server: bool) -> None:
        if got is None:
            self.failed += 1
            anomaly("quic-undecryptable")
            return
        self.decrypted += 1
        self.last_time = t
        try:
            self._frames(t, got[1], anomaly, from_server)
        except (ValueError, IndexError):
            anomaly("quic-bad-frame")

    def _frames(self, t: float, p: bytes, anomaly: Callable[[str], None], from_server: bool) -> None:
        i = 0
        n = len(p)
        while i < n:
            if p[i] == 0x00:  # PADDING, usually a run of it to the end of the packet
                i = n - len(p[i:].lstrip(b"\x00"))
                continue
            ftype, i = varint(p, i)
            if ftype == 0x01 or ftype == 0x1E:  # PING, HANDSHAKE_DONE
                continue
            if 0x08 <= ftype <= 0x0F:  # STREAM
                sid, i = varint(p, i)
                off = 0
                if ftype & 0x04:
                    off, i = varint(p, i)
                if ftype & 0x02:
                    length, i = varint(p, i)
                else:
                    length = n - i
                if i + length > n:
                    raise ValueError("stream frame past packet")
                if not from_server:
                    self._stream(t, sid, off, p[i : i + length], anomaly)
                i += length
            elif ftype in (0x02, 0x03):  # ACK
                _, i = varint(p, i)
                _, i = varint(p, i)
                count, i = varint(p, i)
                _, i = varint(p, i)
                if count > n:
                    raise ValueError("ack ranges past packet")
                for _ in range(2 * count + (3 if ftype == 0x03 else 0)):
                    _, i = varint(p, i)
            elif ftype == 0x04:  # RESET_STREAM
                for _ in range(3):
                    _, i = varint(p, i)
            elif ftype == 0x05 or ftype == 0x11 or ftype == 0x15:  # STOP_SENDING, MAX/BLOCKED_STREAM_DATA
                for _ in range(2):
                    _, i = varint(p, i)
            elif ftype in (0x10, 0x12, 0x13, 0x14, 0x16, 0x17, 0x19):  # one integer each
                _, i = varint(p, i)
            elif ftype == 0x06 or ftype == 0x07:  # CRYPTO, NEW_TOKEN
                if ftype == 0x06:
                    _, i = varint(p, i)
                length, i = varint(p, i)
                i += length
            elif ftype == 0x18:  # NEW_CONNECTION_ID: the peer may send to it from now on
                _, i = varint(p, i)
                _, i = varint(p, i)
                cid = p[i + 1 : i + 1 + p[i]]
                i += 1 + p[i] + 16
                if i <= n and 0 < len(cid) <= 20 and len(self.issued) < MAX_CIDS:
                    self.issued.append((from_server, cid))
            elif ftype == 0x1A or ftype == 0x1B:  # PATH_CHALLENGE, PATH_RESPONSE
                i += 8
            elif ftype == 0x1C or ftype == 0x1D:  # CONNECTION_CLOSE
                self.closed = True
                return
            elif ftype == 0x30:  # DATAGRAM without length: the rest of the packet
                return
            elif ftype == 0x31:
                length, i = varint(p, i)
                i += length
            else:  # unknown: its length is unknown too, the rest of the packet is lost
                anomaly("quic-unknown-frame")
                return
        if i > n:
            raise ValueError("frame past packet")

    def _stream(self, t: float, sid: int, off: int, data: bytes, anomaly: Callable[[str], None]) -> None:
        kind = sid & 0x03
        if kind == 0:
            streams = self.streams
        elif kind == 2:
            streams = self.uni
        else:
            return  # server-initiated: not sent by the client
        s = streams.get(sid)
        if s is None:
            if len(self.streams) + len(self.uni) >= self.limits.max_quic_streams:
                anomaly("quic-stream-limit")
                return
            enc = self.uni.get(self.encoder_id) if self.encoder_id is not None else None
            s = streams[sid] = _Stream(t, len(enc.data) if enc is not None else 0)
        elif kind == 2 and s.truncated and sid != self.encoder_id:
            return
        room = self.limits.max_quic_stream_bytes - off
        conn_room = self.limits.max_quic_connection_bytes - self.bytes
        keep = min(len(data), room, conn_room)
        if keep < len(data):
            if not s.truncated:
                anomaly("quic-stream-limit")
            s.truncated = True
            if keep <= 0:
                return
            data = data[:keep]
        before = s.size
        s.add(off, data)
        self.bytes += s.size - before
        if kind == 2:
            self._uni(sid, s)

    def _uni(self, sid: int, s: _Stream) -> None:
        """Note which unidirectional stream is the QPACK encoder stream (its type, §4.2)."""
        if sid == self.encoder_id or not s.data:
            return
        try:
            stype = varint(bytes(s.data[:8]), 0)[0]
        except ValueError:
            return
        if stype == _ENCODER_STREAM and self.encoder_id is None:
            self.encoder_id = sid
        else:  # control, decoder and unknown streams: nothing of a request, not kept
            self.bytes -= s.size
            s.data.clear()
            s.pending.clear()
            s.size = 0
            s.truncated = True  # marks it ignored

    # ------------------------------------------------------------------ results

    def records(self, flow_prefix: str, max_body: int, anomaly: Callable[[str], None]) -> Iterator[RequestRecord]:
        """One record per request stream, in stream order."""
        enc = self.uni.get(self.encoder_id) if self.encoder_id is not None else None
        start = 0
        if enc is not None:  # read at the end: every insert the capture shows
            _, start = varint(bytes(enc.data[:8]), 0)
            self.encoder.feed(bytes(enc.data[start:]))
        n = 0
        for sid in sorted(self.streams):
            s = self.streams[sid]
            data, gap = s.assemble()
            req = request_frames(data, max_body)
            if req.header_block is None:
                anomaly("h3-no-headers")
                continue
            block = decode_block(req.header_block, self.encoder, self.encoder.inserts_by(s.encoder_mark - start))
            if not block.complete:
                anomaly("qpack-incomplete")
            pseudo = {k: v for k, v in block.fields if k.startswith(":")}
            headers = tuple((k, v) for k, v in block.fields if not k.startswith(":"))
            from ._httpparse import host_only

            host = host_only(pseudo.get(":authority", "")) or host_only(
                next((v for k, v in headers if k == "host"), "")) or self.sni or self.server[0]
            extra = () if block.complete else (("h3-headers", "incomplete"),)
            yield RequestRecord(
                flow_id=f"{flow_prefix}:{n}", time=s.first_time, method=pseudo.get(":method", ""),
                scheme=pseudo.get(":scheme", "https"), host=host, port=self.server[1],
                path=pseudo.get(":path", "/") or "/", headers=headers, body=req.body, sni=self.sni or None,
                server_ip=self.server[0], http_version="HTTP/3", extra=extra,
                body_truncated=req.truncated or gap or s.truncated,
            )
            n += 1


def long_header(packet: bytes) -> tuple[int, int, bytes, bytes, int, int] | None:
    """(version, packet type, DCID, SCID, packet number offset, end of this packet) of a
    long-header packet, or None; both are the datagram's end for Retry and unknown versions."""
    if len(packet) < 7 or not packet[0] & 0x80:
        return None
    version = struct.unpack(">I", packet[1:5])[0]
    i = 5
    dlen = packet[i]
    if dlen > 20 or i + 1 + dlen >= len(packet):
        return None
    dcid = packet[i + 1 : i + 1 + dlen]
    i += 1 + dlen
    slen = packet[i]
    if slen > 20 or i + 1 + slen > len(packet):
        return None
    scid = packet[i + 1 : i + 1 + slen]
    i += 1 + slen
    ptype = (packet[0] >> 4) & 0x03
    if version != QUIC_V1 or ptype == 3:
        return version, ptype, dcid, scid, len(packet), len(packet)
    try:
        if ptype == 0:
            token_len, i = varint(packet, i)
            i += token_len
        length, i = varint(packet, i)
    except ValueError:
        return None
    return version, ptype, dcid, scid, i, min(i + length, len(packet))


class _CidIndex:
    """Connections by the connection IDs one side sends to; a short header does not say how
    long its ID is, so each length in use is tried."""

    def __init__(self) -> None:
        self.by_cid: dict[bytes, QuicConnection] = {}
        self.lens: dict[int, int] = {}  # length -> IDs of that length

    def add(self, cid: bytes, conn: QuicConnection) -> None:
        if cid and cid not in self.by_cid:
            self.by_cid[cid] = conn
            self.lens[len(cid)] = self.lens.get(len(cid), 0) + 1

    def remove(self, cid: bytes, conn: QuicConnection) -> None:
        if self.by_cid.get(cid) is conn:
            del self.by_cid[cid]
            self.lens[len(cid)] -= 1
            if not self.lens[len(cid)]:
                del self.lens[len(cid)]

    def find(self, packet: bytes) -> tuple[QuicConnection, int] | None:
        for n in self.lens:
            conn = self.by_cid.get(packet[1 : 1 + n])
            if conn is not None:
                return conn, n
        return None


class QuicDecryptor:
    """Every QUIC connection of a capture that a key log can decrypt, at most
    ``Limits.max_quic_decrypting`` at once (the least recently active is finished early)."""

    def __init__(self, keylog: KeyLog, limits: Limits = DEFAULT_LIMITS,
                 anomaly: Callable[[str], None] | None = None) -> None:
        self.keylog = keylog
        self.limits = limits
        self.anomaly = anomaly or (lambda name: None)
        self.conns: OrderedDict[int, QuicConnection] = OrderedDict()
        self.to_server = _CidIndex()  # IDs the server chose: client packets carry them
        self.to_client = _CidIndex()  # IDs the client chose: server packets carry them
        self.by_addr: dict[tuple[str, int, str, int], QuicConnection] = {}

    def __len__(self) -> int:
        return len(self.conns)

    def start(self, t: float, random: bytes, sni: str, initial: bytes, src: str, sport: int, dst: str,
              dport: int) -> tuple[QuicConnection | None, list[QuicConnection]]:
        """(the connection decrypting, connections finished early to make room); the
        connection is None when the key log has no 1-RTT secret for this ClientHello."""
        secret = self.keylog.get(random, "CLIENT_TRAFFIC_SECRET_0")
        hdr = long_header(initial)
        if secret is None or hdr is None or len(secret) not in SUITES_BY_SECRET_LEN:
            return None, []
        _, _, dcid, scid, _, _ = hdr
        old = self.by_addr.get((src, sport, dst, dport))
        if old is not None and old.random == random:  # the Initial again after a Retry
            if len(old.cids) < MAX_CIDS:
                old.cids.add(dcid)
            return old, []
        finished = [old] if old is not None and self.forget(old) else []
        conn = QuicConnection(random, secret, t, sni, (src, sport), (dst, dport), self.limits,
                              self.keylog.get(random, "CLIENT_EARLY_TRAFFIC_SECRET"),
                              self.keylog.get(random, "SERVER_TRAFFIC_SECRET_0"))
        self.conns[id(conn)] = conn
        conn.cids.update((dcid, scid))
        self.to_client.add(scid, conn)
        self.by_addr[(src, sport, dst, dport)] = conn
        while len(self.conns) > self.limits.max_quic_decrypting:
            oldest = next(iter(self.conns.values()))
            self.forget(oldest)
            finished.append(oldest)
        return conn, finished

    def datagram(self, t: float, data: bytes, src: str, sport: int, dst: str, dport: int) -> list[QuicConnection]:
        """Read one UDP payload; returns connections this datagram closed."""
        pos = 0
        while pos < len(data):
            packet = data[pos:]
            if packet[0] & 0x80:
                hdr = long_header(packet)
                if hdr is None:
                    return []
                version, ptype, dcid, scid, pn_offset, end = hdr
                if version != QUIC_V1:
                    return []
                self._learn(dcid, scid, src, sport, dst, dport)
                if ptype == 1:  # 0-RTT: requests sent before the handshake completes
                    conn = self.by_addr.get((src, sport, dst, dport))
                    if conn is not None and dcid in conn.cids:
                        conn.early_packet(t, packet[:end], pn_offset, self.anomaly)
                        self._issued(conn)
                pos += end
                continue
            return self._short(t, packet, src, sport, dst, dport)
        return []

    def _short(self, t: float, packet: bytes, src: str, sport: int, dst: str, dport: int) -> list[QuicConnection]:
        found = self.to_server.find(packet)
        if found is None:
            conn = self.by_addr.get((src, sport, dst, dport))
            if conn is not None and conn.server_cid_len == 0:
                found = conn, 0
        if found is not None:
            conn, n = found
            self.conns.move_to_end(id(conn))
            conn.short_packet(t, packet, n, self.anomaly)
        else:
            back = self.to_client.find(packet)
            if back is None:
                return []
            conn, n = back
            conn.server_packet(t, packet, n, self.anomaly)
        self._issued(conn)
        if conn.closed:
            self.forget(conn)
            return [conn]
        return []

    def _issued(self, conn: QuicConnection) -> None:
        """Route the IDs the peers issued in NEW_CONNECTION_ID frames to this connection."""
        for from_server, cid in conn.issued:
            if len(conn.cids) >= MAX_CIDS:
                break
            conn.cids.add(cid)
            (self.to_server if from_server else self.to_client).add(cid, conn)
        conn.issued.clear()

    def _learn(self, dcid: bytes, scid: bytes, src: str, sport: int, dst: str, dport: int) -> None:
        """Server-chosen IDs from long headers: a server packet's SCID, a client packet's DCID."""
        conn = self.by_addr.get((dst, dport, src, sport))
        if conn is not None and dcid in conn.cids:  # from the server
            self._server_cid(conn, scid)
            return
        conn = self.by_addr.get((src, sport, dst, dport))
        if conn is not None and scid in conn.cids and dcid not in conn.cids:  # a client Handshake
            self._server_cid(conn, dcid)

    def _server_cid(self, conn: QuicConnection, cid: bytes) -> None:
        if cid in conn.cids or len(conn.cids) >= MAX_CIDS:
            return
        conn.server_cid_len = len(cid)
        conn.cids.add(cid)
        self.to_server.add(cid, conn)

    def idle(self, t: float) -> list[QuicConnection]:
        """Connections silent for ``Limits.idle_seconds``, finished."""
        done = [c for c in self.conns.values() if t - c.last_time > self.limits.idle_seconds]
        for c in done:
            self.forget(c)
        return done

    def all(self) -> list[QuicConnection]:
        done = list(self.conns.values())
        for c in done:
            self.forget(c)
        return done

    def forget(self, conn: QuicConnection) -> bool:
        if self.conns.pop(id(conn), None) is None:
            return False
        for cid in conn.cids:
            self.to_server.remove(cid, conn)
            self.to_client.remove(cid, conn)
        key = (*conn.client, *conn.server)
        if self.by_addr.get(key) is conn:
            del self.by_addr[key]
        return True
