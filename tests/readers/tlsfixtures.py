"""Real TLS traffic on loopback for the decryption tests: a self-signed server, a recording
TCP relay between client and server, and helpers that drive Python's ssl client and curl.

The relay records the exact bytes of each direction of each connection: the same bytes a
packet capture's TCP reassembly would give, without needing tcpdump or root.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

HOST = "example.test"
IMEI_BODY = b"imei=861234567890123&adid=38400000-8cf0-11bd-b23e-10b96e40000d"


def make_cert(directory: Path) -> tuple[str, str]:
    """A self-signed RSA certificate for example.test and 127.0.0.1 (cert path, key path)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


# ----------------------------------------------------------------------------- server


@dataclass
class ServerLog:
    """What the server saw: (method, path, headers, body) per request."""

    requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = field(default_factory=list)


class TlsServer:
    """HTTP/1.1 and HTTP/2 over TLS, one thread per connection. ``configure`` adjusts the
    server SSLContext (versions, tickets...)."""

    def __init__(self, cert: str, key: str, alpn: tuple[str, ...] = ("h2", "http/1.1"),
                 configure=None, h2_table_size: int | None = None) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if configure:
            configure(ctx)
        self.ctx = ctx
        self.h2_table_size = h2_table_size
        self.log = ServerLog()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as tls:
                if tls.selected_alpn_protocol() == "h2":
                    self._h2(tls)
                else:
                    self._h1(tls)
        except (OSError, ssl.SSLError):
            pass

    def _h1(self, tls: ssl.SSLSocket) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
            length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
            while len(buf) < length:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            body, buf = buf[:length], buf[length:]
            self.log.requests.append((method, path, headers, body))
            close = any(k.lower() == "connection" and v.lower() == "close" for k, v in headers)
            resp = b"hello from the server"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                        % (len(resp), b"Connection: close\r\n" if close else b"", resp))
            if close:
                return

    def _h2(self, tls: ssl.SSLSocket) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None, normalize_inbound_headers=False))  # as mitmproxy configures it
        conn.initiate_connection()
        if self.h2_table_size is not None:
            conn.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: self.h2_table_size})
        tls.sendall(conn.data_to_send())
        streams: dict[int, tuple[list, bytearray]] = {}
        while True:
            data = tls.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = (ev.headers, bytearray())
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1].extend(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    hdrs, body = streams.pop(ev.stream_id)
                    pseudo = {k: v for k, v in hdrs if k.startswith(b":")}
                    self.log.requests.append((pseudo[b":method"].decode(), pseudo[b":path"].decode(),
                                              [(k.decode(), v.decode()) for k, v in hdrs if not k.startswith(b":")],
                                              bytes(body)))
                    conn.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-length", b"2")])
                    conn.send_data(ev.stream_id, b"ok", end_stream=True)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    tls.sendall(conn.data_to_send())
                    return
            tls.sendall(conn.data_to_send())


# ----------------------------------------------------------------------------- relay


@dataclass
class Captured:
    client: bytearray = field(default_factory=bytearray)
    server: bytearray = field(default_factory=bytearray)
    done: threading.Event = field(default_factory=threading.Event)


class Relay:
    """Forwards each accepted connection to ``target_port`` and records both directions."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[Captured] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target))
            cap = Captured()
            self.conns.append(cap)
            left = [2]
            lock = threading.Lock()

            def pump(src: socket.socket, dst: socket.socket, buf: bytearray, cap: Captured = cap,
                     left: list = left, lock: threading.Lock = lock) -> None:
                try:
                    while True:
                        data = src.recv(65536)
                        if not data:
                            break
                        buf += data
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    with lock:
                        left[0] -= 1
                        if left[0] == 0:
                            src.close()
                            dst.close()
                            cap.done.set()

            threading.Thread(target=pump, args=(down, up, cap.client), daemon=True).start()
            threading.Thread(target=pump, args=(up, down, cap.server), daemon=True).start()

    def wait(self, n: int, timeout: float = 15) -> list[Captured]:
        """The first ``n`` connections, once both their directions have closed."""
        deadline = time.monotonic() + timeout
        while len(self.conns) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        for c in self.conns[:n]:
            c.done.wait(max(0.0, deadline - time.monotonic()))
        assert len(self.conns) >= n, f"only {len(self.conns)} connections"
        return self.conns[:n]


# ----------------------------------------------------------------------------- clients


def http1_request(method: str, path: str, body: bytes = b"", close: bool = False) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: consentscope-test\r\n"
    if body or method == "POST":
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def _read_response(tls: ssl.SSLSocket) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = tls.recv(65536)
        if not data:
            return buf
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        data = tls.recv(65536)
        if not data:
            break
        rest += data
    return head + b"\r\n\r\n" + rest


def python_client(port: int, keylog: Path, requests: list[bytes], *, version: ssl.TLSVersion | None = None,
                  ciphers: str | None = None, session: ssl.SSLSession | None = None, options: int = 0,
                  alpn: list[str] | None = None, ctx: ssl.SSLContext | None = None
                  ) -> tuple[ssl.SSLSession | None, bool, str | None]:
    """Send HTTP/1.1 ``requests`` over one TLS connection; (session, reused, cipher name)."""
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = str(keylog)
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        if ciphers:
            ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
        if options:
            ctx.options |= options
        if alpn:
            ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            ctx.wrap_socket(raw, server_hostname=HOST, session=session) as tls:
        for req in requests:
            tls.sendall(req)
            _read_response(tls)
        cipher = tls.cipher()
        return tls.session, tls.session_reused, cipher[0] if cipher else None


CURL = shutil.which("curl")


def curl(port: int, keylog: Path, args: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
    """Run curl against the relay as https://example.test:<port>, logging TLS secrets."""
    env = dict(os.environ, SSLKEYLOGFILE=str(keylog))
    cmd = [CURL or "curl", "-sS", "-k", "--resolve", f"{HOST}:{port}:127.0.0.1", *args]
    return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, check=False)


