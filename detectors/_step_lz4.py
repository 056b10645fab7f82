"""LZ4's block format, undone in pure Python and bounded: an adapter step
(``_adapters.py``), not a sniffed decoder, since a bare block has neither magic number
nor size (GrowingIO's iOS SDK sends ``LZ4_compress`` output as it is).

A block is a run of sequences: a token (literal and match length nibbles, 15 meaning
"more bytes follow"), the literals, a 2-byte little-endian offset and the match, copied
from the output so far; the last sequence has literals only. The output is bounded by
the caller's cap and the sequences by ``Limits.max_block_ops`` (each is a Python step);
a length's extension bytes are checked against what is left of the input or the cap as
they are read, so a run of 255s costs no more than the bytes it claims.
"""

from __future__ import annotations


def unlz4(data: bytes, cap: int, max_ops: int) -> bytes | None:
    """The block's content; None when ``data`` is no clean LZ4 block, or its content would
    pass ``cap`` bytes or take more than ``max_ops`` sequences."""
    out = bytearray()
    i, n, ops = 0, len(data), 0
    while i < n:
        ops += 1
        if ops > max_ops:
            return None
        token = data[i]
        i += 1
        length = token >> 4
        if length == 15:
            length, i = _extend(data, i, length, n - i - 1)  # literals must be in the input
            if length < 0:
                return None
        if i + length > n or len(out) + length > cap:
            return None
        out += data[i : i + length]
        i += length
        if i == n:  # the last sequence: literals only
            break
        if i + 2 > n:
            return None
        offset = data[i] | data[i + 1] << 8
        i += 2
        if offset == 0 or offset > len(out):
            return None
        length = token & 15
        if length == 15:
            length, i = _extend(data, i, length, cap - len(out))
            if length < 0:
                return None
        length += 4  # the shortest match
        if len(out) + length > cap:
            return None
        start = len(out) - offset
        chunk = out[start : start + length]
        if offset < length:  # overlapping: the last ``offset`` bytes repeat
            chunk = (chunk * (length // offset + 1))[:length]
        out += chunk
    return bytes(out) if out else None


def _extend(data: bytes, i: int, length: int, most: int) -> tuple[int, int]:
    """A length nibble of 15 and its extension bytes from ``data[i]`` on (each added, 255
    meaning another follows): (length, index after them), or (-1, i) when the input ends
    first or the length passes ``most``, checked as each byte is read."""
    n = len(data)
    while True:
        if i >= n:
            return -1, i
        b = data[i]
        i += 1
        length += b
        if length > most:
            return -1, i
        if b != 255:
            return length, i
