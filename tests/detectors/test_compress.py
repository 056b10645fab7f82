"""Bounded decompression (``_compress.py``): every stream stops at its cap exactly, and a
cut stream yields what it held."""

from __future__ import annotations

import gzip
import zlib

import brotli
import zstandard

from consentscope.detectors import Limits, decode_request
from consentscope.detectors import _compress as z
from tests.detectors.helpers import gz, rec

DATA = b"0123456789abcdef" * 4096


def test_each_format_stops_at_the_cap_exactly() -> None:
    for got in (
        z.inflate(gzip.compress(DATA), 31, 1000),
        z.inflate(zlib.compress(DATA), 15, 1000),
        z.unzstd(zstandard.ZstdCompressor().compress(DATA), 1000),
        z.unbrotli(brotli.compress(DATA), 1000),
        z.unbrotli(brotli.compress(DATA), 1000, step=3),
    ):
        assert got == (DATA[:1000], z.LIMIT)


def test_whole_cut_and_foreign_streams() -> None:
    whole = gzip.compress(DATA)
    assert z.inflate(whole, 31, 1 << 20) == (DATA, z.OK)
    out, status = z.inflate(whole[: len(whole) // 2], 31, 1 << 20)
    assert status == z.INCOMPLETE and DATA.startswith(out) and out
    assert z.inflate(b"not a stream", 31, 1 << 20) == (b"", z.INVALID)
    assert z.unbrotli(b"\xff" * 20, 1 << 20)[1] == z.INVALID
    assert z.inflate(whole, 31, 0) == (b"", z.LIMIT)  # 0 would mean "unbounded" to zlib


def test_decoding_stops_at_the_cap_exactly() -> None:
    d = decode_request(rec(body=gz(b"a" * 200_000)), Limits(max_compression_ratio=2))
    (body,) = [v.data for v in d.views if v.location == "body"]
    assert body == b"a" * Limits().min_inflate_allowance  # the floor every stream may reach, whatever its ratio
    d = decode_request(rec(body=gz(b"a" * 200_000)), Limits(max_compression_ratio=2, min_inflate_allowance=500))
    assert [v.data for v in d.views if v.location == "body"] == [b"a" * 500]
    d = decode_request(rec(body=gz(b"a" * 200_000)), Limits(max_decompressed_bytes=1000))
    assert [v.data for v in d.views if v.location == "body"] == [b"a" * 1000]
