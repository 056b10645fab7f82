"""HTTP/2 request reassembly: real curl traffic decrypted from TLS, and hand-built frame
sequences for what curl does not send (padding, CONTINUATION, trailers, resets, bounds)."""

from __future__ import annotations

import random
from pathlib import Path

import hpack
import hyperframe.frame as hf
import pytest

from consentscope.readers._h2 import PREFACE, H2RequestParser, h2_requests
from consentscope.readers._keylog import KeyLog
from consentscope.readers._tlsdecrypt import decrypt_connection

from .tlsfixtures import CURL, HOST, IMEI_BODY, Relay, TlsServer, curl, make_cert, url

needs_curl = pytest.mark.skipif(CURL is None, reason="curl not installed (make debs installs it)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = TlsServer(*make_cert(tmp_path_factory.mktemp("cert")), h2_table_size=8192)
    yield srv
    srv.close()


@needs_curl
@pytest.mark.parametrize("tls", ["1.3", "1.2"])
def test_curl_h2_streams_match_what_the_server_received(server: TlsServer, tmp_path: Path, tls: str) -> None:
    relay = Relay(server.port)
    keylog = tmp_path / "keys.log"
    big = tmp_path / "big.bin"
    body = IMEI_BODY + b"&blob=" + bytes(random.Random(3).randbytes(30000)).hex().encode()  # > 3 DATA frames
    big.write_bytes(body)
    version = ["--tlsv1.3"] if tls == "1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    same = ["--http2", *version, "-H", "X-Device-Id: 861234567890123", "-H", "Cookie: session=abc"]
    args = [*same, url(relay.port, "/a?q=1"),
            "--next", "-k", *same, "--data-binary", f"@{big}", url(relay.port, "/upload"),
            "--next", "-k", *same, url(relay.port, "/c")]
    before = len(server.log.requests)
    p = curl(relay.port, keylog, args)
    relay.close()
    assert p.returncode == 0, p.stderr
    (c,) = relay.wait(1)
    r = decrypt_connection(bytes(c.client), bytes(c.server), KeyLog.from_sources(keylog))
    assert (r.decrypted, r.alpn, r.is_h2, r.version) == (True, "h2", True, f"TLSv{tls}")
    reqs, error = h2_requests(r.client_plain, r.server_plain)
    assert error is None
    assert [(q.stream_id, q.method, q.scheme, q.authority, q.path) for q in reqs] == [
        (1, "GET", "https", f"{HOST}:{relay.port}", "/a?q=1"),
        (3, "POST", "https", f"{HOST}:{relay.port}", "/upload"),
        (5, "GET", "https", f"{HOST}:{relay.port}", "/c"),
    ]
    seen = server.log.requests[before:]
    for q, (method, path, headers, got_body) in zip(reqs, seen, strict=True):
        assert (q.method, q.path, list(q.headers)) == (method, path, headers)
        assert q.body == got_body, (len(q.body), len(got_body))
    assert reqs[1].body == body and not reqs[1].truncated and reqs[1].header("x-device-id") == "861234567890123"
    # each request's HEADERS frame maps back to the TLS record (and so the packet) carrying it
    for q in reqs:
        off = r.stream_offset(True, q.offset)
        assert c.client[off] == 23


def _encoder_frames(encoder: hpack.Encoder, sid: int, headers, *, end_stream: bool, split: int = 0,
                    pad: int = 0) -> bytes:
    block = encoder.encode(headers)
    first, rest = (block[:split], block[split:]) if split else (block, b"")
    flags = ["END_STREAM"] if end_stream else []
    if not rest:
        flags.append("END_HEADERS")
    if pad:
        flags.append("PADDED")
    out = hf.HeadersFrame(sid, first, flags=flags, pad_length=pad).serialize()
    if rest:
        half = len(rest) // 2
        out += hf.ContinuationFrame(sid, rest[:half]).serialize()
        out += hf.ContinuationFrame(sid, rest[half:], flags=["END_HEADERS"]).serialize()
    return out


def _req(path: str, method: str = "POST", extra=()) -> list[tuple[str, str]]:
    return [(":method", method), (":scheme", "https"), (":authority", "api.example"), (":path", path),
            ("user-agent", "app/1.0"), *extra]


def test_padding_continuation_interleaving_trailers_and_reset() -> None:
    enc = hpack.Encoder()
    stream = PREFACE + hf.SettingsFrame(0, settings={hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20}).serialize()
    stream += _encoder_frames(enc, 1, _req("/one", extra=[("x-long", "v" * 3000)]), end_stream=False, split=100, pad=7)
    stream += _encoder_frames(enc, 3, _req("/two"), end_stream=False)
    stream += hf.DataFrame(3, b"imei=8612345", flags=["PADDED"], pad_length=20).serialize()
    stream += hf.DataFrame(1, b"first-body").serialize()
    stream += hf.DataFrame(3, b"67890123", flags=["END_STREAM"]).serialize()
    stream += _encoder_frames(enc, 1, [("x-trailer", "t")], end_stream=True)  # trailers end stream 1
    stream += _encoder_frames(enc, 5, _req("/cancelled", "GET"), end_stream=False)
    stream += hf.RstStreamFrame(5, error_code=8).serialize()
    stream += _encoder_frames(enc, 7, _req("/open", "PUT"), end_stream=False)
    stream += hf.DataFrame(7, b"partial").serialize()
    stream += hf.PingFrame(0, opaque_data=b"12345678").serialize()
    parser = H2RequestParser()
    done = []
    for i in range(0, len(stream), 13):  # fed in small slices
        done += parser.feed_client(stream[i : i + 13])
    done += parser.close()
    assert parser.error is None
    got = [(q.stream_id, q.method, q.path, q.body, q.complete, q.truncated) for q in done]
    assert got == [
        (3, "POST", "/two", b"imei=861234567890123", True, False),
        (1, "POST", "/one", b"first-body", True, False),
        (5, "GET", "/cancelled", b"", False, True),
        (7, "PUT", "/open", b"partial", False, True),
    ]
    one = done[1]
    assert one.header("x-long") == "v" * 3000 and one.header("x-trailer") is None
    assert one.headers[0] == ("user-agent", "app/1.0") and all(not k.startswith(":") for k, _ in one.headers)
    assert stream[one.offset + 3] == 0x1  # offset points at stream 1's HEADERS frame


def test_hpack_dynamic_table_is_reused_across_requests() -> None:
    enc = hpack.Encoder()
    first = _encoder_frames(enc, 1, _req("/a", extra=[("x-device-id", "861234567890123")]), end_stream=True)
    second = _encoder_frames(enc, 3, _req("/a", extra=[("x-device-id", "861234567890123")]), end_stream=True)
    assert len(second) < len(first) - 20  # the second refers to the table
    reqs, error = h2_requests(PREFACE + first + second)
    assert error is None and [q.header("x-device-id") for q in reqs] == ["861234567890123"] * 2
    # the second block alone cannot be decoded: HPACK state is per connection
    reqs, error = h2_requests(PREFACE + second)
    assert error is not None and reqs == []


def test_header_table_size_from_server_settings() -> None:
    enc = hpack.Encoder()
    enc.header_table_size = 65536  # the client uses the larger table the server allowed
    client = PREFACE + _encoder_frames(enc, 1, _req("/big-table"), end_stream=True)
    server = hf.SettingsFrame(0, settings={hf.SettingsFrame.HEADER_TABLE_SIZE: 65536}).serialize()
    reqs, error = h2_requests(client, server)
    assert error is None and reqs[0].path == "/big-table"
    reqs, error = h2_requests(client)  # without the server's SETTINGS the size update is illegal
    assert error == "InvalidTableSizeError" and reqs == []


def test_bounds() -> None:
    enc = hpack.Encoder()
    client = PREFACE + _encoder_frames(enc, 1, _req("/up"), end_stream=False)
    client += hf.DataFrame(1, b"a" * 1000).serialize() + hf.DataFrame(1, b"b" * 1000, flags=["END_STREAM"]).serialize()
    (q,), error = h2_requests(client, max_body=1500)
    assert error is None and q.body == b"a" * 1000 + b"b" * 500 and q.truncated and q.complete
    huge = PREFACE + _encoder_frames(hpack.Encoder(), 1, _req("/h", extra=[("x-big", "z" * 5000)]), end_stream=True)
    reqs, error = h2_requests(huge, max_header_list=2000)
    assert reqs == [] and error == "OversizedHeaderListError"


def test_not_h2_and_hostile_bytes() -> None:
    assert h2_requests(b"GET / HTTP/1.1\r\n\r\n") == ([], "no-preface")
    rnd = random.Random(5)
    enc = hpack.Encoder()
    good = PREFACE + b"".join(_encoder_frames(enc, 2 * i + 1, _req(f"/{i}"), end_stream=True) for i in range(20))
    for _ in range(300):
        buf = bytearray(good)
        for _ in range(rnd.randint(1, 5)):
            buf[rnd.randrange(len(PREFACE), len(buf))] = rnd.randrange(256)
        reqs, error = h2_requests(bytes(buf), rnd.randbytes(rnd.randint(0, 40)))
        assert error is None or isinstance(error, str)
        assert len(reqs) <= 20 and all(isinstance(q.body, bytes) for q in reqs)
