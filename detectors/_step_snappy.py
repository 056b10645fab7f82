"""Snappy's raw block format, undone in pure Python and bounded: an adapter step
(``_adapters.py``), not a sniffed decoder, since a raw block has no magic number.

The block is a varint (the uncompressed length) and a run of operations, each a literal
(bytes copied from the input) or a copy (bytes repeated from the output so far). The
output is bounded by the caller's cap before anything is allocated (the varint is
checked first) and the operations by ``Limits.max_block_ops``, since each is a Python
step: a hostile body of one-byte literals would otherwise cost one step per byte.
"""

from __future__ import annotations


def unsnappy(data: bytes, cap: int, max_ops: int) -> bytes | None:
    """The block's content; None when ``data`` is no clean raw Snappy block, or its content
    would pass ``cap`` bytes or take more than ``max_ops`` operations."""
    n = shift = i = 0
    while True:  # the uncompressed length, a little-endian varint
        if i >= len(data) or shift > 28:
            return None
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    if n > cap:
        return None
    out = bytearray()
    size = len(data)
    ops = 0
    while i < size:
        ops += 1
        if ops > max_ops:
            return None
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if i + extra > size:
                    return None
                length = int.from_bytes(data[i : i + extra], "little")
                i += extra
            length += 1
            if i + length > size or len(out) + length > n:
                return None
            out += data[i : i + length]
            i += length
            continue
        if kind == 1:  # copy, 1-byte offset
            if i >= size:
                return None
            length, offset = 4 + ((tag >> 2) & 7), ((tag >> 5) << 8) | data[i]
            i += 1
        else:  # copy, 2- or 4-byte offset
            width = 2 if kind == 2 else 4
            if i + width > size:
                return None
            length, offset = 1 + (tag >> 2), int.from_bytes(data[i : i + width], "little")
            i += width
        if offset == 0 or offset > len(out) or len(out) + length > n:
            return None
        start = len(out) - offset
        chunk = out[start : start + length]
        if offset < length:  # overlapping: the last ``offset`` bytes repeat
            chunk = (chunk * (length // offset + 1))[:length]
        out += chunk
    return bytes(out) if len(out) == n else None
