"""HAR 1.2 files (browsers, Charles, Insomnia, HTTP Toolkit, mitmproxy's export) as records.

HAR stores request bodies decoded (``postData.text``), so a declared Content-Encoding no
longer describes the body: it is dropped from the record's headers rather than reported
as a lying header.

Read as a stream (``_jsonstream``): ``log.entries`` is walked entry by entry, so memory
holds one entry whatever the file size (the whole-document ``json.load`` held the file
twice and reserved a 2 GiB read buffer on every call), and a file cut short still yields
every complete entry, then one ``CaptureError`` at the offset of the entry it cut. A
malformed entry does not stop the others: every good entry is yielded, then one
CaptureError names the first bad entry.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO
from urllib.parse import urlencode, urlsplit

from consentscope.detectors import DEFAULT_LIMITS, Limits, RequestRecord

from . import _magic
from ._base import CaptureError, CaptureItem, Contact
from ._jsonstream import JsonStream, JsonStreamError
from ._open import open_maybe_compressed


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


_BINARY_HINT = re.compile(r"[\x00-\x08\x0e-\x1f]")


def _text_bytes(text: str) -> bytes:
    """Bytes of a ``postData.text``. Exporters (mitmproxy's among them) write binary bodies
    as one character per byte; such text, with control characters and nothing beyond
    U+00FF, goes back to its bytes instead of being re-encoded as UTF-8."""
    if _BINARY_HINT.search(text):
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "surrogateescape")


def _body(request: dict) -> bytes:
    post = request.get("postData") or {}
    text = post.get("text")
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64" or post.get("_encoding") == "base64":
            return base64.b64decode(text, validate=False)
        return _text_bytes(text)
    params = post.get("params")
    if isinstance(params, list) and params:
        return urlencode([(p.get("name", ""), p.get("value", "")) for p in params if isinstance(p, dict)]).encode()
    return b""


def entry_to_record(entry: dict, index: int) -> CaptureItem:
    request = entry["request"]
    url = urlsplit(request["url"])
    host = (url.hostname or "").lower()
    if not host:
        raise ValueError(f"request URL has no host: {request['url'][:100]!r}")
    method = str(request.get("method", "GET")).upper()
    t = _time(entry["startedDateTime"])
    server_ip = str(entry.get("serverIPAddress") or "") or None  # a record takes text only
    if method == "CONNECT":
        return Contact(t, host, server_ip, url.port, "http-connect", None, f"har:{index}")
    headers = tuple(
        (str(h["name"]), str(h.get("value", "")))
        for h in request.get("headers") or []
        if isinstance(h, dict) and "name" in h
        and not str(h["name"]).startswith(":") and str(h["name"]).lower() != "content-encoding"
    )
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return RequestRecord(
        flow_id=str(entry.get("_id") or f"har:{index}"),
        time=t,
        method=method,
        scheme=url.scheme or "http",
        host=host,
        port=url.port or (443 if url.scheme == "https" else 80),
        path=path,
        headers=headers,
        body=_body(request),
        server_ip=server_ip,
        http_version=str(request.get("httpVersion") or "HTTP/1.1"),
    )


class _Zlib(io.RawIOBase):
    """mitmproxy's ``.zhar`` (a zlib stream), inflated as it is read, one chunk at a time."""

    def __init__(self, path: str, fh: BinaryIO) -> None:
        self._path, self._fh = path, fh
        self._z = zlib.decompressobj()
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = n if n > 0 else 1 << 20
        out = b""
        try:
            while not out:
                if self._z.unconsumed_tail:
                    out = self._z.decompress(self._z.unconsumed_tail, n)
                    continue
                if self._z.eof:
                    return b""
                data = self._fh.read(1 << 16)
                if not data:
                    out = self._z.flush()
                    if not out and not self._z.eof:
                        raise CaptureError(self._path, "zlib-compressed HAR is truncated", self._pos)
                    break
                out = self._z.decompress(data, n)
        except zlib.error as e:
            raise CaptureError(self._path, f"zlib-compressed HAR is corrupt: {e}", self._pos) from None
        self._pos += len(out)
        return out


def _open(path: str) -> BinaryIO:
    fh = open_maybe_compressed(path)
    head = fh.read(2)
    rest = _Prefixed(head, fh)
    if _magic.is_zlib(head):
        return _Zlib(path, rest)  # type: ignore[arg-type, return-value]
    return rest  # type: ignore[return-value]


class _Prefixed(io.RawIOBase):
    """A stream with a few bytes already read put back in front (the sniffed magic)."""

    def __init__(self, head: bytes, fh: BinaryIO) -> None:
        self._head, self._fh = head, fh

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._fh.read(n)

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def iter_har(
    path: str, limits: Limits = DEFAULT_LIMITS, anomalies: dict[str, int] | None = None,
) -> Iterator[CaptureItem]:
    """Items of a HAR file, entry by entry: memory holds one entry, not the file.

    Every complete entry is yielded as soon as it is read. A file cut short (or broken
    JSON between entries) ends with ``CaptureError`` at the offset of the first entry
    that could not be read; an entry that parses but is no request is skipped, counted as
    "har-entry-malformed" in ``anomalies`` (when given), and the first is named at the end."""
    with _open(path) as fh:
        js = JsonStream(fh, limits.max_har_depth, limits.max_json_number_chars, limits.max_har_entry_bytes)
        walk = _HarWalk(path, js, anomalies)
        try:
            yield from walk.items()
        except JsonStreamError as e:
            raise CaptureError(path, ("" if e.truncated else "not valid JSON: ") + e.message, e.offset) from None
    if walk.not_har is not None:
        raise CaptureError(path, walk.not_har, 0)
    if walk.first_error is not None:
        index, why, offset = walk.first_error
        raise CaptureError(path, f"entry #{index + 1} of {walk.count} is malformed ({why}); every other entry was read",
                           offset)


class _HarWalk:
    """The path to ``log.entries`` through a JSON document, other members validated and
    skipped."""

    def __init__(self, path: str, js: JsonStream, anomalies: dict[str, int] | None) -> None:
        self.path, self.js, self.anomalies = path, js, anomalies
        self.count = 0
        self.first_error: tuple[int, str, int] | None = None  # (index, why, offset)
        self.not_har: str | None = None
        self.seen_log = False

    def items(self) -> Iterator[CaptureItem]:
        js = self.js
        js.skip_bom(_magic.UTF8_BOM)
        if js.peek() != ord("{"):
            self._skip_value()
            self.not_har = _NOT_HAR
        else:
            yield from self._members(self._top_member)
        if not js.at_end():
            raise js.fail("Extra data")
        if not self.seen_log and self.not_har is None:
            self.not_har = _NOT_HAR

    def _members(self, member: Callable[[str], Iterator[CaptureItem]]) -> Iterator[CaptureItem]:
        js = self.js
        js.expect(b"{", "'{'")
        if js.peek() == ord("}"):
            js.i += 1
            return
        while True:
            name = js.key()
            js.expect(b":", "':' delimiter")
            yield from member(name)
            if js.expect(b",}", "',' delimiter") == ord("}"):
                return

    def _top_member(self, name: str) -> Iterator[CaptureItem]:
        if name != "log":
            self._skip_value()
        elif self.js.peek() == ord("{"):
            self.seen_log = True
            yield from self._members(self._log_member)
        else:
            self._skip_value()
            self.not_har = _NOT_HAR

    def _log_member(self, name: str) -> Iterator[CaptureItem]:
        if name != "entries":
            self._skip_value()
        elif self.js.peek() == ord("["):
            yield from self._entries()
        elif self._skip_value():  # null, false, {} ...: no entries, as `entries or []` had it
            self.not_har = '"log.entries" is not a list'

    def _entries(self) -> Iterator[CaptureItem]:
        js = self.js
        js.expect(b"[", "'['")
        if js.peek() == ord("]"):
            js.i += 1
            return
        while True:
            index = self.count
            self.count += 1
            js.skip_ws()
            start = js.offset()
            try:
                offset, text, problem = js.value()
            except JsonStreamError as e:
                if not e.truncated:
                    raise
                raise JsonStreamError(
                    f"truncated in entry #{index + 1} ({e.message}); the {index} entries before it were read",
                    start, True,
                ) from None
            item = self._entry(index, offset, text, problem)
            if item is not None:
                yield item
            if js.expect(b",]", "',' delimiter") == ord("]"):
                return

    def _entry(self, index: int, offset: int, text: bytes | None, problem: str | None) -> CaptureItem | None:
        if text is None:  # a bound broken: the entry is skipped unread, and the bound named
            self._bad(index, offset, str(problem), f"har-entry-{self.js.problem_kind or 'malformed'}")
            return None
        try:
            entry = json.loads(text.decode("utf-8", "replace"))
        except json.JSONDecodeError as e:
            self._bad(index, offset, f"not valid JSON: {e.msg}")
            return None
        try:
            return entry_to_record(entry, index)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            self._bad(index, offset, f"{type(e).__name__}: {e}")
            return None

    def _bad(self, index: int, offset: int, why: str, anomaly: str = "har-entry-malformed") -> None:
        """An entry skipped: ``anomaly`` counted ("har-entry-malformed", or the bound it broke:
        "har-entry-too-large", "har-entry-too-deep", "har-entry-number-too-long")."""
        if self.anomalies is not None:
            self.anomalies[anomaly] = self.anomalies.get(anomaly, 0) + 1
        if self.first_error is None:
            self.first_error = (index, why, offset)

    def _skip_value(self) -> object:
        """Skip (and validate) a value outside the entries; returns it when small."""
        offset, text, _problem = self.js.value()
        if text is None:
            return True
        try:
            return json.loads(text.decode("utf-8", "replace"))
        except json.JSONDecodeError as e:
            raise JsonStreamError(f"{e.msg} (in the value at byte {offset})", offset + e.pos) from None


_NOT_HAR = 'not a HAR file: no top-level "log" object'
