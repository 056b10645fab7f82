"""Decode a request into views: every place a value can hide, uncovered step by step.

Each decoder has a name (an element of the encoding chain), a cheap sniff and a bounded
decode; a decoder that fails never loses the text it was given (it is scanned as it is),
and malformed input becomes a named anomaly while decoding goes on. ``_Decoder.content``
holds the decoder list, tried in this order:

    compressed streams by magic (gzip, zstd, zlib) → JSON / JSON Lines → multipart →
    grpc / protobuf (by Content-Type) → form (by Content-Type, or sniffed) → hex / base64
    / base64url blobs → urlencode → protobuf and raw DEFLATE (unclaimed binary only) →
    the bytes themselves

What is emitted: a container that parses (JSON, form, multipart, protobuf, query) is not
scanned itself, its leaves are; a compressed stream that inflates is replaced by its
output, and so is percent-encoded text (the decoded text holds everything it did). A hex
or base64 blob is scanned as it is AND decoded: the blob may itself be the value (an md5
hex), and its decoded child is where a disguised value shows.

Where: the first structure joins its base place with "." (``body.json:$.d``,
``body.form:data``), deeper ones with ">" (``url.query:d>json:$.imei``,
``body.jsonl:3>json:$.a``); a bare token sits at the place itself (``url.query``). How:
``chain`` lists the steps from the request to the view, outermost first; transforms
(gzip, base64, hex, urlencode…) and the structures that disguise text (json, protobuf)
appear in it, the structures that only name a place (query, header, cookie, form,
multipart, jsonl) do not, and neither does the declared Content-Encoding (transport).

JSON without escapes other than ``\\/`` (and Gson's HTML-safe ``\\u003d``…) holds every
value verbatim: it is scanned as one view whose paths are computed only where something
is found (``View.resolve``). Otherwise, or when one of its strings needs decoding, the
parsed document is walked: one view per string and number (numbers as sent), one per
object holding its keys (app lists are sent as keys), none for true/false/null.

A query or form decoded with ``grouped=True`` (what ``Scanner`` does) is one view per run
of pairs whose values need no decoding ('+' read as a space, no '%', nothing a sniff
would take up): the pairs as sent, names included, each match placed in its value (or
dropped, in a name) only on a hit (``PairsLocator``, ``View.piece_at``). The run counts
against the views and bytes limits as the views it stands for. Without it, each value is
a view of its own; both give the same findings.

Speed: most values are short tokens or plain words; ``_shape`` sorts them out with a few
C-level bytes methods before any sniff runs (a 1 KB JSON request decodes in about 40 µs).
All bounds come from ``Limits`` (``_limits.py``); ``DecodedRequest.anomalies`` names each
one hit. ``decode_request`` never raises.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import sub
from typing import Final
from urllib.parse import unquote_to_bytes

from . import _decoders_compress as _z
from . import _decoders_protobuf as _pb
from ._jsonpath import JsonLocator, json_key
from ._limits import DEFAULT_LIMITS, MAX_PROTOBUF_STEPS, MIN_INFLATE_ALLOWANCE, Limits
from ._record import RequestRecord
from ._view import PairsLocator, View

__all__ = ["DecodedRequest", "decode_request"]


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """The views of one request in a stable order (URL, headers, cookies, body) and the
    anomalies met, each named once (``content-encoding-mismatch:gzip``, ``views-limit``…).
    ``body_scan_truncated``: only the first ``Limits.max_body_scan_bytes`` were decoded."""

    views: tuple[View, ...]
    anomalies: tuple[str, ...] = ()
    body_scan_truncated: bool = False


# Character classes are checked with bytes.translate (deleting the class leaves nothing):
# on short tokens it is several times faster than a regex fullmatch.
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_HEXISH: Final = _HEX_DIGITS + b"-"  # md5, UUIDs, digits: values in their own right, never base64
_ALNUM: Final = bytes(c for c in range(128) if chr(c).isalnum())
_B64_STD: Final = _ALNUM + b"+/"
_B64_URL: Final = _ALNUM + b"-_"
_BLOBISH: Final = _ALNUM + b"+/=_-\r\n"  # base64, hex, and base64 wrapped in lines
#: first hex digits of byte pairs that can be UTF-8 text (0 too: tab, newline, CR)
_HEX_TEXT_HIGH: Final = b"023456789abcdefABCDEF"
_HEX_MAGIC_STARTS: Final = frozenset((b"1f", b"1F", b"28", *(b"%d8" % i for i in range(8))))
_PCT_RE: Final = re.compile(rb"%[0-9a-fA-F]{2}")
_FORM_KEY: Final = rb"[A-Za-z0-9_.\-\[\]%*]{1,64}"
#: a form sniffed without a Content-Type: two or more k=v pairs, name-like keys, no spaces
_FORM_RE: Final = re.compile(_FORM_KEY + rb"=[^&\s]*(?:&" + _FORM_KEY + rb"=[^&\s]*)+&?")
#: every non-empty pair opens with a name-like key, then "=" or its end (or a last "\n")
_FORM_PAIRS_RE: Final = re.compile(rb"&*(?:" + _FORM_KEY + rb"(?:=[^&]*|\n?)(?:&+|\Z))*")
_BOUNDARY_RE: Final = re.compile(r'boundary=(?:"([^"]+)"|([^\s;,]+))', re.I)
_PART_NAME_RE: Final = re.compile(r'(?:^|[;\s])name=(?:"([^"]*)"|([^\s;]+))', re.I)
_PART_TYPE_RE: Final = re.compile(r"^content-type:[ \t]*([^\r\n]+)", re.I | re.M)
_CTRL: Final = bytes(range(9)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
_TEXT_WS: Final = {9: None, 10: None, 13: None}
_BOM: Final = b"\xef\xbb\xbf"
#: escapes that leave JSON text valid when undone: org.json's "\/", Gson's HTML-safe set
_SAFE_ESCAPES: Final = (
    (b"\\u003d", b"="), (b"\\u0026", b"&"), (b"\\u003c", b"<"), (b"\\u003e", b">"), (b"\\u0027", b"'"),
    (b"\\u003D", b"="), (b"\\u003C", b"<"), (b"\\u003E", b">"),
)  # fmt: skip
_MEDIA_MAGIC: Final = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"\x1aE\xdf\xa3", b"ID3", b"OggS")

_new_view = tuple.__new__
#: CPython's C decoder of backslash escapes (undocumented: ``_unquote`` falls back to urllib without it)
_escape_decode = getattr(codecs, "escape_decode", None)
_json_decode = json.JSONDecoder().decode


@lru_cache(maxsize=8)
def _json_blobs(min_len: int) -> re.Pattern[bytes]:
    """JSON strings shaped like base64 or hex (``blob_child`` decides). The alphabet has no
    ':' or ',' while the gap between two strings always holds one, so a match never starts
    at a closing quote. (Finer alternatives here cost 6x more than this plus the check.)"""
    return re.compile(rb'"([A-Za-z0-9+/_-]{%d,}={0,2})"' % min_len)


#: JSON strings holding a k=v&… form ('=' and '&' never occur between strings)
_JSON_FORM_RE: Final = re.compile(rb'"([^"]*=[^"&]*&[^"]*)"')


#: What a value looks like to the sniffs (``_shape``)
_PLAIN: Final = 0  # nothing to decode: scanned as it is
_BLOB: Final = 1  # base64 / hex alphabet only: scanned as it is, and tried as a blob
_OTHER: Final = 2  # anything else: through every sniff (``content``)


def _shape(value: bytes, min_len: int, text: bool = False) -> int:
    """Sort a value before the sniffs run: most are short tokens or plain words, and
    skipping ``content`` for them is most of the decoder's speed. ``text``: known text."""
    if b"%" in value:
        return _OTHER
    if len(value) < min_len:
        return _PLAIN
    if value[:1] in b"{[" or (b"=" in value and b"&" in value):
        return _OTHER
    if not value.translate(None, _BLOBISH):
        return _BLOB
    return _PLAIN if text or _is_text(value) else _OTHER


