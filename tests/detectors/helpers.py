"""Shared test helpers: records, the protobuf wire format by hand, and views read back
the way the scanner reads them (a run of query/form pairs located value by value)."""

from __future__ import annotations

import gzip
import json

from consentscope.detectors import DecodedRequest, RequestRecord, decode_request
from consentscope.detectors._view import PairsLocator

IMEI = b"861234567890127"
#: every name a chain may hold
STEPS = {"gzip", "zlib", "deflate", "zstd", "base64", "base64url", "hex", "urlencode", "json", "protobuf"}
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def rec(
    path: str = "/", body: bytes = b"", headers: list[tuple[str, str]] | tuple | None = None, *, truncated: bool = False
) -> RequestRecord:
    return RequestRecord(
        "f1", 0.0, "POST", "https", "sdk.example.net", 443, path, tuple(headers or ()), body, body_truncated=truncated
    )


def rows(d: DecodedRequest) -> list[tuple[str, tuple[str, ...], bytes]]:
    """(location, chain, data) of each view; a run of plain query/form pairs (one view)
    is read back value by value, as ``View.piece_at`` places a match in it."""
    out = []
    for v in d.views:
        if type(v.resolve) is not PairsLocator:
            out.append((v.location, v.chain, v.data))
            continue
        at = 0
        for pair in v.data.split(b"&"):
            if pair:
                eq = pair.find(b"=")
                piece = v.piece_at(at + eq + 1 if eq != -1 else at)
                assert piece is not None
                start, end, where = piece
                if end > start:
                    out.append((where, v.chain, v.data[start:end]))
            at += len(pair) + 1
    return out


def found(r: RequestRecord | DecodedRequest, needle: bytes = IMEI) -> list[tuple[str, tuple[str, ...]]]:
    """(location, chain) of every occurrence of ``needle``, located exactly: a whole-JSON
    view or a run of pairs resolves each offset, as the scanner does on a hit."""
    d = decode_request(r) if isinstance(r, RequestRecord) else r
    out = []
    for v in d.views:
        at = v.data.find(needle)
        while at != -1:
            out.append((v.location_at(at), v.chain))
            at = v.data.find(needle, at + 1)
    return out


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def imei_json(**extra: object) -> bytes:
    return json.dumps({"imei": IMEI.decode(), **extra}).encode()


def pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_len(number: int, payload: bytes) -> bytes:
    return pb_varint(number << 3 | 2) + pb_varint(len(payload)) + payload


def pb_int(number: int, value: int) -> bytes:
    return pb_varint(number << 3) + pb_varint(value)
