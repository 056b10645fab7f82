"""Coordinates sent as protobuf doubles, for an adapter step (``protobuf-doubles``).

The schema-less protobuf walk (``_dec_protobuf``) skips fixed-width fields: without a
schema, eight bytes may be a double, a fixed64 id or a timestamp, and most are not text
worth scanning. Some SDKs' schemas say they are coordinates (GrowingIO's ``EventV3Dto``:
``double latitude = 44; double longitude = 45``), so an adapter for such an SDK asks for
every fixed64 field that reads as a double of a coordinate's size, at any depth, as its
decimal text at the field's place (``body.protobuf:1.44``, chain ``…, protobuf, double``);
the location matcher then reads them as it reads ``"lat": 39.9``.

The walk is the protobuf decoder's, as strict (a field that is text or no clean message
is not entered) and charged to the same budgets: ``Limits.max_protobuf_steps``,
``max_protobuf_fields`` per message and ``max_structure_depth``.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Final

from ._dec_protobuf import I32, I64, LAST_FIELD_NUMBER, LEN, VARINT, _varint
from ._sniff import all_printable

if TYPE_CHECKING:
    from ._decode import _Walker

_DOUBLE: Final = struct.Struct("<d")


def _walk(data: bytes, max_fields: int) -> tuple[list[tuple[int, float]], list[tuple[int, bytes]], int] | None:
    """The coordinate-sized doubles and the non-empty length-delimited fields of ``data``
    read as one message, and the fields walked; None when it is no clean message."""
    doubles: list[tuple[int, float]] = []
    nested: list[tuple[int, bytes]] = []
    i, n, count = 0, len(data), 0
    while i < n:
        count += 1
        if count > max_fields:
            return None
        tag, i = _varint(data, i, n)
        if i < 0:
            return None
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > LAST_FIELD_NUMBER:
            return None
        if wire == VARINT:
            _, i = _varint(data, i, n)
            if i < 0:
                return None
        elif wire == LEN:
            length, i = _varint(data, i, n)
            if i < 0 or i + length > n:
                return None
            if length and not all_printable(data[i : i + length]):  # text: a string, as the walk reads it
                nested.append((number, data[i : i + length]))
            i += length
        elif wire == I64:
            if i + 8 > n:
                return None
            x = _DOUBLE.unpack_from(data, i)[0]
            if math.isfinite(x) and 0.0 < abs(x) <= 180.0:
                doubles.append((number, x))
            i += 8
        elif wire == I32:
            i += 4
        else:
            return None
    if i != n or count == 0:
        return None
    return doubles, nested, count


def doubles(w: _Walker, data: bytes, loc: str, chain: tuple[str, ...]) -> None:
    """Emit every coordinate-sized double of the protobuf message ``data`` (at any depth)
    as decimal text with six decimals (0.1 m); nothing when ``data`` is no message."""
    limits = w.limits
    chain = (*chain, "protobuf", "double")
    todo = [(data, w.join(loc, "protobuf", ""), 0)]
    while todo:
        msg, prefix, level = todo.pop()
        if w.pb_steps <= 0:
            w.anomaly("protobuf-limit")
            return
        walked = _walk(msg, min(limits.max_protobuf_fields, w.pb_steps))
        w.pb_steps -= walked[2] if walked is not None else min(len(msg) // 2 + 1, limits.max_protobuf_fields)
        if walked is None:
            continue
        found, nested, _ = walked
        for number, x in found:
            w.emit(f"{x:.6f}".encode(), f"{prefix}{number}", chain)
        if level < limits.max_structure_depth:
            todo.extend((value, f"{prefix}{number}.", level + 1) for number, value in reversed(nested))