class _Budget(Exception):
    """Raised internally when the views or decoded-bytes budget is spent."""


class _Num(str):
    """A JSON number as its source text (39.908712 stays 39.908712, not a float)."""

    __slots__ = ()


def _is_text(data: bytes) -> bool:
    """Mostly printable UTF-8, at most one control character in 20 (sampled: bodies can
    be large)."""
    sample = data[:512]
    if not sample:
        return False
    if sample.isascii():
        return (len(sample) - len(sample.translate(None, _CTRL))) * 20 <= len(sample)
    text = sample.decode("utf-8", "replace")  # no exception: raising one costs more than this test
    if len(data) > len(sample):
        text = text.rstrip("\ufffd")  # a character cut by the sample's end
    if not text or "\ufffd" in text:
        return False
    if text.isprintable():
        return True
    bad = sum(1 for ch in text if not ch.isprintable() and ch not in "\t\n\r")
    return bad * 20 <= len(text)


def _all_printable(data: bytes) -> bool:
    """Entirely printable UTF-8 (tab and newlines allowed): a protobuf string, not a
    nested message, whose tag and length bytes are control characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.isprintable() or text.translate(_TEXT_WS).isprintable()


def _is_hex(blob: bytes) -> bool:
    return bool(blob) and not len(blob) & 1 and not blob.translate(None, _HEX_DIGITS)


def _b64_alphabet(blob: bytes) -> int:
    """0: not base64; 1: standard alphabet; 2: URL-safe ('-' or '_'). Padding optional."""
    core = blob.rstrip(b"=")
    if not core or len(blob) - len(core) > 2:
        return 0
    if not core.translate(None, _B64_STD):
        return 1
    return 2 if not core.translate(None, _B64_URL) else 0


def _hex_magic(blob: bytes) -> bool:
    """Hex text starting with a gzip, zstd or zlib header."""
    head = blob[:8].lower()
    return (head[1:2] == b"8" and head[:1] in b"01234567") or head[:4] == b"1f8b" or head == b"28b52ffd"


def _sbytes(s: str) -> bytes:
    """Header or URL text back to its bytes: readers decode them as latin-1 (byte exact),
    HAR gives Unicode. Never raises."""
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape")  # undoes a reader's surrogateescape decoding
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _unquote(b: bytes) -> bytes:
    """%XX decoding, as ``unquote_to_bytes``. urllib's is a Python loop over the escapes;
    ``codecs.escape_decode`` does the same in C once every '%' is a "\\x" (backslashes
    doubled first), and it refuses the whole text when an escape is invalid (``%zz``)."""
    if _escape_decode is not None:
        try:
            return _escape_decode(b.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
        except ValueError:
            pass
    return unquote_to_bytes(b)


def _unquote_plus(b: bytes) -> bytes:
    """Form decoding; most values hold no escapes, and urllib's decoder is slow Python."""
    if b"+" in b:
        b = b.replace(b"+", b" ")
    return _unquote(b) if b"%" in b else b


