"""Classic pcap framing: the file header, then (header, packet) records.

Ours rather than ``dpkt.pcap.Reader`` so that damage is reported with its byte offset and
the length field is bounded before anything is allocated (as ``dpkt/pcap.py::Reader``
frames records, but a truncated file ends in one ``CaptureError``, not a silent stop).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from consentscope.detectors import DEFAULT_LIMITS, Limits

from . import _magic
from ._base import CaptureError

#: (byte offset of the record, seconds since the epoch, link type, packet bytes)
Frame = tuple[int, float, int, bytes]


def read_exact(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes; fewer only at the end of the stream."""
    data = fh.read(n)
    return data if data is not None else b""


def frames(path: str, fh: BinaryIO, head: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[Frame]:
    """Records of a classic pcap whose first four bytes (``head``) were already read."""
    order, unit = _magic.PCAP[head[:4]]
    rest = read_exact(fh, 20)
    if len(rest) < 20:
        raise CaptureError(path, "truncated pcap file header", 0)
    linktype = struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF
    header = struct.Struct(order + "IIII")
    offset = 24
    while True:
        hdr = read_exact(fh, 16)
        if not hdr:
            return
        if len(hdr) < 16:
            raise CaptureError(path, "truncated packet header", offset)
        sec, frac, incl, _orig = header.unpack(hdr)
        if incl > limits.max_packet_bytes:
            raise CaptureError(path, f"implausible packet length {incl}", offset)
        data = read_exact(fh, incl)
        if len(data) < incl:
            raise CaptureError(path, f"truncated packet ({len(data)} of {incl} bytes)", offset)
        yield offset, sec + frac * unit, linktype, data
        offset += 16 + incl