def url(port: int, path: str) -> str:
    return f"https://{HOST}:{port}{path}"


# ----------------------------------------------------------------------------- openssl s_server / s_client

OPENSSL = shutil.which("openssl")
#: SSL_OP_NO_ENCRYPT_THEN_MAC (OpenSSL 1.1.0+); the ssl module has no name for it.
OP_NO_ENCRYPT_THEN_MAC = 1 << 19


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class OpenSslServer:
    """``openssl s_server`` on a free port (used where Python's ssl module has no switch:
    session-ID caching, 0-RTT, KeyUpdate). The readiness probe is a plain TCP connect, which
    s_server shrugs off; it is not relayed, so it is not among the captured connections."""

    def __init__(self, cert: str, key: str, args: list[str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [OPENSSL or "openssl", "s_server", "-accept", str(self.port), "-cert", cert, "-key", key, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def close(self) -> bytes:
        self.proc.kill()
        out, _ = self.proc.communicate(timeout=5)
        return out


def _until(cond, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)


def s_client(port: int, keylog: Path, args: list[str], lines: list[bytes], *, sent=None,
             done=None) -> bytes:
    """Run ``openssl s_client`` and type ``lines`` (a line "K" is its KeyUpdate command).

    s_client reads its commands from the start of each stdin read, so two lines arriving in
    one read would turn "K" into data: with ``sent`` (bytes the client has sent so far, e.g.
    from the relay) each line waits until the previous one went out as a record. ``done``:
    a condition to wait for before closing stdin (e.g. the session file of -sess_out exists).
    """
    def handshakes() -> int:  # one CLIENT_TRAFFIC_SECRET_0 line per completed TLS 1.3 handshake
        return keylog.read_text().count("CLIENT_TRAFFIC_SECRET_0") if keylog.exists() else 0

    already = handshakes()
    proc = subprocess.Popen(
        [OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", HOST,
         "-keylogfile", str(keylog), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdin is not None
    _until(lambda: handshakes() > already)
    time.sleep(0.1)
    for data in lines:
        before = sent() if sent else 0
        proc.stdin.write(data)
        proc.stdin.flush()
        if sent:
            _until(lambda before=before: sent() > before)
        else:
            time.sleep(0.3)
    if done is not None:
        _until(done)
    try:
        out, _ = proc.communicate(timeout=5)  # closes stdin: s_client ends the connection on EOF
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out
