"""TLS decryption from captured stream bytes and a key log, against real clients and servers.

Every connection is real TLS on loopback through a recording relay (``tlsfixtures``): the
decryptor must give back exactly the bytes the client sent. What no client here can be made
to send (record padding, KeyUpdate mid-stream in both directions, HelloRetryRequest,
oversized records) comes from a hand-built RFC 8446 stream (``tls13synth``).
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import RequestRecord
from consentscope.readers._http1 import requests as _http_requests
from consentscope.readers._httpparse import https_records
from consentscope.readers._keylog import KeyLog
from consentscope.readers._tls_hello import tls_client_hello
from consentscope.readers._tlsdecrypt import (
    MAX_RECORD,
    SUITES,
    DecryptResult,
    TlsConnection,
    _Hmac,
    decrypt_connection,
    hkdf_expand_label,
)
from consentscope.readers.flowfile import iter_flowfile

from . import tls13synth as synth
from .tlsfixtures import (
    CURL,
    HOST,
    IMEI_BODY,
    OP_NO_ENCRYPT_THEN_MAC,
    OPENSSL,
    Captured,
    OpenSslServer,
    Relay,
    TlsServer,
    curl,
    free_port,
    http1_request,
    make_cert,
    python_client,
    s_client,
    url,
    wait_port,
)

needs_curl = pytest.mark.skipif(CURL is None, reason="curl not installed (make debs installs it)")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")

REQUESTS = [http1_request("POST", "/v1/log?device=1", IMEI_BODY), http1_request("GET", "/v1/config?imei=861234567890123")]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="module")
def server(cert: tuple[str, str]):
    srv = TlsServer(*cert)
    yield srv
    srv.close()


@pytest.fixture()
def relay(server: TlsServer):
    r = Relay(server.port)
    yield r
    r.close()


def decrypt(c: Captured, keylog: Path | KeyLog) -> DecryptResult:
    log = keylog if isinstance(keylog, KeyLog) else KeyLog.from_sources(keylog)
    return decrypt_connection(bytes(c.client), bytes(c.server), log)


def assert_exact(r: DecryptResult, sent: list[bytes]) -> None:
    assert (r.decrypted, r.reason) == (True, None)
    assert r.client_plain == b"".join(sent)
    assert b"imei=861234567890123" in r.client_plain
    assert r.server_plain.startswith(b"HTTP/1.1 200 OK")
    assert r.sni == HOST


# ----------------------------------------------------------------------------- suites


PY_SUITES = [
    # (TLS version, OpenSSL cipher string, extra options, suite we must report, encrypt-then-MAC)
    (ssl.TLSVersion.TLSv1_3, None, 0, "TLS_AES_256_GCM_SHA384", False),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256", 0, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384", 0, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", False),
    (ssl.TLSVersion.TLSv1_2, "AES128-GCM-SHA256", 0, "TLS_RSA_WITH_AES_128_GCM_SHA256", False),
    (ssl.TLSVersion.TLSv1_2, "AES256-GCM-SHA384", 0, "TLS_RSA_WITH_AES_256_GCM_SHA384", False),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305", 0, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", False),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-SHA", 0, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-SHA", OP_NO_ENCRYPT_THEN_MAC, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False),
    (ssl.TLSVersion.TLSv1_2, "AES256-SHA", OP_NO_ENCRYPT_THEN_MAC, "TLS_RSA_WITH_AES_256_CBC_SHA", False),
    (ssl.TLSVersion.TLSv1_2, "AES128-SHA256", 0, "TLS_RSA_WITH_AES_128_CBC_SHA256", True),
    (ssl.TLSVersion.TLSv1_2, "AES256-SHA256", OP_NO_ENCRYPT_THEN_MAC, "TLS_RSA_WITH_AES_256_CBC_SHA256", False),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-SHA384", 0, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", True),
    (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-SHA384", OP_NO_ENCRYPT_THEN_MAC, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", False),
]


@pytest.mark.parametrize(("version", "ciphers", "options", "suite", "etm"), PY_SUITES,
                         ids=[f"{s}{'-etm' if e else ''}" for *_, s, e in PY_SUITES])
def test_python_client_each_suite(relay: Relay, server: TlsServer, tmp_path: Path, version, ciphers, options,
                                  suite, etm) -> None:
    keylog = tmp_path / "keys.log"
    python_client(relay.port, keylog, REQUESTS, version=version, ciphers=ciphers, options=options)
    (c,) = relay.wait(1)
    r = decrypt(c, keylog)
    assert r.suite == suite and r.version == version.name.replace("_", ".")
    assert_exact(r, REQUESTS)
    conn = TlsConnection(KeyLog.from_sources(keylog))
    conn.feed(True, bytes(c.client))
    conn.feed(False, bytes(c.server))
    assert conn.finish() == (True, None) and conn.encrypt_then_mac is etm


@needs_curl
@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"])
def test_curl_tls13_each_suite(relay: Relay, tmp_path: Path, suite: str) -> None:
    keylog = tmp_path / "keys.log"
    p = curl(relay.port, keylog, ["--http1.1", "--tlsv1.3", "--tls13-ciphers", suite, "-H", "X-Device: pixel",
                                  "--data-binary", IMEI_BODY.decode(), url(relay.port, "/collect?v=2")])
    assert p.returncode == 0, p.stderr
    (c,) = relay.wait(1)
    r = decrypt(c, keylog)
    assert (r.decrypted, r.reason, r.suite, r.version, r.alpn) == (True, None, suite, "TLSv1.3", "http/1.1")
    assert r.client_plain.startswith(b"POST /collect?v=2 HTTP/1.1\r\nHost: example.test:")
    assert r.client_plain.endswith(b"\r\n\r\n" + IMEI_BODY)
    assert b"X-Device: pixel\r\n" in r.client_plain


@needs_curl
@pytest.mark.parametrize("ciphers", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-SHA384"])
def test_curl_tls12(relay: Relay, tmp_path: Path, ciphers: str) -> None:
    keylog = tmp_path / "keys.log"
    p = curl(relay.port, keylog, ["--http1.1", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", ciphers,
                                  "--data-binary", IMEI_BODY.decode(), url(relay.port, "/t12")])
    assert p.returncode == 0, p.stderr
    (c,) = relay.wait(1)
    r = decrypt(c, keylog)
    assert (r.decrypted, r.reason, r.version) == (True, None, "TLSv1.2")
    assert r.client_plain.startswith(b"POST /t12 HTTP/1.1\r\n") and r.client_plain.endswith(IMEI_BODY)


def test_unsupported_suite_is_reported(relay: Relay, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    python_client(relay.port, keylog, REQUESTS, version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-CCM")
    (c,) = relay.wait(1)
    r = decrypt(c, keylog)
    assert (r.decrypted, r.reason, r.client_plain, r.sni) == (False, "unsupported-suite", b"", HOST)


def test_hello_retry_request_from_a_real_server(cert: tuple[str, str], tmp_path: Path) -> None:
    """A server that only takes secp384r1 answers the client's x25519 key share with a
    HelloRetryRequest (plus OpenSSL's middlebox-compatibility ChangeCipherSpec)."""
    srv = TlsServer(*cert, configure=lambda ctx: ctx.set_ecdh_curve("secp384r1"))
    relay = Relay(srv.port)
    try:
        keylog = tmp_path / "keys.log"
        python_client(relay.port, keylog, REQUESTS, version=ssl.TLSVersion.TLSv1_3)
        (c,) = relay.wait(1)
    finally:
        relay.close()
        srv.close()
    conn = TlsConnection(KeyLog.from_sources(keylog))
    conn.feed(True, bytes(c.client))
    conn.feed(False, bytes(c.server))
    assert conn.finish() == (True, None) and conn.hello_retry
    assert [t for _, t, _ in _records(bytes(c.client))][:3] == [22, 20, 22]  # CH1, CCS, CH2
    assert_exact(decrypt(c, keylog), REQUESTS)


# ----------------------------------------------------------------------------- resumption


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_ticket_resumption(relay: Relay, tmp_path: Path, version: ssl.TLSVersion) -> None:
    keylog = tmp_path / "keys.log"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.keylog_filename = str(keylog)
    ctx.minimum_version = ctx.maximum_version = version
    session, reused, _ = python_client(relay.port, keylog, REQUESTS[:1], ctx=ctx)
    _, reused2, _ = python_client(relay.port, keylog, REQUESTS[1:], ctx=ctx, session=session)
    assert (reused, reused2) == (False, True)
    first, second = relay.wait(2)
    assert_exact(decrypt(first, keylog), REQUESTS[:1])
    assert_exact(decrypt(second, keylog), REQUESTS[1:])
    # the resumed handshake has no Certificate: much shorter server stream before app data
    assert len(second.server) < len(first.server)


@needs_openssl
def test_session_id_resumption(cert: tuple[str, str], tmp_path: Path) -> None:
    """Resumption by session ID (no tickets): ``openssl s_server -no_ticket`` keeps a session
    cache; the resumed connection's CLIENT_RANDOM line carries the same master secret."""
    srv = OpenSslServer(*cert, ["-quiet", "-no_ticket", "-www"])
    relay = Relay(srv.port)
    try:
        keylog = tmp_path / "keys.log"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.keylog_filename = str(keylog)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        req = b"GET /?imei=861234567890123 HTTP/1.0\r\n\r\n"
        sessions = []
        for session in (None, "reuse"):
            with socket.create_connection(("127.0.0.1", relay.port)) as raw, \
                    ctx.wrap_socket(raw, server_hostname=HOST, session=sessions[0] if session else None) as tls:
                tls.sendall(req)
                while tls.recv(65536):
                    pass
                sessions.append(tls.session)
                assert tls.session_reused is bool(session)
        for c, resumed in zip(relay.wait(2), (False, True), strict=True):
            conn = TlsConnection(KeyLog.from_sources(keylog))
            chunks = conn.feed(True, bytes(c.client)) + conn.feed(False, bytes(c.server))
            assert conn.finish() == (True, None) and conn.resumed_session is resumed
            assert b"".join(ch.data for ch in chunks if ch.from_client) == req
            assert b"".join(ch.data for ch in chunks if not ch.from_client).startswith(b"HTTP/1.0 200 ok")
    finally:
        relay.close()
        srv.close()


@needs_curl
def test_curl_resumes_on_its_second_connection(relay: Relay, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    args = ["--http1.1", "-H", "Connection: close", url(relay.port, "/one"), "--next", "-k", "--http1.1",
            "--data-binary", IMEI_BODY.decode(), url(relay.port, "/two")]
    p = curl(relay.port, keylog, args)
    assert p.returncode == 0, p.stderr
    first, second = relay.wait(2)
    a, b = decrypt(first, keylog), decrypt(second, keylog)
    assert a.decrypted and b.decrypted
    assert a.client_plain.startswith(b"GET /one ") and b.client_plain.startswith(b"POST /two ")
    assert len(second.server) < len(first.server)  # no certificate: resumed


# ----------------------------------------------------------------------------- KeyUpdate, 0-RTT


@needs_openssl
def test_key_update_from_a_real_client(cert: tuple[str, str], tmp_path: Path) -> None:
    """``openssl s_client`` sends a KeyUpdate (update_requested) on its "K" command; the
    server answers with its own. Python's ssl module has no KeyUpdate call."""
    srv = OpenSslServer(*cert, ["-tls1_3"])
    relay = Relay(srv.port)
    try:
        keylog = tmp_path / "keys.log"
        s_client(relay.port, keylog, [], [b"imei=861234567890123\n", b"K\n", b"after the update\n", b"K\n", b"third\n"],
                 sent=lambda: sum(len(c.client) for c in relay.conns))
        (c,) = relay.wait(1)
    finally:
        relay.close()
        srv.close()
    conn = TlsConnection(KeyLog.from_sources(keylog))
    chunks = conn.feed(True, bytes(c.client)) + conn.feed(False, bytes(c.server))
    assert conn.finish() == (True, None)
    assert b"".join(ch.data for ch in chunks if ch.from_client) == b"imei=861234567890123\nafter the update\nthird\n"
    # OpenSSL's server answers update_requested lazily (with its next write), so at least one
    assert conn.client_key_updates == 2 and conn.server_key_updates >= 1


@needs_openssl
@pytest.mark.parametrize("accepted", [True, False])
def test_early_data(cert: tuple[str, str], tmp_path: Path, accepted: bool) -> None:
    """0-RTT: accepted, the early request is decrypted with CLIENT_EARLY_TRAFFIC_SECRET;
    rejected (the second server cannot read the first one's ticket), it is skipped as the
    server skips it, and the data sent after the handshake still decrypts."""
    keylog = tmp_path / "keys.log"
    session = tmp_path / "session.pem"
    early = b"POST /early HTTP/1.1\r\nHost: example.test\r\nContent-Length: 24\r\n\r\nimei=861234567890123&e=1"
    (tmp_path / "early.txt").write_bytes(early)
    first = OpenSslServer(*cert, ["-quiet", "-tls1_3", "-early_data"])
    relay = Relay(first.port)
    try:
        s_client(relay.port, keylog, ["-sess_out", str(session)], [], done=session.exists)
        if not accepted:  # a fresh server process: new ticket keys, so the PSK is refused
            relay.close()
            first.close()
            first = OpenSslServer(*cert, ["-quiet", "-tls1_3", "-early_data"])
            relay = Relay(first.port)
        s_client(relay.port, keylog, ["-sess_in", str(session), "-early_data", str(tmp_path / "early.txt")],
                 [b"late data\n"], sent=lambda: sum(len(c.client) for c in relay.conns))
        c = relay.wait(2 if accepted else 1)[-1]
    finally:
        relay.close()
        first.close()
    log = KeyLog.from_sources(keylog)
    r = decrypt(c, log)
    assert (r.decrypted, r.reason) == (True, None)
    if accepted:
        assert r.client_plain == early + b"late data\n" and r.early_data == len(early)
    else:
        assert r.client_plain == b"late data\n" and r.early_data == 0
        conn = TlsConnection(log)
        conn.feed(True, bytes(c.client))
        conn.feed(False, bytes(c.server))
        assert conn.finish() == (True, None) and conn.early_skipped > len(early)


def _synthetic_13(suite: int = 0x1301, *, hrr: bool = False, early: bool = False, pad: int = 0,
                  key_update_after: int | None = None, app_records: int = 3) -> tuple[bytes, bytes, KeyLog, list[bytes]]:
    """A TLS 1.3 connection built from scratch: (client bytes, server bytes, key log, client app data)."""
    rnd = random.Random(suite * 7 + hrr + 2 * early + 3 * pad)
    client_random, server_random = rnd.randbytes(32), rnd.randbytes(32)
    size = 48 if suite == 0x1302 else 32
    secrets = {label: rnd.randbytes(size) for label in (
        "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")}
    log = KeyLog()
    log.add_text("".join(f"{k} {client_random.hex()} {v.hex()}\n" for k, v in secrets.items()))
    ch = synth.client_hello(client_random, early=early)
    client = synth.record(22, ch) + synth.record(20, b"\x01")
    server = b""
    sent: list[bytes] = []
    if early:
        e = synth.Encryptor(suite, secrets["CLIENT_EARLY_TRAFFIC_SECRET"])
        sent.append(b"GET /0rtt HTTP/1.1\r\n\r\n")
        client += e.record(23, sent[-1], pad) + e.record(22, synth.handshake(5, b""))
    if hrr:
        server += synth.record(22, synth.server_hello(synth.HRR_RANDOM, suite)) + synth.record(20, b"\x01")
        client += synth.record(22, ch)
    server += synth.record(22, synth.server_hello(server_random, suite)) + synth.record(20, b"\x01")
    s_hs = synth.Encryptor(suite, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
    server += s_hs.record(22, synth.encrypted_extensions(early=early), pad)
    server += s_hs.record(22, synth.handshake(11, b"\x00\x00\x00\x00") + synth.handshake(20, bytes(size)), pad)
    c_hs = synth.Encryptor(suite, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
    client += c_hs.record(22, synth.handshake(20, bytes(size)), pad)
    s_app = synth.Encryptor(suite, secrets["SERVER_TRAFFIC_SECRET_0"])
    c_app = synth.Encryptor(suite, secrets["CLIENT_TRAFFIC_SECRET_0"])
    server += s_app.record(22, synth.handshake(4, bytes(20)), pad)  # NewSessionTicket
    for i in range(app_records):
        data = b"POST /r%d HTTP/1.1\r\nContent-Length: 20\r\n\r\nimei=861234567890123" % i
        sent.append(data)
        client += c_app.record(23, data, pad)
        server += s_app.record(23, b"HTTP/1.1 204 No Content\r\n\r\n", pad)
        if key_update_after is not None and i == key_update_after:
            client += c_app.record(22, synth.handshake(24, b"\x01"), pad)  # update_requested
            c_app.key_update()
            server += s_app.record(22, synth.handshake(24, b"\x00"), pad)
            s_app.key_update()
    client += c_app.record(21, b"\x01\x00", pad)  # close_notify
    return client, server, log, sent


@pytest.mark.parametrize("suite", [0x1301, 0x1302, 0x1303])
def test_synthetic_padding_key_update_and_hrr(suite: int) -> None:
    client, server, log, sent = _synthetic_13(suite, hrr=True, pad=37, key_update_after=0)
    conn = TlsConnection(log)
    chunks = conn.feed(True, client) + conn.feed(False, server)
    assert conn.finish() == (True, None)
    assert b"".join(ch.data for ch in chunks if ch.from_client) == b"".join(sent)
    assert conn.client_key_updates == conn.server_key_updates == 1
    assert (conn.sni, conn.alpn, conn.suite and conn.suite.code) == ("synth.test", "h2", suite)


def test_synthetic_early_data_accepted() -> None:
    client, server, log, sent = _synthetic_13(early=True, pad=3)
    r = decrypt_connection(client, server, log)
    assert (r.decrypted, r.reason, r.early_data) == (True, None, len(sent[0]))
    assert r.client_plain == b"".join(sent)


def test_rfc8448_traffic_key_derivation() -> None:
    """RFC 8448 section 3 (simple 1-RTT): server handshake write key and IV from its secret."""
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert hkdf_expand_label(secret, b"key", b"", 16, "sha256").hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert hkdf_expand_label(secret, b"iv", b"", 12, "sha256").hex() == "5d313eb2671276ee13000b30"


# ----------------------------------------------------------------------------- failures


@pytest.fixture()
def two_connections(relay: Relay, tmp_path: Path) -> tuple[list[Captured], Path]:
    keylog = tmp_path / "keys.log"
    python_client(relay.port, keylog, REQUESTS, version=ssl.TLSVersion.TLSv1_3)
    python_client(relay.port, keylog, REQUESTS, version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    return relay.wait(2), keylog


def _other_secrets(keylog: Path) -> KeyLog:
    """The same key log with every secret's bytes flipped: right labels, wrong keys."""
    log = KeyLog()
    for line in keylog.read_text().splitlines():
        if line.startswith("#"):
            continue
        label, rnd, secret = line.split()
        log.add_text(f"{label} {rnd} {bytes(b ^ 0x5A for b in bytes.fromhex(secret)).hex()}")
    return log


def test_wrong_key_is_bad_record(two_connections) -> None:
    conns, keylog = two_connections
    for c in conns:
        r = decrypt(c, _other_secrets(keylog))
        assert (r.decrypted, r.reason, r.client_plain, r.server_plain) == (False, "bad-record", b"", b"")


def test_missing_key_is_no_key(two_connections) -> None:
    conns, keylog = two_connections
    for c in conns:
        r = decrypt(c, KeyLog())
        assert (r.decrypted, r.reason, r.sni, r.client_plain) == (False, "no-key", HOST, b"")
        assert r.version in ("TLSv1.2", "TLSv1.3")
    # TLS 1.3 with only the handshake secrets: the handshake decrypts, the application data not
    partial = KeyLog()
    partial.add_text("\n".join(x for x in keylog.read_text().splitlines() if "HANDSHAKE" in x))
    r = decrypt(conns[0], partial)
    assert (r.decrypted, r.reason, r.version, r.client_plain) == (False, "no-key", "TLSv1.3", b"")


def _records(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, content type, length) of each record of a stream."""
    out, pos = [], 0
    while pos + 5 <= len(data):
        n = int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append((pos, data[pos], n))
        pos += 5 + n
    return out


def test_stream_starting_mid_connection_is_handshake_missing(two_connections) -> None:
    conns, keylog = two_connections
    log = KeyLog.from_sources(keylog)
    for c in conns:
        client = bytes(c.client)
        last_app = [off for off, typ, _ in _records(client) if typ == 23][-1]
        for start in (last_app, 7, 1):
            r = decrypt_connection(client[start:], bytes(c.server), log)
            assert (r.decrypted, r.reason, r.client_plain) == (False, "handshake-missing", b"")
        r = decrypt_connection(client, b"", log)  # no server side at all
        assert (r.decrypted, r.reason) == (False, "handshake-missing")


def test_corrupted_record_stops_that_connection_only(two_connections) -> None:
    conns, keylog = two_connections
    log = KeyLog.from_sources(keylog)
    for c in conns:
        client = bytearray(c.client)
        app = [(off, n) for off, typ, n in _records(bytes(client)) if typ == 23]
        off, n = app[-1]  # the second request's record (TLS 1.3: after the Finished record)
        client[off + 5 + n // 2] ^= 0x01
        r = decrypt_connection(bytes(client), bytes(c.server), log)
        assert (r.decrypted, r.reason) == (False, "bad-record")
        assert r.client_plain == REQUESTS[0]  # what came before the damage is kept
        assert r.server_plain.startswith(b"HTTP/1.1 200 OK")  # the other direction is unaffected
    # the same key log still decrypts the untouched connections in full
    for c in conns:
        assert_exact(decrypt(c, log), REQUESTS)


def test_gaps_and_truncation_are_stream_gap(two_connections) -> None:
    conns, keylog = two_connections
    log = KeyLog.from_sources(keylog)
    c = conns[0]
    r = decrypt_connection(bytes(c.client), bytes(c.server), log, client_gap=True)
    assert (r.decrypted, r.reason, r.client_plain) == (False, "stream-gap", b"".join(REQUESTS))
    r = decrypt_connection(bytes(c.client)[:-3], bytes(c.server), log)
    assert (r.decrypted, r.reason) == (False, "stream-gap")
    assert r.client_plain == REQUESTS[0]


def test_oversized_record_is_bad_record() -> None:
    client, server, log, sent = _synthetic_13()
    huge = bytes([23, 3, 3]) + (MAX_RECORD + 1).to_bytes(2, "big")
    r = decrypt_connection(client + huge + bytes(100), server, log)
    assert (r.decrypted, r.reason, r.client_plain) == (False, "bad-record", b"".join(sent))


def test_incremental_feed_matches_and_offsets_point_at_records(two_connections) -> None:
    conns, keylog = two_connections
    log = KeyLog.from_sources(keylog)
    rnd = random.Random(1)
    for c in conns:
        client, server = bytes(c.client), bytes(c.server)
        conn = TlsConnection(log)
        chunks = []
        ci = si = 0
        while ci < len(client) or si < len(server):  # interleaved slices of random sizes
            n = rnd.randint(1, 300)
            if rnd.random() < 0.5 and ci < len(client):
                chunks += conn.feed(True, client[ci : ci + n])
                ci += n
            elif si < len(server):
                chunks += conn.feed(False, server[si : si + n])
                si += n
        assert conn.finish() == (True, None)
        assert b"".join(ch.data for ch in chunks if ch.from_client) == b"".join(REQUESTS)
        for ch in chunks:
            stream = client if ch.from_client else server
            assert stream[ch.offset] == 23 and (ch.offset, 23) in {(o, t) for o, t, _ in _records(stream)}


def test_hostile_bytes_never_raise(two_connections) -> None:
    conns, keylog = two_connections
    log = KeyLog.from_sources(keylog)
    rnd = random.Random(12)
    client, server = bytes(conns[0].client), bytes(conns[0].server)
    for _ in range(200):
        c, s = bytearray(client), bytearray(server)
        for buf in (c, s):
            for _ in range(rnd.randint(1, 4)):
                buf[rnd.randrange(len(buf))] = rnd.randrange(256)
        r = decrypt_connection(bytes(c), bytes(s), log)
        assert r.decrypted is (r.reason is None)
        assert r.reason in (None, "no-key", "unsupported-suite", "handshake-missing", "stream-gap", "bad-record")
    for _ in range(50):
        r = decrypt_connection(b"\x16\x03\x01" + os.urandom(rnd.randint(0, 400)), os.urandom(200), log)
        assert not r.decrypted


def test_suite_table_is_consistent() -> None:
    for code, s in SUITES.items():
        assert s.code == code and (s.kind == "cbc") == (s.mac is not None)
        assert s.tls13 == (code >> 8 == 0x13)


# ----------------------------------------------------------------------------- records vs mitmproxy

MITMDUMP = Path(sys.executable).with_name("mitmdump")


@pytest.mark.slow
@needs_curl
@pytest.mark.skipif(not MITMDUMP.exists(), reason="mitmdump not in this environment")
def test_records_equal_mitmproxys(server: TlsServer, tmp_path: Path) -> None:
    """The same HTTP/1.1 and HTTP/2 requests seen by mitmdump (its -w flow file through
    ``flow_to_records``) and decrypted from the bytes between client and mitmdump: the records
    are equal but for flow id, time and port (reverse mode names the upstream's port)."""
    port = free_port()
    flows = tmp_path / "flows.mitm"
    mitm = subprocess.Popen(
        [str(MITMDUMP), "-q", "--mode", f"reverse:https://127.0.0.1:{server.port}", "--listen-host", "127.0.0.1",
         "-p", str(port), "--set", "ssl_insecure=true", "--set", "keep_host_header=true",
         "--set", f"confdir={tmp_path / 'mitm'}", "-w", str(flows)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 30)
        relay = Relay(port)
        keylog = tmp_path / "keys.log"
        for proto in ("--http1.1", "--http2"):
            p = curl(relay.port, keylog, [proto, "-H", "X-Device: pixel", "-H", "Accept-Encoding: gzip",
                                          "--data-binary", IMEI_BODY.decode(), url(relay.port, "/collect?v=2"),
                                          "--next", "-k", proto, url(relay.port, "/config?imei=861234567890123")])
            assert p.returncode == 0, p.stderr
        conns = relay.wait(2)
        relay.close()
    finally:
        mitm.send_signal(signal.SIGINT)
        mitm.wait(15)
    log = KeyLog.from_sources(keylog)
    ours = []
    for i, c in enumerate(conns):
        r = decrypt(c, log)
        assert r.decrypted
        ours += list(https_records(r, server_ip="127.0.0.1", port=port, flow_prefix=f"pcap:{i}",
                                   time_at=lambda off: 1000.0 + off, http1=_http_requests))
    theirs = [item for item in iter_flowfile(str(flows)) if isinstance(item, RequestRecord)]
    assert len(ours) == len(theirs) == 4
    neutral = {"flow_id": "", "time": 0.0, "port": 0}
    assert [dataclasses.replace(r, **neutral) for r in ours] == [dataclasses.replace(r, **neutral) for r in theirs]
    assert [r.http_version for r in ours] == ["HTTP/1.1", "HTTP/1.1", "HTTP/2.0", "HTTP/2.0"]
    assert ours[0].body == IMEI_BODY and ours[0].sni == HOST and ours[0].host == HOST


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=300), st.sampled_from(["sha1", "sha256", "sha384", "md5"]))
def test_hmac_equals_the_standard_librarys(key: bytes, msg: bytes, hash_name: str) -> None:
    """Keys shorter and longer than the block, and a hash outside the table (md5)."""
    mac = _Hmac(key, hash_name)
    assert mac.digest(msg) == mac.digest(msg) == hmac.digest(key, msg, hash_name)


def _split_flight(suite: int, sh_cut: int | None, cuts: list[int]) -> tuple[bytes, bytes, KeyLog]:
    """A TLS 1.3 connection whose ServerHello is cut in two plaintext records at ``sh_cut`` and
    whose encrypted server flight (EncryptedExtensions, Certificate, Finished) is cut into
    records at ``cuts``: handshake messages spanning records, and records holding several."""
    rnd = random.Random(suite)
    client_random = rnd.randbytes(32)
    size = 48 if suite == 0x1302 else 32
    secrets = {label: rnd.randbytes(size) for label in (
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0")}
    log = KeyLog()
    log.add_text("".join(f"{k} {client_random.hex()} {v.hex()}\n" for k, v in secrets.items()))
    sh = synth.server_hello(rnd.randbytes(32), suite)
    server = (synth.record(22, sh[:sh_cut]) + synth.record(22, sh[sh_cut:])) if sh_cut else synth.record(22, sh)
    flight = synth.encrypted_extensions(alpn=b"http/1.1") + synth.handshake(11, bytes(300)) + synth.handshake(20, bytes(size))
    s_hs = synth.Encryptor(suite, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
    for a, b in zip([0, *cuts], [*cuts, len(flight)], strict=True):
        server += s_hs.record(22, flight[a:b])
    server += synth.Encryptor(suite, secrets["SERVER_TRAFFIC_SECRET_0"]).record(23, b"HTTP/1.1 204 No Content\r\n\r\n")
    client = synth.record(22, synth.client_hello(client_random)) + synth.record(20, b"\x01")
    client += synth.Encryptor(suite, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]).record(22, synth.handshake(20, bytes(size)))
    client += synth.Encryptor(suite, secrets["CLIENT_TRAFFIC_SECRET_0"]).record(23, b"GET / HTTP/1.1\r\n\r\n")
    return client, server, log


@pytest.mark.parametrize("suite", [0x1301, 0x1302])
def test_handshake_messages_spanning_records(suite: int) -> None:
    """Every cut of the ServerHello and of the encrypted flight, one or two cuts at a time."""
    flight_len = len(synth.encrypted_extensions(alpn=b"http/1.1")) + 4 + 300 + 4 + (48 if suite == 0x1302 else 32)
    sh_len = len(synth.server_hello(bytes(32), suite))
    cases = [(None, [])] + [(c, []) for c in range(1, sh_len)] + [(None, [c]) for c in range(1, flight_len)]
    cases += [(None, [c, c + d]) for c in range(1, flight_len, 7) for d in (1, 3, 5, 40) if c + d < flight_len]
    for sh_cut, cuts in cases:
        client, server, log = _split_flight(suite, sh_cut, cuts)
        r = decrypt_connection(client, server, log)
        assert (r.decrypted, r.reason, r.alpn) == (True, None, "http/1.1"), (sh_cut, cuts)
        assert (r.client_plain, r.server_plain) == (b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")


def test_a_client_hello_parsed_by_the_caller_is_used_only_for_its_own_bytes() -> None:
    client, server, log, _ = _synthetic_13(0x1301)
    msg = client[5 : 9 + int.from_bytes(client[6:9], "big")]
    hello = tls_client_hello(client)
    assert hello is not None
    plain = decrypt_connection(client, server, log)
    assert decrypt_connection(client, server, log, client_hello=(msg, hello)) == plain
    other = tls_client_hello(_synthetic_13(0x1303, early=True)[0])
    assert other is not None and other.random != hello.random
    # a hint for other bytes is ignored: the connection's own ClientHello counts
    assert decrypt_connection(client, server, log, client_hello=(msg[:-1] + b"\x00", other)) == plain