def _json_text(data: bytes) -> bytes | None:
    """``data`` with its safe escapes undone, or None when other escapes remain. Any
    ``\\\\`` leaves a backslash behind, so replacing ``\\/`` never splits an escape."""
    if b"\\" not in data:
        return data
    text = data.replace(b"\\/", b"/")
    if b"\\u00" in text:
        for esc, ch in _SAFE_ESCAPES:
            if esc in text:
                text = text.replace(esc, ch)
    return None if b"\\" in text else text


def _parse_json(data: bytes) -> tuple[bytes | None, object] | None:
    """(the text when escape-free, else None; the document) for a JSON object or array,
    None for other JSON values. Raises what ``json.loads`` raises."""
    text = _json_text(data)
    if text is not None and text[1:2] != b"\x00":  # no BOM or NUL: json.loads would decode it as UTF-8
        doc = _json_decode(text.decode("utf-8", "surrogatepass"))  # json.loads(text), less its overhead
    elif text is not None:
        doc = json.loads(text)  # only checked: numbers beyond 4300 digits make it invalid
    else:
        doc = json.loads(data, parse_int=_Num, parse_float=_Num, parse_constant=_Num)
    return (text, doc) if isinstance(doc, dict | list) else None


def _is_media(body: bytes, ctype: str) -> bool:
    """A photo, video or audio upload (by Content-Type or by magic number)."""
    if ctype.lower().startswith(("image/", "video/", "audio/")):
        return True
    return body.startswith(_MEDIA_MAGIC) or body[4:8] == b"ftyp" or (body[:4] == b"RIFF" and body[8:12] == b"WEBP")


