"""Every file magic number the readers know, in one table.

``_open.detect_format`` and the framing modules (``_pcapfile``, ``_pcapng``) read their
magic numbers from here, so a format is recognised by the same bytes everywhere.
"""

from __future__ import annotations

#: Compression containers opened transparently: (magic, name).
GZIP = b"\x1f\x8b"
XZ = b"\xfd7zXZ\x00"
ZSTD = b"\x28\xb5\x2f\xfd"
COMPRESSIONS = ((GZIP, "gzip"), (XZ, "xz"), (ZSTD, "zstd"))

#: Classic pcap: magic -> (struct byte order, seconds per time-stamp tick).
PCAP = {
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
}

#: pcapng Section Header Block type (a palindrome: the same in both byte orders), and its
#: byte-order magic as written little-endian.
PCAPNG = b"\x0a\x0d\x0d\x0a"
PCAPNG_BYTE_ORDER_LE = b"\x4d\x3c\x2b\x1a"

#: UTF-8 byte order mark some HAR exporters (Safari, Fiddler) write.
UTF8_BOM = b"\xef\xbb\xbf"


def compression_of(head: bytes) -> str | None:
    """"gzip", "xz", "zstd", or None for a stream starting with ``head``."""
    for magic, name in COMPRESSIONS:
        if head.startswith(magic):
            return name
    return None


def packet_format_of(head: bytes) -> str | None:
    """"pcap", "pcapng", or None for a (decompressed) stream starting with ``head``."""
    if head[:4] in PCAP:
        return "pcap"
    if head[:4] == PCAPNG:
        return "pcapng"
    return None


def is_zlib(head: bytes) -> bool:
    """A zlib stream header (mitmproxy's ``.zhar``): CMF 0x78 and a valid FCHECK."""
    return len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0
