"""Decode a request into views: every place a value can hide, uncovered step by step.

Each decoder has a name (an element of the encoding chain), a cheap sniff and a bounded
decode; a decoder that fails never loses the text it was given (it is scanned as it is)
and malformed input becomes a named anomaly, counted, while decoding goes on. All bounds
come from ``Limits`` (``_limits.py``).

Emission rules: a container that parses (JSON, form, multipart, protobuf, query) is not
scanned itself, its leaves are; a transform that succeeds (gzip, base64 to text, hex to
text, percent-decoding) replaces its input; anything else is scanned as it is.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zlib
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from ._jsonpath import JsonLocator
from ._jsonpath import json_key as _json_key
from ._limits import DEFAULT_LIMITS, Limits
from ._record import RequestRecord
from ._view import View

__all__ = ["DecodedRequest", "decode_request"]


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    views: tuple[View, ...]
    anomalies: tuple[str, ...] = ()
    body_scan_truncated: bool = False


_B64_RE = re.compile(rb"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_HEX_RE = re.compile(rb"(?:[0-9a-fA-F]{2})+")
_DIGITS_HEX_RE = re.compile(rb"[0-9a-fA-F]+")
_PCT_RE = re.compile(rb"%[0-9a-fA-F]{2}")
_FORM_RE = re.compile(rb"[A-Za-z0-9_.\-\[\]%]+=[^&=\s]*(?:&[A-Za-z0-9_.\-\[\]%]+=[^&=\s]*)+&?")
_CTRL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_KEY_RE = re.compile(rb"[A-Za-z0-9_.\-\[\]%+]{1,64}=")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.I)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: smallest output a decompression may always reach, whatever the ratio
_MIN_INFLATE_ALLOWANCE = 64 * 1024


_new_view = tuple.__new__
#: JSON strings that may hide more than their text: no whitespace and long, or percent-encoded
_JSON_CANDIDATE_RE = re.compile(rb'"([^"\s]{16,}|[^"]*%[0-9A-Fa-f]{2}[^"]*)"')


def _worth_decoding(raw: bytes, min_len: int) -> bool:
    """Would ``content`` do more with this string than scan it as it is? (Checked before
    the string's JSONPath is computed: most long tokens are ids that decode to nothing.)"""
    if b"%" in raw and _PCT_RE.search(raw):
        return True
    if len(raw) < min_len:
        return False
    if _HEX_RE.fullmatch(raw):
        return _Decoder._worth_it(bytes.fromhex(raw.decode("ascii")))
    if _B64_RE.fullmatch(raw) and not _DIGITS_HEX_RE.fullmatch(raw.rstrip(b"=")):
        padded = raw + b"=" * (-len(raw.rstrip(b"=")) % 4)
        try:
            out = (base64.urlsafe_b64decode if (b"-" in raw or b"_" in raw) else base64.b64decode)(padded)
        except (binascii.Error, ValueError):
            return False
        return _Decoder._worth_it(out)
    return b"=" in raw and _FORM_RE.fullmatch(raw) is not None


class _Budget(Exception):
    """Raised internally when the views or bytes budget is spent."""


def _is_text(data: bytes) -> bool:
    """Mostly printable UTF-8 (sampled: bodies can be large)."""
    sample = data[:512]
    if sample.isascii():
        return bool(sample) and len(_CTRL_RE.findall(sample)) * 20 <= len(sample)
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 4:  # a cut multi-byte char at the end is fine
            return False
        text = sample[: e.start].decode("utf-8", "ignore")
    if not text:
        return False
    bad = sum(1 for ch in text if not (ch.isprintable() or ch in "\r\n\t"))
    return bad * 20 <= len(text)


def _printable(data: bytes) -> bool:
    """Every character printable UTF-8 (tabs and newlines allowed): a protobuf string
    field, not a nested message (whose tag and length bytes are control characters)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n" for ch in text)


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class _Num(str):
    """A JSON number as its source text (so 39.908712 stays 39.908712, not a float)."""

    __slots__ = ()


class _Decoder:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.views: list[View] = []
        self.anomalies: list[str] = []
        self.budget = limits.max_decoded_bytes

    # -- bookkeeping ---------------------------------------------------------------

    def anomaly(self, name: str) -> None:
        if name not in self.anomalies:
            self.anomalies.append(name)

    def emit(
        self, data: bytes, location: str, chain: tuple[str, ...], resolve: JsonLocator | None = None
    ) -> None:
        if not data:
            return
        if len(self.views) >= self.limits.max_views:
            self.anomaly("views-limit")
            raise _Budget
        self.budget -= len(data)
        if self.budget < 0:
            self.anomaly("decoded-bytes-limit")
            raise _Budget
        self.views.append(_new_view(View, (data, location, chain, resolve)))

    @staticmethod
    def join(location: str, kind: str, path: str) -> str:
        return f"{location}{'>' if ':' in location else '.'}{kind}:{path}"

    # -- the recursive decoder -------------------------------------------------------

    def content(
        self, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str = "", text: bool = False
    ) -> None:
        """Decode ``data`` as far as it goes; emit leaves (or ``data`` itself). ``text``: the
        caller knows it is text (a JSON string), so binary sniffs are skipped."""
        if not data:
            return
        if depth >= self.limits.max_decode_depth:
            self.anomaly("decode-depth-exceeded")
            self.emit(data, loc, chain)
            return
        head = data[:4]
        # compressed streams, whatever the headers said
        if head[:2] == b"\x1f\x8b":
            out = self.inflate(data, 31, "gzip")
            if out is not None:
                self.content(out, loc, (*chain, "gzip"), depth + 1)
                return
        elif head == _ZSTD_MAGIC:
            out = self.unzstd(data)
            if out is not None:
                self.content(out, loc, (*chain, "zstd"), depth + 1)
                return
        elif not text and _zlib_header(data) and not _is_text(data[:64]):
            out = self.inflate(data, 15, "zlib")
            if out is not None:
                self.content(out, loc, (*chain, "zlib"), depth + 1)
                return
        ct = ctype.lower()
        stripped = data.lstrip(b" \t\r\n\xef\xbb\xbf")
        first = stripped[:1]
        if first in (b"{", b"[") and self.json(stripped, loc, chain, depth):
            return
        if ct.startswith("multipart/") and self.multipart(data, ctype, loc, chain, depth):
            return
        if "protobuf" in ct or "x-protobuf" in ct or "grpc" in ct:
            if self.protobuf(data, loc, chain, depth):
                return
        if "x-www-form-urlencoded" in ct or (b"=" in data[:256] and _FORM_RE.fullmatch(data)):
            if self.form(data, loc, chain, depth):
                return
        n = len(data)
        if n >= self.limits.min_blob_len and n <= self.limits.max_decoded_bytes:
            blob = data.strip()
            if _HEX_RE.fullmatch(blob):
                if self.unhex(blob, loc, chain, depth):
                    return
            elif _B64_RE.fullmatch(blob) and not _DIGITS_HEX_RE.fullmatch(blob.rstrip(b"=")):
                if self.unbase64(blob, loc, chain, depth):
                    return
        if b"%" in data and _PCT_RE.search(data):
            out = unquote_to_bytes(data)
            if out != data:
                self.content(out, loc, (*chain, "urlencode"), depth + 1)
                return
        if not text and n >= 2 and not _is_text(data):
            if self.protobuf(data, loc, chain, depth):
                return
            if not ctype:
                out = self.inflate(data, -15, "deflate", quiet=True)
                if out is not None and out and _is_text(out):
                    self.content(out, loc, (*chain, "deflate"), depth + 1)
                    return
        self.emit(data, loc, chain)

    # -- containers --------------------------------------------------------------------

    def json(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        # Without escapes every value stands in the text verbatim: scan the text whole.
        # With them, walk the parsed document (numbers kept as their source text).
        whole = b"\\" not in data
        hooks = {} if whole else {"parse_int": _Num, "parse_float": _Num, "parse_constant": _Num}
        try:
            doc = json.loads(data, **hooks)
        except RecursionError:
            self.anomaly("json-depth-exceeded")
            return False
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(doc, dict | list):
            return False
        if whole:
            self._json_whole(data, loc, (*chain, "json"), depth)
        else:
            self._walk(doc, self.join(loc, "json", "$"), (*chain, "json"), depth, 0)
        return True

    def _json_whole(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A JSON document without escapes: every value stands in the text verbatim, so the
        text is scanned as one view and paths are computed only where something is found.
        Strings that may hide more (blobs, forms, percent-encoding) are decoded on their own."""
        base = self.join(loc, "json", "")
        locator = JsonLocator(data, base)
        self.emit(data, base + "$", chain, locator)
        for m in _JSON_CANDIDATE_RE.finditer(data):
            raw = m.group(1)
            if _worth_decoding(raw, self.limits.min_blob_len):
                self.content(raw, locator(m.start(1)), chain, depth + 1, text=True)

    def _walk(self, node: dict | list, path: str, chain: tuple[str, ...], depth: int, level: int) -> None:
        """Emit a JSON container's scalars in document order; numbers keep their source
        text; an object's keys are one view of their own (apps are often sent as keys)."""
        if level > self.limits.max_structure_depth:
            self.anomaly("json-depth-exceeded")
            return
        if type(node) is dict:
            if not node:
                return
            self.emit("\n".join(node).encode("utf-8", "surrogatepass"), path, chain)
            items = ((f"{path}.{k}" if _IDENT_RE.fullmatch(k) else _json_key(path, k), v) for k, v in node.items())
        else:
            items = ((f"{path}[{i}]", v) for i, v in enumerate(node))
        min_len = self.limits.min_blob_len
        max_views = self.limits.max_views
        views = self.views
        append = views.append
        used = 0
        for where, value in items:
            kind = type(value)
            if kind is _Num or kind is str:
                raw = value.encode("utf-8", "surrogatepass")
                if kind is str and not (
                    (len(raw) < min_len or (b" " in raw and raw[:1] not in b"{[")) and b"%" not in raw
                ):
                    self.content(raw, where, chain, depth + 1, text=True)
                    continue
                # numbers, short tokens and words with spaces are plain text: no blob, form or
                # compressed stream looks like that
                if not raw:
                    continue
                if len(views) >= max_views:
                    self.anomaly("views-limit")
                    raise _Budget
                used += len(raw)
                append(_new_view(View, (raw, where, chain, None)))
            elif kind is dict or kind is list:
                self._walk(value, where, chain, depth, level + 1)
        self.budget -= used
        if self.budget < 0:
            self.anomaly("decoded-bytes-limit")
            raise _Budget

    def form(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        pairs = [p for p in re.split(rb"[&;]", data) if p]
        # a Content-Type can claim a form for any body: only k=v pairs with name-like keys count
        if not pairs or not all(_FORM_KEY_RE.match(p) for p in pairs):
            return False
        for pair in pairs:
            k, _, v = pair.partition(b"=")
            name = _unquote_plus(k).decode("utf-8", "replace")
            self.leaf(_unquote_plus(v), self.join(loc, "form", name), chain, depth + 1)
        return True

    def multipart(self, data: bytes, ctype: str, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        m = _BOUNDARY_RE.search(ctype)
        if not m:
            return False
        delim = b"--" + m.group(1).encode("latin-1")
        parts = data.split(delim)
        if len(parts) < 3:
            return False
        for i, part in enumerate(parts[1:]):
            if part.startswith(b"--"):
                break
            head, sep, body = part.partition(b"\r\n\r\n")
            if not sep:
                head, sep, body = part.partition(b"\n\n")
            if body.endswith(b"\r\n"):
                body = body[:-2]
            headers = head.decode("latin-1", "replace")
            nm = re.search(r'name="([^"]*)"', headers)
            name = nm.group(1) if nm else str(i)
            pct = re.search(r"content-type:\s*([^\r\n]+)", headers, re.I)
            self.content(body, self.join(loc, "multipart", name), chain, depth + 1, pct.group(1) if pct else "")
        return True

    def protobuf(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int, level: int = 0) -> bool:
        fields = _pb_fields(data)
        if fields is None:
            return False
        prefix = loc if level else None
        chain = chain if level else (*chain, "protobuf")
        for number, wire, value in fields:
            where = f"{prefix}.{number}" if prefix else self.join(loc, "protobuf", str(number))
            if wire == 0:
                self.emit(str(value).encode(), where, chain)
            elif wire == 2:
                assert isinstance(value, bytes)
                if (
                    value
                    and level < self.limits.max_structure_depth
                    and not _printable(value)
                    and self.protobuf(value, where, chain, depth, level + 1)
                ):
                    continue
                self.leaf(value, where, chain, depth + 1)
        return True

    def leaf(self, value: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A value from a query, form, header or cookie: short tokens and text with spaces
        are scanned as they are (no blob, form or compressed stream looks like that)."""
        if b"%" not in value and (
            len(value) < self.limits.min_blob_len or (b" " in value and value[:1] not in b"{[" and _is_text(value))
        ):
            self.emit(value, loc, chain)
        else:
            self.content(value, loc, chain, depth)

    # -- transforms ------------------------------------------------------------------

    def unbase64(self, blob: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        urlsafe = b"-" in blob or b"_" in blob
        padded = blob + b"=" * (-len(blob.rstrip(b"=")) % 4)
        try:
            out = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(padded)
        except (binascii.Error, ValueError):
            return False
        if not self._worth_it(out):
            return False
        self.content(out, loc, (*chain, "base64url" if urlsafe else "base64"), depth + 1)
        return True

    def unhex(self, blob: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        out = bytes.fromhex(blob.decode("ascii"))
        if not self._worth_it(out):
            return False
        self.content(out, loc, (*chain, "hex"), depth + 1)
        return True

    @staticmethod
    def _worth_it(out: bytes) -> bool:
        """A decoded blob is kept when it is text, structure or a compressed stream."""
        if not out:
            return False
        if out[:2] == b"\x1f\x8b" or out[:4] == _ZSTD_MAGIC or _zlib_header(out):
            return True
        return _is_text(out)

    def inflate(self, data: bytes, wbits: int, name: str, quiet: bool = False) -> bytes | None:
        cap = self._cap(len(data))
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, cap)
        except zlib.error:
            if not quiet:
                self.anomaly(f"{name}-invalid")
            return None
        if d.unconsumed_tail:
            self.anomaly("decompression-limit")
        elif not d.eof and not quiet:
            self.anomaly(f"{name}-incomplete")
        return out

    def unzstd(self, data: bytes) -> bytes | None:
        import zstandard

        cap = self._cap(len(data))
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
            out = reader.read(cap + 1)
        except zstandard.ZstdError:
            self.anomaly("zstd-invalid")
            return None
        if len(out) > cap:
            self.anomaly("decompression-limit")
            out = out[:cap]
        return out

    def unbrotli(self, data: bytes) -> bytes | None:
        import brotli

        cap = self._cap(len(data))
        d = brotli.Decompressor()
        out = bytearray()
        try:
            for i in range(0, len(data), 256):  # small steps: each step's output is bounded
                out += d.process(data[i : i + 256])
                if len(out) > cap:
                    self.anomaly("decompression-limit")
                    return bytes(out[:cap])
        except brotli.error:
            self.anomaly("br-invalid")
            return None
        return bytes(out)

    def _cap(self, n_in: int) -> int:
        by_ratio = max(n_in * self.limits.max_compression_ratio, _MIN_INFLATE_ALLOWANCE)
        return max(0, min(self.limits.max_decompressed_bytes, by_ratio, self.budget))

    def transport(self, body: bytes, encoding: str) -> bytes:
        """Undo a declared Content-Encoding (not part of the disguise chain)."""
        for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
            out: bytes | None
            if enc in ("gzip", "x-gzip"):
                out = self.inflate(body, 31, "gzip", quiet=True) if body[:2] == b"\x1f\x8b" else None
            elif enc == "deflate":
                out = self.inflate(body, 15, "zlib", quiet=True) if _zlib_header(body) else None
                if out is None:
                    out = self.inflate(body, -15, "deflate", quiet=True)
            elif enc == "br":
                out = self.unbrotli(body)
            elif enc == "zstd":
                out = self.unzstd(body)
            elif enc == "identity":
                continue
            else:
                self.anomaly(f"content-encoding-unknown:{enc}")
                return body
            if out is None:
                self.anomaly(f"content-encoding-mismatch:{enc}")
                return body
            body = out
        return body


def _varint(data: bytes, i: int) -> tuple[int, int] | None:
    result = shift = 0
    n = len(data)
    while i < n and shift < 64:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
    return None


def _pb_fields(data: bytes) -> list[tuple[int, int, int | bytes]] | None:
    """Fields of a protobuf message if ``data`` walks cleanly to its end, else None."""
    fields: list[tuple[int, int, int | bytes]] = []
    i, n = 0, len(data)
    while i < n:
        key = _varint(data, i)
        if key is None:
            return None
        tag, i = key
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > 536_870_911:
            return None
        if wire == 0:
            v = _varint(data, i)
            if v is None:
                return None
            value, i = v
            fields.append((number, 0, value))
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            ln = _varint(data, i)
            if ln is None:
                return None
            length, i = ln
            if i + length > n:
                return None
            fields.append((number, 2, data[i : i + length]))
            i += length
        else:
            return None
        if i > n or len(fields) > 10_000:
            return None
    return fields or None


_MEDIA_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"\x1aE\xdf\xa3", b"ID3", b"OggS")


def _is_media(body: bytes, ctype: str) -> bool:
    """A photo, video or audio upload (by Content-Type or by magic number)."""
    ct = ctype.lower()
    if ct.startswith(("image/", "video/", "audio/")):
        return True
    return body.startswith(_MEDIA_MAGIC) or body[4:8] == b"ftyp" or (body[:4] == b"RIFF" and body[8:12] == b"WEBP")


def _unquote_plus(b: bytes) -> bytes:
    """Form decoding; most values hold no escapes, and urllib's decoder is slow Python."""
    b = b.replace(b"+", b" ")
    return unquote_to_bytes(b) if b"%" in b else b


def _split_query(query: str) -> list[tuple[str, bytes]]:
    out = []
    for pair in re.split(r"[&;]", query):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        name = unquote_to_bytes(k.replace("+", " ")).decode("utf-8", "replace")
        out.append((name, unquote_to_bytes(v.replace("+", " "))))
    return out


def decode_request(record: RequestRecord, limits: Limits = DEFAULT_LIMITS) -> DecodedRequest:
    """All views of one request, URL first, then headers and cookies, then the body."""
    d = _Decoder(limits)
    truncated = False
    try:
        path, _, query = record.path.partition("?")
        d.emit(unquote_to_bytes(path), "url.path", ())
        if query:
            for name, value in _split_query(query):
                d.leaf(value, f"url.query:{name}", (), 0)
        for name, value in record.headers:
            if name.lower() == "cookie":
                for part in value.split(";"):
                    k, _, v = part.strip().partition("=")
                    if v:
                        d.leaf(v.encode("latin-1", "replace"), f"cookie:{k}", (), 0)
            else:
                d.leaf(value.encode("latin-1", "replace"), f"header:{name}", (), 0)
        body = record.body
        if record.body_truncated:
            d.anomaly("body-incomplete")
        if len(body) > limits.max_body_scan_bytes:
            body = body[: limits.max_body_scan_bytes]
            truncated = True
            d.anomaly("body-scan-truncated")
        if body:
            encoding = record.header("content-encoding")
            if encoding:
                body = d.transport(body, encoding)
            ctype = record.header("content-type") or ""
            if len(body) > limits.max_media_scan_bytes and _is_media(body, ctype):
                body = body[: limits.max_media_scan_bytes]
                d.anomaly("media-prefix-scanned")
            d.content(body, "body", (), 0, ctype)
    except _Budget:
        pass
    except RecursionError:
        d.anomaly("recursion-limit")
    return DecodedRequest(tuple(d.views), tuple(d.anomalies), truncated)
