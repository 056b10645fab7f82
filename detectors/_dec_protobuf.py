"""Protobuf walked without a schema: field numbers, wire types and values.

Apps send protobuf without naming it (``application/octet-stream``), so a binary body is
tried as protobuf; the walk must then be strict enough that random binary rarely passes:
only wire types 0, 1, 2 and 5 (groups are long deprecated), field numbers 1..2^29-1,
varints of at most 10 bytes, lengths inside the message, and the walk must end exactly
at the end of the data. A 100-byte random string survives with odds around 1e-9.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._dec_api import Budget
from ._sniff import B_PCT, ByteClass, all_in, all_printable
from ._view import View

if TYPE_CHECKING:
    from ._decode import _Walker

VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
I32: Final = 5

#: the largest field number the wire format allows (a format fact, not a bound)
LAST_FIELD_NUMBER: Final = (1 << 29) - 1

Field = tuple[int, int, "int | bytes"]

#: what ``all_printable`` accepts of ASCII: printable characters, tab and newlines
_ASCII_TEXT: Final = ByteClass(bytes(range(0x20, 0x7F)) + b"\t\n\r")
_new_view = tuple.__new__


def _varint(data: bytes, i: int, n: int) -> tuple[int, int]:
    """Value and next offset; offset -1 when the varint is cut or longer than 10 bytes."""
    result = shift = 0
    end = min(n, i + 10)
    while i < end:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
    return 0, -1


def walk(data: bytes, max_fields: int) -> list[Field] | None:
    """Fields of ``data`` as one message (numbers, wire type, value: int for varints,
    bytes for length-delimited; fixed-width values are skipped), or None when ``data``
    is not a clean message with at least one field or holds more than ``max_fields``
    (``Limits.max_protobuf_fields``; fixed-width fields count too)."""
    fields: list[Field] = []
    append = fields.append
    i, n = 0, len(data)
    steps = 0
    while i < n:
        steps += 1
        if steps > max_fields:
            return None
        b = data[i]
        if b < 0x80:  # one-byte tag: field numbers 1..15, the common case
            tag = b
            i += 1
        else:
            tag, i = _varint(data, i, n)
            if i < 0:
                return None
        number = tag >> 3
        wire = tag & 7
        if number == 0 or number > LAST_FIELD_NUMBER:
            return None
        if wire == VARINT:
            if i < n and data[i] < 0x80:  # one-byte values: flags, small counts
                value = data[i]
                i += 1
            else:
                value, i = _varint(data, i, n)
                if i < 0:
                    return None
            append((number, VARINT, value))
        elif wire == LEN:
            if i < n and data[i] < 0x80:  # lengths below 128: most strings and small messages
                length = data[i]
                i += 1
            else:
                length, i = _varint(data, i, n)
            if i < 0 or i + length > n:
                return None
            append((number, LEN, data[i : i + length]))
            i += length
        elif wire == I64:
            i += 8
        elif wire == I32:
            i += 4
        else:
            return None
    if i != n or not fields:
        return None
    return fields


def message(w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, level: int = 0) -> bool:
    """Emit the fields of ``data`` as one message: varints as their decimal text, printable
    strings as values (``leaf``), other bytes as a nested message, or else through the
    other decoders. ``protobuf`` joins the chain and the place once, at the outermost
    message (``body.protobuf:1.3``). Every walk, failed ones too, spends the request's
    ``Limits.max_protobuf_steps``."""
    if w.pb_steps <= 0:
        w.anomaly("protobuf-limit")
        return False
    max_fields = w.limits.max_protobuf_fields
    fields = walk(data, min(max_fields, w.pb_steps))
    w.pb_steps -= len(fields) if fields is not None else min(len(data) // 2 + 1, max_fields)
    if fields is None:
        return False
    if level:
        prefix = f"{loc}."
    else:
        prefix = w.join(loc, "protobuf", "")
        chain = (*chain, "protobuf")
    min_len = w.min_len
    views = w.views
    max_views = w.max_views
    for number, wire, value in fields:
        where = f"{prefix}{number}"
        if wire == VARINT:
            raw = b"%d" % value  # type: ignore[str-format]  # a varint field: its value is an int
        else:
            assert isinstance(value, bytes)
            if not value:
                continue
            # printable ASCII (most strings) by one C-level pass, else ``all_printable``
            if not (all_in(value, _ASCII_TEXT) or (not value.isascii() and all_printable(value))):
                if level >= w.limits.max_structure_depth:
                    w.anomaly("protobuf-depth-exceeded")
                elif message(w, value, where, chain, depth, level + 1):
                    continue
                w.content(value, where, chain, depth + 1, skip=SNIFFED)
                continue
            if len(value) >= min_len or B_PCT in value:
                w.leaf(value, where, chain, depth + 1)
                continue
            raw = value  # a short string: plain, as ``leaf`` would find (``shape``)
        # ``w.emit``, inline (a call per field was a tenth of a protobuf walk): raw is never empty
        if len(views) + w.extra_views >= max_views:
            w.anomaly("views-limit")
            raise Budget
        w.budget -= len(raw)
        if w.budget < 0:
            w.anomaly("decoded-bytes-limit")
            raise Budget
        views.append(_new_view(View, (raw, where, chain, None)))
    return True



class DeclaredProtobuf:
    """Protobuf by Content-Type (``application/x-protobuf``, gRPC's messages), tried
    before the text decoders."""

    name = "protobuf"
    binary = False
    declared = True
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return "protobuf" in ctype.lower()

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        return message(w, data, loc, chain, depth)


class SniffedProtobuf:
    """Protobuf sent without saying so (``application/octet-stream``): any binary that
    nothing before claimed. The walk is strict enough to be the sniff (see above)."""

    name = "protobuf"
    binary = True
    declared = False
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return w.binary(data)

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        return message(w, data, loc, chain, depth)


DECLARED: DeclaredProtobuf = DeclaredProtobuf()
SNIFFED: SniffedProtobuf = SniffedProtobuf()
