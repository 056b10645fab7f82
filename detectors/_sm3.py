"""SM3 (GB/T 32905-2016), the Chinese national hash that some domestic SDKs use for IDs.

OpenSSL 3 ships SM3 and hashlib exposes it where the build allows; some Python builds
(FIPS, LibreSSL, trimmed OpenSSL) do not. This small pure-Python fallback keeps the
detector complete everywhere; it runs only at profile compile time, never per request.
"""

from __future__ import annotations

import hashlib
import struct

_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
_MASK = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _MASK


def _p0(x: int) -> int:
    return x ^ _rotl(x, 9) ^ _rotl(x, 17)


def _p1(x: int) -> int:
    return x ^ _rotl(x, 15) ^ _rotl(x, 23)


def _compress(v: list[int], block: bytes) -> list[int]:
    w = list(struct.unpack(">16I", block))
    for j in range(16, 68):
        w.append(_p1(w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    w1 = [w[j] ^ w[j + 4] for j in range(64)]
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        t = 0x79CC4519 if j < 16 else 0x7A879D8A
        ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & _MASK, 7)
        ss2 = ss1 ^ _rotl(a, 12)
        if j < 16:
            ff, gg = a ^ b ^ c, e ^ f ^ g
        else:
            ff = (a & b) | (a & c) | (b & c)
            gg = (e & f) | (~e & g)
        tt1 = (ff + d + ss2 + w1[j]) & _MASK
        tt2 = (gg + h + ss1 + w[j]) & _MASK
        a, b, c, d = tt1, a, _rotl(b, 9), c
        e, f, g, h = _p0(tt2), e, _rotl(f, 19), g
    return [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h), strict=True)]


def sm3_pure(data: bytes) -> bytes:
    """SM3 digest computed in Python (32 bytes)."""
    length = len(data) * 8
    msg = data + b"\x80" + b"\x00" * ((56 - (len(data) + 1) % 64) % 64) + struct.pack(">Q", length)
    v = list(_IV)
    for i in range(0, len(msg), 64):
        v = _compress(v, msg[i : i + 64])
    return struct.pack(">8I", *v)


def _openssl_sm3_works() -> bool:
    try:
        return hashlib.new("sm3", b"abc").digest() == sm3_pure(b"abc")
    except (ValueError, TypeError):
        return False


HAVE_OPENSSL_SM3 = _openssl_sm3_works()


def sm3(data: bytes) -> bytes:
    """SM3 digest: OpenSSL's where available, else the pure fallback."""
    if HAVE_OPENSSL_SM3:
        return hashlib.new("sm3", data).digest()
    return sm3_pure(data)
