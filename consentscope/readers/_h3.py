"""HTTP/3 frames of one request stream (RFC 9114 §7), sans-IO and bounded.

A client-initiated bidirectional stream carries one request: a HEADERS frame (a QPACK
field section, ``_qpack``), DATA frames, maybe trailers. Unknown and reserved frame types
are skipped (§9). What a stream ends with (a frame cut by the capture or a bound) is kept
as far as it goes and said to be truncated.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._quic import varint

FRAME_DATA = 0x00
FRAME_HEADERS = 0x01
#: Largest HEADERS frame decoded; a larger one is damage (browsers send a few KB).
MAX_HEADERS_FRAME = 256 * 1024


@dataclass
class H3Request:
    header_block: bytes | None
    body: bytes
    #: the stream ended inside a frame, or a bound cut the body
    truncated: bool


def request_frames(data: bytes, max_body: int) -> H3Request:
    """The first HEADERS frame and the DATA of one request stream's bytes."""
    block: bytes | None = None
    body = bytearray()
    truncated = False
    i = 0
    while i < len(data):
        try:
            ftype, j = varint(data, i)
            length, j = varint(data, j)
        except ValueError:
            truncated = True
            break
        end = j + length
        if ftype == FRAME_HEADERS:
            if length > MAX_HEADERS_FRAME or end > len(data):
                truncated = True
                break
            if block is None:
                block = data[j:end]
            # a second HEADERS frame is the trailers: not part of the request record
        elif ftype == FRAME_DATA:
            if block is None:
                break  # DATA before HEADERS: not a request (§4.1)
            chunk = data[j : min(end, len(data))]
            room = max_body - len(body)
            if len(chunk) > room:
                chunk = chunk[:room]
                truncated = True
            body += chunk
            if end > len(data):
                truncated = True
        i = end
    return H3Request(block, bytes(body), truncated)
