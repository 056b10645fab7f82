"""SDK wire-format adapters: a few lines of data say how one SDK packs its uploads.

Some SDKs wrap their payload in a step no sniff can recognise: a byte-wise XOR with a key
the request itself carries, a compression without a magic number. An ``Adapter`` names
the requests it applies to (host and path globs, header values) and the steps that undo
the wrapping, outermost first; what the steps uncover goes back to the walker, which
decodes the rest (protobuf, JSON…) as for any body. A request no adapter matches, or
whose steps fail (the failure is named ``adapter-failed:<name>``), is decoded as it is.

Steps (``Adapter.steps``):

* ``xor:<key>``: XOR with the key's bytes, repeated; ``xor-int8:<key>``: XOR with one
  byte, the key read as an integer modulo 256 (a millisecond timestamp's low byte);
* keys: ``header:<Name>``, ``query:<name>``, ``hex:<bytes>``, ``text:<string>``;
* ``snappy`` (the raw block format, bounded like every decompression), ``gzip``,
  ``zlib``, ``deflate``, ``base64``, ``hex``: the existing decoders' primitives.

``GROWINGIO``: the example, taken from the GrowingIO Go SDK's own code.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from . import _compress as _z
from ._record import RequestRecord

if TYPE_CHECKING:
    from ._decode import _Walker


@dataclass(frozen=True, slots=True)
class Adapter:
    """Which requests an SDK sends (globs, case-insensitive host), what headers mark its
    packing (``when``: name, value), and the steps that undo it (module docstring)."""

    name: str
    steps: tuple[str, ...]
    host: str = "*"
    path: str = "*"
    when: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for step in self.steps:
            kind, _, key = step.partition(":")
            if kind in ("xor", "xor-int8"):
                source = key.partition(":")[0]
                if source not in ("header", "query", "hex", "text"):
                    raise ValueError(f"adapter {self.name}: unknown key source in {step!r}")
            elif kind not in _PLAIN_STEPS or key:
                raise ValueError(f"adapter {self.name}: unknown step {step!r}")

    def matches(self, record: RequestRecord) -> bool:
        if not fnmatchcase(record.host, self.host.lower()):
            return False
        if self.path != "*" and not fnmatchcase(record.path.partition("?")[0], self.path):
            return False
        return all(record.header(name) == value for name, value in self.when)


def _key(record: RequestRecord, source: str) -> bytes | None:
    kind, _, name = source.partition(":")
    if kind == "header":
        value = record.header(name)
        return None if value is None else value.encode()
    if kind == "query":
        for k, v in parse_qsl(record.path.partition("?")[2], keep_blank_values=True):
            if k == name:
                return v.encode()
        return None
    if kind == "hex":
        return bytes.fromhex(name)
    return name.encode()  # text


def unsnappy(data: bytes, cap: int) -> bytes | None:
    """Snappy's raw block format (``snappy.Encode`` in Go, ``snappy.compress`` in C++);
    None when ``data`` is not such a block or would grow beyond ``cap`` bytes."""
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
    while i < size:
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
            if i + length > size:
                return None
            out += data[i : i + length]
            i += length
        else:  # copy
            if kind == 1:
                if i >= size:
                    return None
                length, offset = 4 + ((tag >> 2) & 7), ((tag >> 5) << 8) | data[i]
                i += 1
            else:
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
        if len(out) > n:
            return None
    return bytes(out) if len(out) == n else None


def _xor(data: bytes, key: bytes) -> bytes:
    if len(key) == 1:
        return data.translate(bytes(b ^ key[0] for b in range(256)))
    reps = key * (len(data) // len(key) + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(reps[: len(data)], "big")).to_bytes(len(data), "big")


_PLAIN_STEPS: Final = frozenset({"snappy", "gzip", "zlib", "deflate", "base64", "hex"})


def apply(adapter: Adapter, w: _Walker, record: RequestRecord, body: bytes) -> tuple[bytes, tuple[str, ...]] | None:
    """``body`` with the adapter's steps undone, and the steps' names; None when a step
    fails (named as an anomaly by the caller)."""
    data = body
    chain: list[str] = []
    for step in adapter.steps:
        kind, _, source = step.partition(":")
        if kind in ("xor", "xor-int8"):
            key = _key(record, source)
            if not key:
                return None
            if kind == "xor-int8":
                try:
                    key = bytes([int(key) % 256])
                except ValueError:
                    return None
            data = _xor(data, key)
            chain.append("xor")
            continue
        cap = w.cap(len(data))
        out: bytes | None
        if kind == "snappy":
            out = unsnappy(data, cap)
        elif kind in ("gzip", "zlib", "deflate"):
            inflated, status = _z.inflate(data, {"gzip": 31, "zlib": 15, "deflate": -15}[kind], cap)
            out = inflated if status == _z.OK else None
        else:
            try:
                out = base64.b64decode(data, validate=False) if kind == "base64" else bytes.fromhex(data.decode())
            except (ValueError, binascii.Error, UnicodeDecodeError):
                out = None
        if not out:
            return None
        data = out
        chain.append(kind)
    return data, tuple(chain)


#: GrowingIO's server-side SDKs: ``compress`` is ``snappy.Encode`` (raw block) with
#: ``X-Compress-Codec: 2``, then ``encrypt`` XORs every byte with ``Timestamp % 256`` and
#: sets ``X-Crypt-Codec: 1``; the timestamp (milliseconds) is sent as ``X-Timestamp`` and
#: ``?stm=`` (github.com/growingio/growingio-sdk-go, internal/core/request_pipe.go and
#: request.go). Collector hosts are per deployment, so the headers decide, not the host.
GROWINGIO: Final = Adapter(
    name="growingio",
    steps=("xor-int8:header:X-Timestamp", "snappy"),
    when=(("X-Crypt-Codec", "1"), ("X-Compress-Codec", "2")),
)

#: the adapters shipped: ``Scanner(..., adapters=BUILTIN_ADAPTERS)``
BUILTIN_ADAPTERS: Final = (GROWINGIO,)
