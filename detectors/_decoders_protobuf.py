"""Protobuf wire format walked without a schema: field numbers, wire types and values.

Apps send protobuf without naming it (``application/octet-stream``), so a binary body is
tried as protobuf; the walk must then be strict enough that random binary rarely passes:
only wire types 0, 1, 2 and 5 (groups are long deprecated), field numbers 1..2^29-1,
varints of at most 10 bytes, lengths inside the message, and the walk must end exactly
at the end of the data. A 100-byte random string survives with odds around 1e-9.
"""

from __future__ import annotations

from typing import Final

VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
I32: Final = 5

MAX_FIELD_NUMBER: Final = (1 << 29) - 1
#: Fields one message may hold before the walk gives up: the walk is a Python loop, and
#: a real message with more fields is a bulk upload (scanned as bytes instead). Fixed-width
#: fields count too, though they are not returned.
MAX_FIELDS = 10_000

Field = tuple[int, int, "int | bytes"]


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


def walk(data: bytes, max_fields: int = MAX_FIELDS) -> list[Field] | None:
    """Fields of ``data`` as one message (numbers, wire type, value: int for varints,
    bytes for length-delimited; fixed-width values are skipped), or None when ``data``
    is not a clean message with at least one field."""
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
        if number == 0 or number > MAX_FIELD_NUMBER:
            return None
        if wire == VARINT:
            value, i = _varint(data, i, n)
            if i < 0:
                return None
            append((number, VARINT, value))
        elif wire == LEN:
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
