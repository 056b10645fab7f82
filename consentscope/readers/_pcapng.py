"""pcapng framing: sections, interfaces, Enhanced and Simple Packet Blocks, and the
Decryption Secrets Blocks that carry TLS key logs.

Several interfaces each with their own link type and time-stamp resolution, both byte
orders, a new section resetting the interfaces. A block is read whole (bounded by
``Limits.max_packet_bytes``) and parsed within its own bytes: a short block or option is
damage *in that block* (skipped, counted as an anomaly) unless its length field itself is
broken, which ends the file with a ``CaptureError`` naming the block's offset.

A Decryption Secrets Block (type 0x0000000A) of secrets type 0x544c534b ("TLSK") holds an
NSS key log (``CLIENT_RANDOM <random> <secret>`` lines); ``frames(..., secrets=[])``
appends each such payload, in file order, for a later TLS-decryption step keyed by the
ClientHello's random (``_tls_hello.ClientHello.random``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from consentscope.detectors import DEFAULT_LIMITS, Limits

from . import _magic
from ._base import CaptureError
from ._pcapfile import Frame, read_exact

SECTION_HEADER = int.from_bytes(_magic.PCAPNG, "little")  # a palindrome: either byte order
INTERFACE_DESCRIPTION = 1
SIMPLE_PACKET = 3
ENHANCED_PACKET = 6
DECRYPTION_SECRETS = 0x0000000A
#: Secrets type of a TLS key log (NSS format) in a Decryption Secrets Block.
SECRETS_TLS_KEY_LOG = 0x544C534B
#: if_tsresol: the interface's time-stamp resolution (default 10^-6 s).
OPT_IF_TSRESOL = 9


def ts_resolution(options: bytes, order: str) -> float:
    """Seconds per tick from an Interface Description Block's options; options that run
    past their block (a length with no value) end the walk, keeping the default."""
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[i : i + 4])
        if code == 0:
            break
        if code == OPT_IF_TSRESOL and length >= 1 and i + 4 < len(options):
            v = options[i + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        i += 4 + length + (-length % 4)
    return 1e-6


def frames(
    path: str, fh: BinaryIO, head: bytes, limits: Limits = DEFAULT_LIMITS,
    secrets: list[bytes] | None = None, anomalies: dict[str, int] | None = None,
) -> Iterator[Frame]:
    """Packets of a pcapng file whose first bytes (``head``, up to 12) were already read."""
    order = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, seconds per tick)
    offset = 0
    pending = head
    while True:
        raw = pending + read_exact(fh, 12 - len(pending)) if len(pending) < 12 else pending
        pending = b""
        if not raw:
            return
        if len(raw) < 12:
            raise CaptureError(path, "truncated block header", offset)
        btype = struct.unpack(order + "I", raw[:4])[0]
        if btype == SECTION_HEADER:  # learn the byte order
            order = "<" if raw[8:12] == _magic.PCAPNG_BYTE_ORDER_LE else ">"
            interfaces = []
        btype, blen = struct.unpack(order + "II", raw[:8])
        if blen < 12 or blen % 4 or blen > limits.max_packet_bytes:
            raise CaptureError(path, f"bad block length {blen}", offset)
        body = raw[8:12] + read_exact(fh, blen - 12)
        if len(body) < blen - 8:
            raise CaptureError(path, f"truncated block ({len(body) + 8} of {blen} bytes)", offset)
        body = body[: blen - 12]
        if btype == INTERFACE_DESCRIPTION:
            if len(body) < 2:
                _count(anomalies, "pcapng-short-block")
                interfaces.append((-1, 1e-6))  # keeps the numbering of later interfaces
            else:
                linktype = struct.unpack(order + "H", body[:2])[0]
                interfaces.append((linktype, ts_resolution(body[8:], order)))
        elif btype == ENHANCED_PACKET:
            if len(body) < 20:
                _count(anomalies, "pcapng-short-block")
            else:
                iface, hi, lo, incl = struct.unpack(order + "IIII", body[:16])
                if iface >= len(interfaces):
                    raise CaptureError(path, f"packet for undeclared interface {iface}", offset)
                linktype, tick = interfaces[iface]
                yield offset, ((hi << 32) | lo) * tick, linktype, body[20 : 20 + incl]
        elif btype == SIMPLE_PACKET and interfaces:  # interface 0, no time stamp
            if len(body) < 4:
                _count(anomalies, "pcapng-short-block")
            else:
                (orig,) = struct.unpack(order + "I", body[:4])
                yield offset, 0.0, interfaces[0][0], body[4 : 4 + orig]
        elif btype == DECRYPTION_SECRETS and secrets is not None:
            if len(body) < 8:
                _count(anomalies, "pcapng-short-block")
            else:
                stype, slen = struct.unpack(order + "II", body[:8])
                if stype == SECRETS_TLS_KEY_LOG:
                    secrets.append(body[8 : 8 + slen])
        offset += blen


def _count(anomalies: dict[str, int] | None, name: str) -> None:
    if anomalies is not None:
        anomalies[name] = anomalies.get(name, 0) + 1
