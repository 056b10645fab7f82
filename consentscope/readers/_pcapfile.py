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


#: Bytes read from the file at a time; packets are sliced out of it (one read per packet
#: header and one per packet cost ~4% of the whole reader on the bench capture).
CHUNK = 1 << 20


def read_exact(fh: BinaryIO, n: int) -> bytes:
    """``n`` bytes; fewer only at the end of the stream."""
    data = fh.read(n) or b""
    while len(data) < n:
        try:
            more = fh.read(n - len(data))
        except CaptureError:  # damage in a compressed stream: raised again by the next read
            if data:
                break
            raise
        if not more:
            break
        data += more
    return data


def frames(path: str, fh: BinaryIO, head: bytes, limits: Limits = DEFAULT_LIMITS) -> Iterator[Frame]:
    """Records of a classic pcap whose first four bytes (``head``) were already read."""
    order, unit = _magic.PCAP[head[:4]]
    rest = read_exact(fh, 20)
    if len(rest) < 20:
        raise CaptureError(path, "truncated pcap file header", 0)
    linktype = struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF
    header = struct.Struct(order + "IIII")
    max_packet = limits.max_packet_bytes
    offset = 24  # of buf[0] in the file
    buf, pos = b"", 0
    while True:
        if len(buf) - pos < 16:
            offset += pos
            buf, pos = buf[pos:] + read_exact(fh, CHUNK), 0
            if not buf:
                return
            if len(buf) < 16:
                raise CaptureError(path, "truncated packet header", offset)
        sec, frac, incl, _orig = header.unpack_from(buf, pos)
        if incl > max_packet:
            raise CaptureError(path, f"implausible packet length {incl}", offset + pos)
        end = pos + 16 + incl
        if end > len(buf):
            offset += pos
            buf = buf[pos:]
            buf, pos = buf + read_exact(fh, max(CHUNK, 16 + incl - len(buf))), 0
            end = 16 + incl
            if end > len(buf):
                raise CaptureError(path, f"truncated packet ({len(buf) - 16} of {incl} bytes)", offset)
        yield offset + pos, sec + frac * unit, linktype, buf[pos + 16 : end]
        pos = end
