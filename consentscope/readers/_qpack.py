"""QPACK header blocks of decrypted HTTP/3 requests (RFC 9204), sans-IO and bounded.

The client's encoder stream (unidirectional stream type 0x02) may insert entries into a
dynamic table that header blocks then reference. A reader of a capture sees the whole
connection at once, so ``EncoderStream`` keeps every inserted entry by its absolute index
(up to ``Limits.max_qpack_entries`` / ``max_qpack_table_bytes``) instead of simulating evictions: a reference to an
entry the encoder inserted is resolved whatever happened to the table since. What cannot
be resolved (an entry never seen, past a bound, or a malformed instruction) makes the
header list *incomplete*: the block still yields every field it could read.

The Required Insert Count of a block is encoded modulo twice the table's maximum entry
count (§4.5.1.1), which the server announces in its encrypted SETTINGS; the largest
capacity the client's encoder set is used instead (encoders set the maximum they were
allowed, ls-qpack and aioquic included).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman

from consentscope.detectors import DEFAULT_LIMITS

#: RFC 9204 Appendix A.
STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":path", "/"), ("age", "0"), ("content-disposition", ""), ("content-length", "0"),
    ("cookie", ""), ("date", ""), ("etag", ""), ("if-modified-since", ""), ("if-none-match", ""),
    ("last-modified", ""), ("link", ""), ("location", ""), ("referer", ""), ("set-cookie", ""),
    (":method", "CONNECT"), (":method", "DELETE"), (":method", "GET"), (":method", "HEAD"),
    (":method", "OPTIONS"), (":method", "POST"), (":method", "PUT"), (":scheme", "http"), (":scheme", "https"),
    (":status", "103"), (":status", "200"), (":status", "304"), (":status", "404"), (":status", "503"),
    ("accept", "*/*"), ("accept", "application/dns-message"), ("accept-encoding", "gzip, deflate, br"),
    ("accept-ranges", "bytes"), ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"), ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"), ("cache-control", "max-age=2592000"), ("cache-control", "max-age=604800"),
    ("cache-control", "no-cache"), ("cache-control", "no-store"), ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"), ("content-encoding", "gzip"), ("content-type", "application/dns-message"),
    ("content-type", "application/javascript"), ("content-type", "application/json"),
    ("content-type", "application/x-www-form-urlencoded"), ("content-type", "image/gif"),
    ("content-type", "image/jpeg"), ("content-type", "image/png"), ("content-type", "text/css"),
    ("content-type", "text/html; charset=utf-8"), ("content-type", "text/plain"),
    ("content-type", "text/plain;charset=utf-8"), ("range", "bytes=0-"),
    ("strict-transport-security", "max-age=31536000"),
    ("strict-transport-security", "max-age=31536000; includesubdomains"),
    ("strict-transport-security", "max-age=31536000; includesubdomains; preload"), ("vary", "accept-encoding"),
    ("vary", "origin"), ("x-content-type-options", "nosniff"), ("x-xss-protection", "1; mode=block"),
    (":status", "100"), (":status", "204"), (":status", "206"), (":status", "302"), (":status", "400"),
    (":status", "403"), (":status", "421"), (":status", "425"), (":status", "500"), ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"), ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"), ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"), ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"), ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"), ("access-control-request-method", "post"), ("alt-svc", "clear"),
    ("authorization", ""), ("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"),
    ("early-data", "1"), ("expect-ct", ""), ("forwarded", ""), ("if-range", ""), ("origin", ""),
    ("purpose", "prefetch"), ("server", ""), ("timing-allow-origin", "*"), ("upgrade-insecure-requests", "1"),
    ("user-agent", ""), ("x-forwarded-for", ""), ("x-frame-options", "deny"), ("x-frame-options", "sameorigin"),
)

#: Fields decoded from one header block; the rest is dropped and the list is incomplete.
MAX_FIELDS = 1_000
#: Largest dynamic table capacity believed (bytes); beyond it the instruction is damage.
MAX_CAPACITY = 1 << 30


class QpackError(ValueError):
    """Damage that ends the current instruction stream or header block."""


def _int(data: bytes, i: int, prefix: int) -> tuple[int, int]:
    """RFC 7541 §5.1 prefix integer at ``data[i]`` (its low ``prefix`` bits), bounded to 62 bits."""
    if i >= len(data):
        raise QpackError("truncated integer")
    mask = (1 << prefix) - 1
    value = data[i] & mask
    i += 1
    if value < mask:
        return value, i
    shift = 0
    while True:
        if i >= len(data):
            raise QpackError("truncated integer")
        b = data[i]
        i += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i
        if shift > 62:
            raise QpackError("integer too long")


def _str(data: bytes, i: int, prefix: int) -> tuple[str, int]:
    """A string literal whose H bit sits just above a ``prefix``-bit length."""
    if i >= len(data):
        raise QpackError("truncated string")
    huffman = bool(data[i] & (1 << prefix))
    length, i = _int(data, i, prefix)
    if i + length > len(data):
        raise QpackError("truncated string")
    raw = data[i : i + length]
    if huffman:
        try:
            raw = decode_huffman(raw)
        except HPACKDecodingError as e:
            raise QpackError("bad huffman") from e
    return raw.decode("utf-8", "replace"), i + length


@dataclass
class EncoderStream:
    """Entries the encoder inserted, by absolute index; the stream is read as it arrives."""

    max_entries: int = DEFAULT_LIMITS.max_qpack_entries
    max_bytes: int = DEFAULT_LIMITS.max_qpack_table_bytes
    entries: list[tuple[str, str]] = field(default_factory=list)
    #: how many entries were inserted (also those not kept past a bound)
    inserted: int = 0
    #: stream offset (after the type) where each kept insert ended, for ``inserts_by``
    insert_ends: list[int] = field(default_factory=list)
    capacity: int = 0
    size: int = 0
    broken: bool = False
    _buf: bytes = b""
    _consumed: int = 0

    def feed(self, data: bytes) -> None:
        """More contiguous bytes of the encoder stream (after its stream type)."""
        if self.broken:
            return
        buf = self._buf + data
        i = 0
        try:
            while i < len(buf):
                inserted = self.inserted
                end = self._instruction(buf, i)
                if end is None:
                    break
                i = end
                if self.inserted != inserted and len(self.insert_ends) < self.max_entries:
                    self.insert_ends.append(self._consumed + i)
        except QpackError:
            self.broken = True
        self._consumed += i
        self._buf = buf[i:]

    def inserts_by(self, offset: int) -> int:
        """Inserts complete within the first ``offset`` bytes of the stream (after its type)."""
        return bisect.bisect_right(self.insert_ends, offset)

    def _instruction(self, buf: bytes, i: int) -> int | None:
        """End of one instruction at ``i``, or None if it is not all there yet."""
        try:
            b = buf[i]
            if b & 0x80:  # Insert with Name Reference
                index, j = _int(buf, i, 6)
                if b & 0x40:
                    if index >= len(STATIC_TABLE):
                        raise QpackError("bad static index")
                    name: str | None = STATIC_TABLE[index][0]
                else:
                    entry = self.entry(self.inserted - 1 - index)
                    name = entry[0] if entry else None
                value, j = _str(buf, j, 7)
                self._insert(name, value)
            elif b & 0x40:  # Insert with Literal Name
                lname, j = _str(buf, i, 5)
                value, j = _str(buf, j, 7)
                self._insert(lname, value)
            elif b & 0x20:  # Set Dynamic Table Capacity
                cap, j = _int(buf, i, 5)
                if cap > MAX_CAPACITY:
                    raise QpackError("capacity too large")
                self.capacity = max(self.capacity, cap)
            else:  # Duplicate
                index, j = _int(buf, i, 5)
                entry = self.entry(self.inserted - 1 - index)
                self._insert(entry[0] if entry else None, entry[1] if entry else None)
        except QpackError as e:
            if "truncated" in str(e):
                if len(buf) - i > self.max_bytes:
                    raise QpackError("instruction too long") from e
                return None
            raise
        return j

    def _insert(self, name: str | None, value: str | None) -> None:
        index = self.inserted
        self.inserted += 1
        if name is None or value is None:
            return  # an unknown entry: a later reference to it is incomplete
        if len(self.entries) >= self.max_entries or self.size + len(name) + len(value) > self.max_bytes:
            return
        while len(self.entries) < index:
            self.entries.append(("", ""))  # placeholders stay unresolvable through _known
        self.entries.append((name, value))
        self.size += len(name) + len(value) + 32

    def entry(self, absolute: int) -> tuple[str, str] | None:
        if 0 <= absolute < len(self.entries):
            e = self.entries[absolute]
            return e if e[0] else None
        return None


def _base(enc_ric: int, sign: int, delta: int, table: EncoderStream | None, inserts_known: int) -> int | None:
    """The Base of a field section (§4.5.1), or None if its Required Insert Count cannot be
    decoded with what is known of the table."""
    if not enc_ric:
        return 0 if not sign else None
    max_entries = (table.capacity // 32) if table is not None else 0
    if max_entries == 0:
        return None
    full = 2 * max_entries
    if enc_ric > full:
        return None
    max_value = max(inserts_known, 0) + max_entries
    ric = (max_value // full) * full + enc_ric - 1
    if ric > max_value:
        if ric <= full:
            return None
        ric -= full
    if ric == 0:
        return None
    return ric - delta - 1 if sign else ric + delta


@dataclass
class HeaderBlock:
    fields: list[tuple[str, str]]
    complete: bool


def decode_block(block: bytes, table: EncoderStream | None, inserts_known: int) -> HeaderBlock:
    """Fields of one encoded field section (§4.5); ``inserts_known``: inserts the encoder
    had made when the request was sent, for the Required Insert Count (§4.5.1.1)."""
    out: list[tuple[str, str]] = []
    complete = True
    try:
        enc_ric, i = _int(block, 0, 8)
        if i >= len(block):
            raise QpackError("truncated prefix")
        sign = block[i] & 0x80
        delta, i = _int(block, i, 7)
        known_base = _base(enc_ric, sign, delta, table, inserts_known)
        if known_base is None:  # no table to resolve dynamic references: literals are still read
            complete = False
            table = None
        base = known_base or 0
        while i < len(block):
            if len(out) >= MAX_FIELDS:
                return HeaderBlock(out, False)
            b = block[i]
            name: str | None
            value: str | None
            if b & 0x80:  # Indexed Field Line
                index, i = _int(block, i, 6)
                if b & 0x40:
                    entry = STATIC_TABLE[index] if index < len(STATIC_TABLE) else None
                else:
                    entry = table.entry(base - 1 - index) if table is not None else None
                name, value = entry if entry else (None, None)
            elif b & 0x40:  # Literal Field Line with Name Reference
                index, i = _int(block, i, 4)
                if b & 0x10:
                    name = STATIC_TABLE[index][0] if index < len(STATIC_TABLE) else None
                else:
                    entry = table.entry(base - 1 - index) if table is not None else None
                    name = entry[0] if entry else None
                value, i = _str(block, i, 7)
            elif b & 0x20:  # Literal Field Line with Literal Name
                name, i = _str(block, i, 3)
                value, i = _str(block, i, 7)
            elif b & 0x10:  # Indexed Field Line with Post-Base Index
                index, i = _int(block, i, 4)
                entry = table.entry(base + index) if table is not None else None
                name, value = entry if entry else (None, None)
            else:  # Literal Field Line with Post-Base Name Reference
                index, i = _int(block, i, 3)
                entry = table.entry(base + index) if table is not None else None
                name = entry[0] if entry else None
                value, i = _str(block, i, 7)
            if name is None or value is None:
                complete = False
                continue
            out.append((name, value))
    except (QpackError, IndexError):
        complete = False
    return HeaderBlock(out, complete)