class _Decoder:
    """One request's decoding state: views, anomalies and what is left of each budget."""

    __slots__ = (
        "anomalies", "budget", "extra_views", "grouped", "key_suffixes", "limits", "max_views", "min_len",
        "pb_steps", "views",
    )  # fmt: skip

    def __init__(self, limits: Limits, grouped: bool = False) -> None:
        self.limits = limits
        self.grouped = grouped
        self.views: list[View] = []
        #: views that grouped runs stand for beyond their own one (``_run``)
        self.extra_views = 0
        self.anomalies: list[str] = []
        self.budget = limits.max_decoded_bytes
        self.pb_steps = MAX_PROTOBUF_STEPS
        self.min_len = limits.min_blob_len
        self.max_views = limits.max_views
        self.key_suffixes: dict[str, str] = {}

    # -- bookkeeping ---------------------------------------------------------------

    def anomaly(self, name: str) -> None:
        if name not in self.anomalies:
            self.anomalies.append(name)

    def emit(self, data: bytes, location: str, chain: tuple[str, ...], resolve: JsonLocator | None = None) -> None:
        if not data:
            return
        if len(self.views) + self.extra_views >= self.max_views:
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

    def _cap(self, n_in: int) -> int:
        lim = self.limits
        by_ratio = max(n_in * lim.max_compression_ratio, MIN_INFLATE_ALLOWANCE)
        return min(lim.max_decompressed_bytes, by_ratio, self.budget)

    # -- request parts -----------------------------------------------------------------

    def url(self, target: str) -> None:
        path, _, query = target.partition("?")
        raw = _sbytes(path)
        self.emit(_unquote(raw) if b"%" in raw else raw, "url.path", ())
        if query:
            self.pairs(_sbytes(query), "url.query:", (), 0)

    def pairs(self, data: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
        """k=v&k=v (a query or form): each value at ``prefix + name``; a bare token, or
        padded base64 that "=" split, at the prefix's own place (``url.query``)."""
        if self.grouped:
            self.pairs_grouped(data, prefix, chain, depth)
        else:
            self.pairs_each(data, prefix, chain, depth)

    def pairs_each(self, data: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
        """``pairs``, one view per value."""
        for pair in data.split(b"&"):
            if pair:
                self.pair(pair, prefix, chain, depth)

    def pair(self, pair: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
        """One non-empty k=v (or bare token) of ``pairs``."""
        min_len = self.min_len
        k, eq, v = pair.partition(b"=")
        if not eq or (len(k) >= min_len and not v.strip(b"=") and _b64_alphabet(k)):
            self.value(pair, prefix[:-1], chain, depth)
            return
        if not v:
            return
        if b"%" in k or b"+" in k or not k.isascii():
            name = _unquote_plus(k).decode("utf-8", "replace")
        else:
            name = k.decode("ascii")
        if len(v) < min_len and b"%" not in v and b"+" not in v:  # most values: short tokens
            self.emit(v, prefix + name, chain)
        else:
            self.value(v, prefix + name, chain, depth)

    def pairs_grouped(self, data: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
        """``pairs`` with each run of plain pairs (values scanned as they are once '+' is a
        space) left as one view (``_run``): per-pair work was most of a query's decoding,
        so the pairs are measured with C-level maps and only long or escaped ones are
        looked at one by one. A pair that decodes further goes through ``pair``, in its place."""
        min_len = self.min_len
        parts = data.split(b"&")
        eqs = list(map(bytes.find, parts, repeat(b"=")))  # a name's length (-1: a bare token)
        ends = list(map(sub, map(len, parts), eqs))  # 1 + the value's length (a bare token's)
        if b"%" in data:
            odd = [i for i, p in enumerate(parts) if ends[i] > min_len or eqs[i] >= min_len or b"%" in p]
        elif max(ends) > min_len or max(eqs) >= min_len:
            odd = [i for i, end in enumerate(ends) if end > min_len or eqs[i] >= min_len]
        else:
            odd = []
        start = 0
        for i in odd:
            if self._plain_size(parts[i]) is None:
                self._run(data, parts, start, i, ends, prefix, chain, depth)
                self.pair(parts[i], prefix, chain, depth)  # never empty: an empty pair is plain
                start = i + 1
        self._run(data, parts, start, len(parts), ends, prefix, chain, depth)

    def _plain_size(self, pair: bytes) -> int | None:
        """Bytes of the one view ``pair`` would make of this pair as it is ('+' a space),
        0 for none; None when it makes anything else (a decoded value, a blob's child)."""
        if b"%" in pair:
            return None
        min_len = self.min_len
        k, eq, v = pair.partition(b"=")
        if not eq or (len(k) >= min_len and not v.strip(b"=") and _b64_alphabet(k)):
            return None  # a long bare token: rare, left to ``pair``
        if len(v) < min_len:
            return len(v)
        if b"+" not in v:
            shape = _shape(v, min_len)
            return None if shape == _OTHER or (shape == _BLOB and self.blob_child(v) is not None) else len(v)
        # words joined by '+': with spaces in it, ``_shape`` finds no blob, only text or not
        if v[:1] in b"{[" or not _is_text(v.replace(b"+", b" ")):
            return None
        if not (v.islower() or v.isupper()) and self.blob_child(v) is not None:
            return None  # base64 sent with its '+' unescaped (``value``)
        return len(v)

    def _run(
        self, data: bytes, parts: list[bytes], start: int, stop: int, ends: list[int], prefix: str,
        chain: tuple[str, ...], depth: int,
    ) -> None:
        """One view for the plain pairs ``parts[start:stop]`` of ``data``, standing for the views
        ``pairs_each`` would emit: they count against the limits as those would, and where
        a limit would stop inside the run, ``pairs_each`` does it."""
        lengths = ends[start:stop]
        n_views = stop - start - lengths.count(1)  # 1: an empty value, or an empty pair
        if n_views <= 0:
            return
        n_bytes = sum(lengths) - (stop - start)
        if stop - start < len(parts):
            data = b"&".join(parts[start:stop])
        if len(self.views) + self.extra_views + n_views > self.max_views or n_bytes > self.budget:
            self.pairs_each(data, prefix, chain, depth)  # raises _Budget where the limit falls
            return
        if b"+" in data:
            data = data.replace(b"+", b" ")
        self.views.append(_new_view(View, (data, prefix[:-1], chain, PairsLocator(data, prefix))))
        self.extra_views += n_views - 1
        self.budget -= n_bytes

    def cookies(self, header: str) -> None:
        for part in header.split(";"):
            k, eq, v = part.strip().partition("=")
            if not eq:
                if k:
                    self.leaf(_sbytes(k), "header:Cookie", (), 0)
                continue
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' == v[-1]:
                v = v[1:-1]
            if v:
                self.leaf(_sbytes(v), f"cookie:{k.strip()}", (), 0)

    def transport(self, body: bytes, encoding: str, cut: bool) -> bytes:
        """Undo a declared Content-Encoding (not part of the disguise chain). A label the
        body does not match is an anomaly; the body is then decoded as it is."""
        for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
            cap = self._cap(len(body))
            if enc == "identity":
                continue
            if enc in ("gzip", "x-gzip"):
                out, status = _z.inflate(body, 31, cap) if body[:2] == _z.GZIP_MAGIC else (b"", _z.INVALID)
            elif enc == "deflate":  # zlib-wrapped per RFC 9110, raw DEFLATE from many servers
                out, status = _z.inflate(body, 15, cap) if _z.zlib_header(body) else (b"", _z.INVALID)
                if status == _z.INVALID:
                    out, status = _z.inflate(body, -15, cap)
                    if status == _z.INCOMPLETE and not cut:
                        status = _z.INVALID  # raw DEFLATE has no header: garbage "decodes" a while
            elif enc == "br":
                out, status = _z.unbrotli(body, cap)
            elif enc == "zstd":
                out, status = _z.unzstd(body, cap) if body[:4] == _z.ZSTD_MAGIC else (b"", _z.INVALID)
            else:
                self.anomaly(f"content-encoding-unknown:{enc}")
                return body
            if status == _z.INVALID or (status == _z.INCOMPLETE and not out):
                self.anomaly(f"content-encoding-mismatch:{enc}")
                return body
            if status == _z.LIMIT:
                self.anomaly("decompression-limit")
            elif status == _z.INCOMPLETE and not cut:
                self.anomaly(f"{enc}-incomplete")
            body = out
        return body

    # -- the recursive decoder -------------------------------------------------------

    def value(self, raw: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A query or form value as sent: '+' is a space and %XX a byte. Base64 sent with
        its '+' unescaped would break on that, so it is also tried as it came, if its case
        is mixed as base64's is (words joined by '+' are mostly lower-case)."""
        self.leaf(_unquote_plus(raw), loc, chain, depth)
        if b"+" in raw and b"%" not in raw and len(raw) >= self.min_len and not (raw.islower() or raw.isupper()):
            self.unblob(raw, loc, chain, depth)

    def leaf(self, value: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A value from a query, form, header, cookie or protobuf string: plain text is
        scanned as it is, a blob as it is and decoded, anything else goes through
        every sniff."""
        shape = _shape(value, self.min_len)
        if shape == _OTHER:
            self.content(value, loc, chain, depth)
            return
        self.emit(value, loc, chain)
        if shape == _BLOB:
            self.unblob(value, loc, chain, depth)

    def content(
        self,
        data: bytes,
        loc: str,
        chain: tuple[str, ...],
        depth: int,
        ctype: str = "",
        text: bool = False,
        pb: bool = True,
    ) -> None:
        """Decode ``data`` as far as it goes; emit its leaves (or ``data`` itself). ``text``:
        the caller knows it is text (a JSON string), so binary sniffs are skipped; ``pb``:
        false when the caller already tried it as protobuf."""
        if not data:
            return
        if depth >= self.limits.max_decode_depth:
            self.anomaly("decode-depth-exceeded")
            self.emit(data, loc, chain)
            return
        b0 = data[0]
        if not text and (b0 == 0x1F or b0 == 0x28 or b0 & 0x0F == 8) and self.decompressed(data, loc, chain, depth):
            return
        first = data[:1]
        if first in b"{[ \t\r\n\xef":
            doc = data.lstrip(b" \t\r\n")
            if doc[:3] == _BOM:
                doc = doc[3:].lstrip(b" \t\r\n")
            if doc[:1] in (b"{", b"[") and self.json(doc, loc, chain, depth, ctype):
                return
        if ctype:
            ct = ctype.lower()
            if ct.startswith("multipart/") and self.multipart(data, ctype, loc, chain, depth):
                return
            if ct.startswith("application/grpc") and self.grpc(data, loc, chain, depth):
                return
            if "protobuf" in ct and self.protobuf(data, loc, chain, depth):
                return
            if "x-www-form-urlencoded" in ct and self.form(data, loc, chain, depth):
                return
        if b"=" in data[:256] and b"&" in data and _FORM_RE.fullmatch(data) and self.form(data, loc, chain, depth):
            return
        n = len(data)
        if n >= self.min_len and n <= self.budget and (first.isalnum() or first in b"+/-_ \t\r\n"):
            blob = data.strip()
            if (
                _b64_alphabet(blob)  # hex digits are base64 characters too
                or (b"\n" in blob and _b64_alphabet(blob.translate(None, b"\r\n")))
            ):
                self.emit(data, loc, chain)  # the blob may itself be the value (an md5 hex)
                self.unblob(blob, loc, chain, depth)
                return
        if b"%" in data and _PCT_RE.search(data):
            self.content(_unquote(data), loc, (*chain, "urlencode"), depth + 1)
            return
        if not text and not _is_text(data):
            if pb and self.protobuf(data, loc, chain, depth):
                return
            if not ctype and self.raw_deflate(data, loc, chain, depth):
                return
        self.emit(data, loc, chain)

    # -- compressed streams -------------------------------------------------------------

    def decompressed(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """Compressed streams found by their magic, whatever the headers said."""
        if _z.gzip_header(data):
            name = "gzip"
            out, status = _z.inflate(data, 31, self._cap(len(data)))
        elif data[:4] == _z.ZSTD_MAGIC:
            name = "zstd"
            out, status = _z.unzstd(data, self._cap(len(data)))
        elif _z.zlib_header(data) and not _is_text(data[:64]):
            name = "zlib"
            out, status = _z.inflate(data, 15, self._cap(len(data)))
            if status == _z.INVALID or (status == _z.INCOMPLETE and not _is_text(out)):
                return False  # a 2-byte header is weak evidence: no anomaly for a miss
        else:
            return False
        if status == _z.INVALID:
            self.anomaly(f"{name}-invalid")
            return False
        if status == _z.LIMIT:
            self.anomaly("decompression-limit")
        elif status == _z.INCOMPLETE:
            self.anomaly(f"{name}-incomplete")
        self.content(out, loc, (*chain, name), depth + 1)
        return True

    def raw_deflate(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """Headerless DEFLATE, tried last on binary nothing else claimed: kept only when it
        inflates to text and ends cleanly (or runs long: a capture cut short). Random bytes
        "inflate" to a few bytes before failing, and those can look like text."""
        out, status = _z.inflate(data, -15, self._cap(len(data)))
        if status == _z.INVALID or (status == _z.INCOMPLETE and len(out) < 64) or not _is_text(out):
            return False
        if status == _z.LIMIT:
            self.anomaly("decompression-limit")
        self.content(out, loc, (*chain, "deflate"), depth + 1)
        return True

    # -- blobs --------------------------------------------------------------------------

    def blob_child(self, blob: bytes) -> tuple[bytes, str] | None:
        """What a hex or base64 blob decodes to, with the step's name, when that is text,
        structure or a compressed stream; None otherwise."""
        if _is_hex(blob):
            if blob[::2].translate(None, _HEX_TEXT_HIGH) and (
                blob[:2] not in _HEX_MAGIC_STARTS or not _hex_magic(blob)
            ):
                return None  # a byte below 0x20 that is no tab or newline: not text (md5s end here)
            out, step = bytes.fromhex(blob.decode("ascii")), "hex"
        else:
            if b"\n" in blob:  # MIME / Android Base64.DEFAULT wraps lines at 76 characters
                blob = blob.translate(None, b"\r\n")
            alphabet = _b64_alphabet(blob)
            if not alphabet or not blob.rstrip(b"=").translate(None, _HEXISH):
                return None
            padded = blob + b"=" * (-len(blob) % 4)
            try:
                out = base64.urlsafe_b64decode(padded) if alphabet == 2 else base64.b64decode(padded)
            except (binascii.Error, ValueError):
                return None
            step = "base64url" if alphabet == 2 else "base64"
        if not out:
            return None
        if _z.gzip_header(out) or out[:4] == _z.ZSTD_MAGIC:
            return out, step
        if _z.zlib_header(out):  # weak magic (1 in 496): only a stream that inflates to its end
            inflated, status = _z.inflate(out, 15, MIN_INFLATE_ALLOWANCE)
            if status == _z.OK or (status == _z.LIMIT and _is_text(inflated)):
                return out, step
        return (out, step) if _is_text(out) else None

    def unblob(self, blob: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """Decode a blob to its child view(s); the blob itself is the caller's to emit."""
        child = self.blob_child(blob)
        if child is None:
            return False
        self.content(child[0], loc, (*chain, child[1]), depth + 1)
        return True

    # -- containers --------------------------------------------------------------------

    def json(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        """A JSON object or array, or JSON Lines (log uploads: one document per line)."""
        try:
            parsed = _parse_json(data)
        except RecursionError:
            self.anomaly("json-depth-exceeded")
            return False
        except (ValueError, UnicodeDecodeError) as e:
            if (
                isinstance(e, json.JSONDecodeError)
                and e.msg == "Extra data"
                and self.json_lines(data, loc, chain, depth)
            ):
                return True
            if "json" in ctype.lower() or data.rstrip()[-1:] in (b"}", b"]"):
                self.anomaly("json-invalid")
            return False
        if parsed is None:
            return False
        self.json_doc(*parsed, loc, (*chain, "json"), depth)
        return True

    def json_lines(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """JSON Lines, each document at ``jsonl:<line number>``. All lines are parsed before
        anything is emitted, so a body that is no JSON Lines falls back whole; only a last
        line cut short (a truncated capture) is kept as text."""
        docs: list[tuple[int, tuple[bytes | None, object] | None, bytes]] = []
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                parsed = _parse_json(line) if line[:1] in (b"{", b"[") else None
            except (ValueError, UnicodeDecodeError, RecursionError):
                parsed = None
            if parsed is None and number < len(lines):
                return False
            docs.append((number, parsed, line))
        if sum(parsed is not None for _, parsed, _ in docs) < 2:
            return False
        chain = (*chain, "json")
        for number, parsed, line in docs:
            where = self.join(loc, "jsonl", str(number))
            if parsed is None:
                self.anomaly("json-invalid")
                self.emit(line, where, chain[:-1])
            else:
                self.json_doc(*parsed, where, chain, depth)
        return True

    def json_doc(self, text: bytes | None, doc: object, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """Emit a parsed document: whole when its text holds every value verbatim and none
        decodes further, else walked."""
        if text is not None and not self._needs_walk(text):
            base = self.join(loc, "json", "")
            self.emit(text, base + "$", chain, JsonLocator(text, base))
            return
        if text is not None:  # one of its strings decodes: walk (numbers as source text)
            doc = json.loads(text, parse_int=_Num, parse_float=_Num, parse_constant=_Num)
        self.walk(doc, self.join(loc, "json", "$"), chain, depth, 0)  # type: ignore[arg-type]

    def _needs_walk(self, text: bytes) -> bool:
        """Does any string of this escape-free JSON text decode to something more? (Outside
        strings JSON holds no '%', '=' or '&', so a search of the whole text is enough.)"""
        if b"%" in text and _PCT_RE.search(text):
            return True
        if b"&" in text and b"=" in text:
            for m in _JSON_FORM_RE.finditer(text):
                if _FORM_RE.fullmatch(m.group(1)):
                    return True
        blobs = _json_blobs(self.min_len).findall(text)
        return bool(blobs) and any(self.blob_child(raw) is not None for raw in blobs)

    def walk(self, node: dict | list, path: str, chain: tuple[str, ...], depth: int, level: int) -> None:
        """Emit a JSON container's strings and numbers in document order (numbers as their
        source text); an object's keys are one view of their own (app lists are often
        sent as keys: {"com.tencent.mm": "8.0"})."""
        if level > self.limits.max_structure_depth:
            self.anomaly("json-depth-exceeded")
            return
        is_dict = type(node) is dict
        if is_dict:
            if not node:
                return
            self.emit("\n".join(node).encode("utf-8", "surrogatepass"), path, chain)
            items = node.items()  # type: ignore[union-attr]
        else:
            items = enumerate(node)  # type: ignore[assignment]
        min_len = self.min_len
        max_views = self.max_views
        views = self.views
        suffixes = self.key_suffixes
        used = 0
        for key, value in items:
            kind = type(value)
            if kind is bool or value is None:
                continue
            if is_dict:
                suffix = suffixes.get(key)
                if suffix is None:  # keys repeat across a document's objects
                    suffix = suffixes[key] = f".{key}" if key.isascii() and key.isidentifier() else json_key("", key)
                where = path + suffix
            else:
                where = f"{path}[{key}]"
            if kind is dict or kind is list:
                self.walk(value, where, chain, depth, level + 1)
                continue
            if not value:
                continue
            raw = value.encode("utf-8", "surrogatepass")
            shape = _shape(raw, min_len, True) if kind is str and (len(raw) >= min_len or b"%" in raw) else _PLAIN
            if shape == _OTHER:
                self.content(raw, where, chain, depth + 1, text=True)
                continue
            # numbers and plain text: scanned as they are (blobs too, then decoded)
            if len(views) + self.extra_views >= max_views:
                self.anomaly("views-limit")
                raise _Budget
            used += len(raw)
            views.append(_new_view(View, (raw, where, chain, None)))
            if shape == _BLOB:
                self.unblob(raw, where, chain, depth + 1)
        self.budget -= used
        if self.budget < 0:
            self.anomaly("decoded-bytes-limit")
            raise _Budget

    def form(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        # a Content-Type can claim a form for any body: only name-like keys count
        if not data.strip(b"&") or not _FORM_PAIRS_RE.fullmatch(data):
            return False
        self.pairs(data, self.join(loc, "form", ""), chain, depth + 1)
        return True

    def multipart(self, data: bytes, ctype: str, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        m = _BOUNDARY_RE.search(ctype)
        if not m:
            self.anomaly("multipart-invalid")
            return False
        parts = data.split(b"--" + (m.group(1) or m.group(2)).encode("latin-1", "replace"))
        if len(parts) < 2 or (len(parts) == 2 and not parts[1].strip()):
            self.anomaly("multipart-invalid")
            return False
        for i, part in enumerate(parts[1:]):
            if part.startswith(b"--"):
                break
            head, sep, body = part.partition(b"\r\n\r\n")
            if not sep:
                head, sep, body = part.partition(b"\n\n")
            if body.endswith(b"\r\n"):
                body = body[:-2]
            elif body.endswith(b"\n"):
                body = body[:-1]
            headers = head.decode("latin-1")
            nm = _PART_NAME_RE.search(headers)
            name = (nm.group(1) if nm.group(1) is not None else nm.group(2)) if nm else str(i)
            pt = _PART_TYPE_RE.search(headers)
            self.content(body, self.join(loc, "multipart", name), chain, depth + 1, pt.group(1) if pt else "")
        return True

    def grpc(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """gRPC framing: 1 flag byte, 4-byte length, message; each message is protobuf."""
        messages = []
        i, n = 0, len(data)
        while i + 5 <= n and data[i] in (0, 1):
            end = i + 5 + int.from_bytes(data[i + 1 : i + 5], "big")
            if end > n:
                break
            messages.append(data[i + 5 : end])
            i = end
        if i != n or not messages:
            return False
        for message in messages:
            self.content(message, loc, chain, depth, "application/x-protobuf")
        return True

    def protobuf(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int, level: int = 0) -> bool:
        if self.pb_steps <= 0:
            self.anomaly("protobuf-limit")
            return False
        fields = _pb.walk(data, min(_pb.MAX_FIELDS, self.pb_steps))
        self.pb_steps -= len(fields) if fields is not None else min(len(data) // 2 + 1, _pb.MAX_FIELDS)
        if fields is None:
            return False
        if level:
            prefix = f"{loc}."
        else:
            prefix = self.join(loc, "protobuf", "")
            chain = (*chain, "protobuf")
        for number, wire, value in fields:
            where = f"{prefix}{number}"
            if wire == _pb.VARINT:
                self.emit(str(value).encode(), where, chain)
                continue
            assert isinstance(value, bytes)
            if not value:
                continue
            if _all_printable(value):
                self.leaf(value, where, chain, depth + 1)
                continue
            if level >= self.limits.max_structure_depth:
                self.anomaly("protobuf-depth-exceeded")
            elif self.protobuf(value, where, chain, depth, level + 1):
                continue
            self.content(value, where, chain, depth + 1, pb=False)
        return True


def decode_request(record: RequestRecord, limits: Limits = DEFAULT_LIMITS, *, grouped: bool = False) -> DecodedRequest:
    """All views of one request: URL, headers in order, cookies, then the body. Never
    raises: whatever a limit or a fault stops, the views made until then are kept.

    ``grouped`` (what ``Scanner`` uses): each run of query or form values that need no
    decoding is one view, located on demand (``View.piece_at``), instead of one view per
    value; the matcher finds the same things either way, for less work per pair."""
    d = _Decoder(limits, grouped)
    truncated = False
    try:
        d.url(record.path)
        ctype = encoding = None
        cookies = []
        min_len = limits.min_blob_len
        for name, value in record.headers:
            lname = name.lower()
            if lname == "cookie":
                cookies.append(value)
                continue
            if lname == "content-type" and ctype is None:
                ctype = value
            elif lname == "content-encoding" and encoding is None:
                encoding = value
            raw = _sbytes(value)
            if len(raw) < min_len and b"%" not in raw:  # most headers: short tokens
                d.emit(raw, "header:" + name, ())
            else:
                d.leaf(raw, "header:" + name, (), 0)
        for value in cookies:
            d.cookies(value)
        body = record.body
        if record.body_truncated:
            d.anomaly("body-incomplete")
        if len(body) > limits.max_body_scan_bytes:
            body = body[: limits.max_body_scan_bytes]
            truncated = True
            d.anomaly("body-scan-truncated")
        if body:
            if encoding:
                body = d.transport(body, encoding, record.body_truncated or truncated)
            ctype = ctype or ""
            if len(body) > limits.max_media_scan_bytes and _is_media(body, ctype):
                body = body[: limits.max_media_scan_bytes]
                d.anomaly("media-prefix-scanned")
            d.content(body, "body", (), 0, ctype)
    except _Budget:
        pass
    except RecursionError:
        d.anomaly("recursion-limit")
    except Exception as e:  # a decoder bug must not cost the request its other views
        d.anomaly(f"decoder-error:{type(e).__name__}")
    return DecodedRequest(tuple(d.views), tuple(d.anomalies), truncated)
