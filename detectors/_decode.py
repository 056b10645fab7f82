"""Decode a request into views: every place a value can hide, uncovered step by step.

The walker (``_Walker``) holds one request's recursion, budgets and views; the decoders
are small modules, one per format, listed in order in ``_decoders.py`` (what a decoder
is: ``_dec_api.py``). For each piece of data the walker offers it to the decoders in
list order; the first whose cheap ``sniff`` accepts it and whose bounded ``decode``
claims it decides its views, and data no decoder claims is scanned as it is. A decoder
that fails (raises) costs nothing but an anomaly: the data it was given is scanned as it
is, and decoding goes on. Malformed input becomes a named anomaly.

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

Query strings and forms have one path, ``_pairs.pairs``: a run of pairs that need no
decoding is one view located on a hit (``PairsLocator``).

Speed: most values are short tokens or plain words; ``_sniff.shape`` sorts them out with
a few C-level bytes methods before any decoder is offered them (a 1 KB JSON request
decodes in about 40 µs). All bounds come from ``Limits`` (``_limits.py``);
``DecodedRequest.anomalies`` names each one hit. ``decode_request`` never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from . import _compress as _z
from ._adapters import Adapter, apply, first_match
from ._dec_api import Budget, Decoder
from ._decoders import BLOB_DECODERS, DECODERS
from ._limits import DEFAULT_LIMITS, Limits
from ._pairs import pairs
from ._record import RequestRecord
from ._sniff import B_NL, B_PCT, BLOB, BLOB_FIRSTS, OTHER, b64_alphabet, is_text, sbytes, shape, unquote
from ._view import View

__all__ = ["DecodedRequest", "decode_request"]


@dataclass(frozen=True, slots=True)
class DecodedRequest:
    """The views of one request in a stable order (URL, headers, cookies, body) and the
    anomalies met, each named once (``content-encoding-mismatch:gzip``, ``views-limit``…).
    ``body_scan_truncated``: only the first ``Limits.max_body_scan_bytes`` were decoded.
    ``unscanned``: the part of the request a limit left unscanned, named for the report
    ("everything after body.form:k19997 (views-limit)"), empty when all was scanned."""

    views: tuple[View, ...]
    anomalies: tuple[str, ...] = ()
    body_scan_truncated: bool = False
    unscanned: str = ""


_MEDIA_MAGIC: Final = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"\x1aE\xdf\xa3", b"ID3", b"OggS")
_new_view = tuple.__new__


def _is_media(body: bytes, ctype: str) -> bool:
    """A photo, video or audio upload (by Content-Type or by magic number)."""
    if ctype.lower().startswith(("image/", "video/", "audio/")):
        return True
    return body.startswith(_MEDIA_MAGIC) or body[4:8] == b"ftyp" or (body[:4] == b"RIFF" and body[8:12] == b"WEBP")


#: a decoder with its methods bound once (binding them per call was measurable); no sniff
#: when its first bytes decide (``firsts_decide``)
_Step = tuple[Decoder, Callable[..., bool] | None, Callable[..., bool]]


@lru_cache(maxsize=32)
def _plans(text: bool, declared: bool, skip: Decoder | None = None) -> tuple[tuple[_Step, ...], ...]:
    """The decoders offered a piece of data, by its first byte: binary ones not for known
    text, declared ones only under a Content-Type, never the one the caller already ran
    (``skip``), and only those whose ``firsts`` hold that byte. Choosing a plan is two
    lookups, and the walker calls no sniff that cannot accept the data: on typical API
    calls this keeps the list as fast as the hand-ordered checks it replaced."""
    usable = [d for d in DECODERS if not (text and d.binary) and (declared or not d.declared) and d is not skip]
    steps = [(d, None if getattr(d, "firsts_decide", False) else d.sniff, d.decode) for d in usable]
    return tuple(tuple(s for s in steps if s[0].firsts is None or b in s[0].firsts) for b in range(256))


#: the blob decoders' ``unwrap``, bound once: ``blob_child`` is the hottest call in JSON
#: batches (one per blob-shaped string)
_UNWRAPS: Final = tuple(d.unwrap for d in BLOB_DECODERS)

_BARE: Final = _plans(False, False)
_DECLARED: Final = _plans(False, True)
_TEXT: Final = _plans(True, False)


#: Blobs (at most ``_NOT_BLOB_LEN`` bytes) known to decode to nothing (``blob_child``: None
#: whatever the limits), kept across requests: an SDK sends the same ids and digests in
#: every request, each a hex or base64 look-alike that every blob decoder must first
#: refuse. At most ``_NOT_BLOBS_KEPT`` of them (about 1 MB), forgotten all at once when full.
_NOT_BLOBS: Final[dict[bytes, bool]] = {}
_NOT_BLOB_LEN: Final = 256
_NOT_BLOBS_KEPT: Final = 4096


def _not_blob(blob: bytes) -> None:
    if len(blob) <= _NOT_BLOB_LEN:
        if len(_NOT_BLOBS) >= _NOT_BLOBS_KEPT:
            _NOT_BLOBS.clear()
        _NOT_BLOBS[blob] = True


class _Walker:
    """One request's decoding state: views, anomalies and what is left of each budget."""

    __slots__ = (
        "_binary", "_binary_of", "anomalies", "budget", "extra_views", "key_suffixes", "limits", "max_views", "min_len",
        "pb_steps", "views",
    )  # fmt: skip

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.views: list[View] = []
        #: views that runs of query/form pairs stand for beyond their own one (``_pairs``)
        self.extra_views = 0
        self.anomalies: list[str] = []
        self.budget = limits.max_decoded_bytes
        self.pb_steps = limits.max_protobuf_steps
        self.min_len = limits.min_blob_len
        self.max_views = limits.max_views
        #: JSONPath suffixes of object keys, built once per key (``_dec_json``)
        self.key_suffixes: dict[str, str] = {}
        self._binary_of: bytes | None = None
        self._binary = False

    # -- bookkeeping ---------------------------------------------------------------

    def anomaly(self, name: str) -> None:
        if name not in self.anomalies:
            self.anomalies.append(name)

    def emit(self, data: bytes, location: str, chain: tuple[str, ...], resolve: object = None) -> None:
        """Add a view, charged to the views and decoded-bytes budgets (``Budget`` when spent)."""
        if not data:
            return
        if len(self.views) + self.extra_views >= self.max_views:
            self.anomaly("views-limit")
            raise Budget
        self.budget -= len(data)
        if self.budget < 0:
            self.anomaly("decoded-bytes-limit")
            raise Budget
        self.views.append(_new_view(View, (data, location, chain, resolve)))

    @staticmethod
    def join(location: str, kind: str, path: str) -> str:
        return f"{location}{'>' if ':' in location else '.'}{kind}:{path}"

    def cap(self, n_in: int) -> int:
        """Output one decompression of ``n_in`` bytes may produce: the size, ratio and
        decoded-bytes bounds, whichever is lowest."""
        lim = self.limits
        by_ratio = max(n_in * lim.max_compression_ratio, lim.min_inflate_allowance)
        return min(lim.max_decompressed_bytes, by_ratio, self.budget)

    def inflated(
        self, name: str, out: bytes, status: str, loc: str, chain: tuple[str, ...], depth: int
    ) -> bool:
        """A compressed stream's outcome: decoded further when anything came out of it
        (cut or capped output is named), False when it was no such stream."""
        if status == _z.INVALID:
            self.anomaly(f"{name}-invalid")
            return False
        if status == _z.LIMIT:
            self.anomaly("decompression-limit")
        elif status == _z.INCOMPLETE:
            self.anomaly(f"{name}-incomplete")
        self.content(out, loc, (*chain, name), depth + 1)
        return True

    # -- request parts -----------------------------------------------------------------

    def url(self, target: str) -> None:
        path, _, query = target.partition("?")
        raw = sbytes(path)
        self.emit(unquote(raw) if B_PCT in raw else raw, "url.path", ())
        if query:
            pairs(self, sbytes(query), "url.query:", (), 0)

    def cookies(self, header: str) -> None:
        for part in header.split(";"):
            k, eq, v = part.strip().partition("=")
            if not eq:
                if k:
                    self.leaf(sbytes(k), "header:Cookie", (), 0)
                continue
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' == v[-1]:
                v = v[1:-1]
            if v:
                self.leaf(sbytes(v), f"cookie:{k.strip()}", (), 0)

    def transport(self, body: bytes, encoding: str, cut: bool) -> bytes:
        """Undo a declared Content-Encoding (not part of the disguise chain). A label the
        body does not match is an anomaly; the body is then decoded as it is."""
        for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
            cap = self.cap(len(body))
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
                out, status = _z.unbrotli(body, cap, self.limits.brotli_step)
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

    # -- the recursion ---------------------------------------------------------------

    def leaf(self, value: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A value from a query, form, header, cookie or protobuf string: plain text is
        scanned as it is, a blob as it is and decoded, anything else goes through the
        decoders."""
        kind = shape(value, self.min_len)
        if kind == OTHER:
            self.content(value, loc, chain, depth)
            return
        self.emit(value, loc, chain)
        if kind == BLOB:
            self.unblob(value, loc, chain, depth)

    def content(
        self,
        data: bytes,
        loc: str,
        chain: tuple[str, ...],
        depth: int,
        ctype: str = "",
        text: bool = False,
        skip: Decoder | None = None,
    ) -> None:
        """Decode ``data`` as far as it goes; emit its leaves (or ``data`` itself). ``text``:
        the caller knows it is text (a JSON string), so binary decoders are skipped;
        ``skip``: a decoder the caller already ran on ``data``."""
        if not data:
            return
        if depth >= self.limits.max_decode_depth:
            self.anomaly("decode-depth-exceeded")
            self.emit(data, loc, chain)
            return
        if skip is not None:
            plans = _plans(text, ctype != "", skip)
        else:
            plans = _TEXT if text else _DECLARED if ctype else _BARE
        for dec, sniff, decode in plans[data[0]]:
            try:
                if (sniff is None or sniff(self, data, ctype)) and decode(self, data, loc, chain, depth, ctype):
                    return
            except (Budget, RecursionError):
                raise
            except Exception as e:  # a decoder's bug: its input is still scanned as it is
                self.anomaly(f"decoder-error:{dec.name}:{type(e).__name__}")
                break
        self.emit(data, loc, chain)

    def binary(self, data: bytes) -> bool:
        """Not text (``is_text``), for the decoders of binary, each of which asks in turn
        about the same bytes: on binary the test decodes its 512-byte sample, a few µs,
        so the last answer is kept."""
        if data is not self._binary_of:
            self._binary_of = data
            self._binary = not is_text(data)
        return self._binary

    # -- blobs --------------------------------------------------------------------------

    def blob_token(self, data: bytes) -> bytes | None:
        """``data`` stripped, when it is long enough and all base64 / hex alphabet (wrapped
        in lines or not): what the blob decoders sniff for."""
        n = len(data)
        if n < self.min_len or n > self.budget:
            return None
        if data[0] not in BLOB_FIRSTS:
            return None
        blob = data.strip()
        if b64_alphabet(blob) or (B_NL in blob and b64_alphabet(blob.translate(None, b"\r\n"))):
            return blob  # hex digits are base64 characters too
        return None

    def blob(self, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
        """A blob found by ``content``: scanned as it is (it may itself be the value, an md5
        hex), and decoded."""
        self.emit(data, loc, chain)
        self.unblob(data.strip(), loc, chain, depth)

    def blob_child(self, blob: bytes) -> tuple[bytes, str] | None:
        """What a hex or base64 blob decodes to, with the step's name, when that is text,
        structure or a compressed stream; None otherwise."""
        if blob in _NOT_BLOBS:
            return None
        for unwrap in _UNWRAPS:
            child = unwrap(blob)
            if child is not False:
                break
        if not child or not child[0]:  # None, or False from every blob decoder, or nothing
            _not_blob(blob)
            return None
        out = child[0]
        if _z.gzip_header(out) or out[:4] == _z.ZSTD_MAGIC:
            return child
        if _z.zlib_header(out):  # weak magic (1 in 496): only a stream that inflates to its end
            inflated, status = _z.inflate(out, 15, self.limits.min_inflate_allowance)
            if status == _z.OK or (status == _z.LIMIT and is_text(inflated)):
                return child
            return child if is_text(out) else None  # not remembered: the limits had a say
        if is_text(out):
            return child
        _not_blob(blob)
        return None

    def unblob(self, blob: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
        """Decode a blob to its child view(s); the blob itself is the caller's to emit."""
        child = self.blob_child(blob)
        if child is None:
            return False
        self.content(child[0], loc, (*chain, child[1]), depth + 1)
        return True


def decode_request(
    record: RequestRecord, limits: Limits = DEFAULT_LIMITS, adapters: Sequence[Adapter] = ()
) -> DecodedRequest:
    """All views of one request: URL, headers in order, cookies, then the body. Never
    raises: whatever a limit or a fault stops, the views made until then are kept.
    ``adapters``: SDK wire formats (``_adapters.py``); the first that matches the request
    undoes its steps on the body before the decoders see it."""
    return DecodedRequest(*decode_parts(record, limits, adapters))


def decode_parts(
    record: RequestRecord, limits: Limits, adapters: Sequence[Adapter]
) -> tuple[tuple[View, ...], tuple[str, ...], bool, str]:
    """``decode_request``'s fields, for the scanner: a frozen dataclass is no native class
    to mypyc, and its ``__init__`` ran interpreted for every request (2% of detection)."""
    d = _Walker(limits)
    truncated = False
    unscanned: list[str] = []
    try:
        d.url(record.path)
        first: dict[str, str] = {}  # each header's first value (``RequestRecord.header``)
        cookies = []
        min_len = limits.min_blob_len
        for name, value in record.headers:
            lname = name.lower()
            if lname not in first:
                first[lname] = value
            if lname == "cookie":
                cookies.append(value)
                continue
            raw = sbytes(value)
            if len(raw) < min_len and B_PCT not in raw:  # most headers: short tokens
                d.emit(raw, "header:" + name, ())
            else:
                d.leaf(raw, "header:" + name, (), 0)
        ctype = first.get("content-type")
        encoding = first.get("content-encoding")
        for value in cookies:
            d.cookies(value)
        body = record.body
        if record.body_truncated:
            d.anomaly("body-incomplete")
        if len(body) > limits.max_body_scan_bytes:
            body = body[: limits.max_body_scan_bytes]
            truncated = True
            d.anomaly("body-scan-truncated")
            unscanned.append(f"the body after byte {limits.max_body_scan_bytes:,} of {len(record.body):,} "
                             "(body-scan-truncated)")
        if body:
            if encoding:
                body = d.transport(body, encoding, record.body_truncated or truncated)
            ctype = ctype or ""
            if len(body) > limits.max_media_scan_bytes and _is_media(body, ctype):
                body = body[: limits.max_media_scan_bytes]
                d.anomaly("media-prefix-scanned")
            adapted = None
            adapter = first_match(adapters, record, first)
            if adapter is not None:
                adapted = apply(adapter, d, record, body)
                if adapted is None:
                    d.anomaly(f"adapter-failed:{adapter.name}")
            if adapted is not None:
                d.content(adapted[0], "body", adapted[1], len(adapted[1]), ctype)
            else:
                d.content(body, "body", (), 0, ctype)
    except Budget:  # views are made in request order: all after the last one went unscanned
        limit = next((a for a in reversed(d.anomalies) if a in _BUDGET_ANOMALIES), "limit")
        last = d.views[-1].location if d.views else ""
        unscanned.insert(0, f"everything after {last} ({limit})" if last else f"the whole request ({limit})")
    except RecursionError:
        d.anomaly("recursion-limit")
    except Exception as e:  # a bug outside the decoders must not cost the request its other views
        d.anomaly(f"decoder-error:{type(e).__name__}")
    return tuple(d.views), tuple(d.anomalies), truncated, "; ".join(unscanned)


#: the anomalies a spent budget (``Budget``) is raised with
_BUDGET_ANOMALIES: Final = ("views-limit", "decoded-bytes-limit")
