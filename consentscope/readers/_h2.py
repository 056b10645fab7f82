"""HTTP/2 requests from a decrypted client→server byte stream (RFC 9113), sans-IO.

Frames are parsed with ``hyperframe`` and header blocks decoded with ``hpack`` (both come
with mitmproxy), so the header list is the one mitmproxy's HTTP/2 layer would decode from
the same bytes: pseudo-headers split off, regular headers kept in order and as sent.

HPACK state is per connection and per direction: one header block that cannot be decoded
makes every later one undecodable, so an HPACK error stops the parse (``error`` says why);
requests completed before it are kept. The client's encoder may grow its dynamic table up to
the SETTINGS_HEADER_TABLE_SIZE the *server* advertised, so server frames can be fed too
(``feed_server``) and the largest advertised size (capped) is allowed; feeding the server
stream first is what ``h2_requests`` does.

Bounds: frame size (protocol maximum 2^24-1 unless lowered), header block size and decoded
header list size, body bytes kept per stream (the rest is counted as truncated), and the
number of open streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hpack
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Body bytes kept per request; the record says ``truncated`` beyond.
MAX_BODY = 16 * 1024 * 1024
#: Decoded header list size (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE sense), and the encoded
#: header block (HEADERS + CONTINUATION) kept while waiting for END_HEADERS.
MAX_HEADER_LIST = 256 * 1024
#: Largest HPACK dynamic table the client may be told to use.
MAX_TABLE_SIZE = 1024 * 1024
#: Streams open at once (headers seen, END_STREAM not yet).
MAX_OPEN_STREAMS = 1000
#: Largest frame accepted (the protocol allows 2^24-1 once SETTINGS_MAX_FRAME_SIZE says so).
MAX_FRAME = 2**24 - 1

_HEADER_TABLE_SIZE = 0x1


@dataclass(frozen=True, slots=True)
class H2Request:
    """One request: ``offset`` is where its HEADERS frame starts in the client plaintext."""

    stream_id: int
    method: str
    scheme: str
    authority: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    offset: int
    complete: bool = True  # END_STREAM seen

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


@dataclass(slots=True)
class _Stream:
    offset: int
    fields: list[tuple[bytes, bytes]]
    body: bytearray = field(default_factory=bytearray)
    truncated: bool = False


class H2RequestParser:
    """Feed client plaintext (``feed_client``) and optionally server plaintext
    (``feed_server``); completed requests come back from ``feed_client`` and ``close``."""

    def __init__(self, *, max_body: int = MAX_BODY, max_header_list: int = MAX_HEADER_LIST,
                 max_frame: int = MAX_FRAME, max_streams: int = MAX_OPEN_STREAMS) -> None:
        self.max_body, self.max_header_list, self.max_frame, self.max_streams = (
            max_body, max_header_list, max_frame, max_streams)
        self.decoder = hpack.Decoder(max_header_list_size=max_header_list)
        self.error: str | None = None
        self._buf = bytearray()
        self._pos = 0  # client plaintext offset of _buf[0]
        self._preface = False
        self._streams: dict[int, _Stream] = {}
        self._block: tuple[int, int, bytearray, bool] | None = None  # stream, offset, fragment, end_stream
        self._server = bytearray()
        self._server_preface_checked = False

    # ------------------------------------------------------------------ server side

    def feed_server(self, data: bytes) -> None:
        """Server frames: only SETTINGS_HEADER_TABLE_SIZE matters here."""
        self._server += data
        while len(self._server) >= 9:
            length = int.from_bytes(self._server[:3], "big")
            if length > self.max_frame:
                self._server = bytearray()
                return
            if len(self._server) < 9 + length:
                return
            typ, flags = self._server[3], self._server[4]
            body = bytes(self._server[9 : 9 + length])
            del self._server[: 9 + length]
            if typ == 0x4 and not flags & 0x1:  # SETTINGS, not an ACK
                for i in range(0, len(body) - 5, 6):
                    ident, value = int.from_bytes(body[i : i + 2], "big"), int.from_bytes(body[i + 2 : i + 6], "big")
                    if ident == _HEADER_TABLE_SIZE:
                        allowed = min(MAX_TABLE_SIZE, max(value, self.decoder.max_allowed_table_size))
                        self.decoder.max_allowed_table_size = allowed

    # ------------------------------------------------------------------ client side

    def feed_client(self, data: bytes) -> list[H2Request]:
        if self.error is not None:
            return []
        self._buf += data
        out: list[H2Request] = []
        try:
            self._parse(out)
        except (hpack.exceptions.HPACKError, hyperframe.exceptions.HyperframeError) as e:
            self._fail(type(e).__name__)
        except Exception as e:  # hostile bytes must never escape as an exception
            self._fail(type(e).__name__)
        return out

    def close(self) -> list[H2Request]:
        """Requests still open at the end of the stream (``complete=False``, ``truncated``)."""
        out = [self._request(sid, s, complete=False) for sid, s in sorted(self._streams.items())]
        self._streams.clear()
        return [r for r in out if r is not None]

    def _fail(self, why: str) -> None:
        self.error = why
        self._buf = bytearray()
        self._block = None

    def _parse(self, out: list[H2Request]) -> None:
        if not self._preface:
            if len(self._buf) < len(PREFACE):
                if not PREFACE.startswith(bytes(self._buf)):
                    self._fail("no-preface")
                return
            if not self._buf.startswith(PREFACE):
                self._fail("no-preface")
                return
            del self._buf[: len(PREFACE)]
            self._pos += len(PREFACE)
            self._preface = True
        while self.error is None and len(self._buf) >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(bytes(self._buf[:9])))
            if length > self.max_frame:
                self._fail("frame-too-large")
                return
            if len(self._buf) < 9 + length:
                return
            offset = self._pos
            body = bytes(self._buf[9 : 9 + length])
            del self._buf[: 9 + length]
            self._pos += 9 + length
            if self._block is not None and not isinstance(frame, hf.ContinuationFrame):
                self._fail("continuation-expected")
                return
            frame.parse_body(memoryview(body))
            self._frame(frame, offset, out)

    def _frame(self, frame: hf.Frame, offset: int, out: list[H2Request]) -> None:
        sid = frame.stream_id
        if isinstance(frame, hf.HeadersFrame):
            end_stream = "END_STREAM" in frame.flags
            self._block = (sid, offset, bytearray(frame.data), end_stream)
            if "END_HEADERS" in frame.flags:
                self._end_headers(out)
        elif isinstance(frame, hf.ContinuationFrame):
            if self._block is None or self._block[0] != sid:
                self._fail("unexpected-continuation")
                return
            self._block[2].extend(frame.data)
            if len(self._block[2]) > self.max_header_list:
                self._fail("header-block-too-large")
                return
            if "END_HEADERS" in frame.flags:
                self._end_headers(out)
        elif isinstance(frame, hf.DataFrame):
            s = self._streams.get(sid)
            if s is None:
                return  # DATA on a stream we never saw open (or already ended): nothing to attach to
            room = self.max_body - len(s.body)
            if len(frame.data) > room:
                s.truncated = True
            s.body += frame.data[: max(0, room)]
            if "END_STREAM" in frame.flags:
                self._finish(sid, out)
        elif isinstance(frame, hf.RstStreamFrame):
            s = self._streams.pop(sid, None)
            if s is not None:  # the request left the device even if it was then cancelled
                req = self._request(sid, s, complete=False)
                if req is not None:
                    out.append(req)

    def _end_headers(self, out: list[H2Request]) -> None:
        assert self._block is not None
        sid, offset, block, end_stream = self._block
        self._block = None
        fields = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(bytes(block), raw=True)]
        if sid in self._streams:  # trailers: the request's header list is already complete
            if end_stream:
                self._finish(sid, out)
            return
        if not fields or not any(k == b":method" for k, _ in fields):
            return  # not a request (or a malformed one): HPACK state was still updated above
        if len(self._streams) >= self.max_streams:
            self._fail("too-many-streams")
            return
        self._streams[sid] = _Stream(offset, fields)
        if end_stream:
            self._finish(sid, out)

    def _finish(self, sid: int, out: list[H2Request]) -> None:
        s = self._streams.pop(sid)
        req = self._request(sid, s, complete=True)
        if req is not None:
            out.append(req)

    @staticmethod
    def _request(sid: int, s: _Stream, *, complete: bool) -> H2Request | None:
        pseudo: dict[bytes, bytes] = {}
        headers = []
        for k, v in s.fields:
            if k.startswith(b":"):
                pseudo.setdefault(k, v)
            else:
                headers.append((k.decode("latin-1"), v.decode("latin-1")))
        method = pseudo.get(b":method", b"").decode("latin-1")
        return H2Request(
            stream_id=sid, method=method, scheme=pseudo.get(b":scheme", b"").decode("latin-1"),
            authority=pseudo.get(b":authority", b"").decode("latin-1"),
            path=pseudo.get(b":path", b"").decode("latin-1"), headers=tuple(headers), body=bytes(s.body),
            truncated=s.truncated or not complete, offset=s.offset, complete=complete,
        )


def h2_requests(client_plain: bytes, server_plain: bytes = b"", *, max_body: int = MAX_BODY,
                max_header_list: int = MAX_HEADER_LIST) -> tuple[list[H2Request], str | None]:
    """Every request of one decrypted HTTP/2 connection, and the parse error if one stopped it.

    Requests come in completion order (END_STREAM), then those never completed."""
    parser = H2RequestParser(max_body=max_body, max_header_list=max_header_list)
    parser.feed_server(server_plain)
    out = parser.feed_client(client_plain)
    out += parser.close()
    return out, parser.error
