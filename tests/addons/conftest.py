"""Real processes on loopback: a local HTTPS server and `consentscope proxy` in front of it."""

from __future__ import annotations

import base64
import datetime
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp / "server.pem", tmp / "server.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


@dataclass
class Upstream:
    port: int
    received: list[tuple[str, str, int]] = field(default_factory=list)  # host, path, body length


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    up = Upstream(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            remaining = n
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            up.received.append((self.headers.get("Host", ""), self.path, n))
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args: object) -> None:
            pass

    certfile, keyfile = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    up.port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield up
    server.shutdown()


@dataclass
class Proxy:
    port: int
    proc: subprocess.Popen
    confdir: Path
    db: Path
    log: Path

    @property
    def ca(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                # a deadline, not a pause: the proxy stores what its detector still holds
                # before it exits (the engine allows itself 60 s); on a busy machine that
                # took over 20 s once, and a kill then lost the last findings
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")


def start_proxy(tmp: Path, profile: Path, upstream_port: int, *extra: str, session: str = "e2e") -> Proxy:
    port = free_port()
    confdir = tmp / "conf"
    db = tmp / "live.db"
    log = tmp / "proxy.log"
    env = {**os.environ, "CONSENTSCOPE_TEST_UPSTREAM": f"127.0.0.1:{upstream_port}", "HOME": str(tmp)}
    cmd = [
        sys.executable, "-m", "consentscope", "proxy", "--profile", str(profile),
        "--db", f"sqlite:///{db}", "--session", session,
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        "--set", f"confdir={confdir}", "--set", "ssl_insecure=true",
        "-s", str(HERE / "route_to_local.py"), *extra,
    ]
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("proxy exited:\n" + log.read_text(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if (confdir / "mitmproxy-ca-cert.pem").exists():
                    return Proxy(port, proc, confdir, db, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("proxy did not start:\n" + log.read_text(errors="replace"))


def https_request(proxy: Proxy, host: str, method: str, path: str, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> int:
    """A real HTTPS request through the proxy (CONNECT tunnel, TLS with SNI=host)."""
    import http.client

    ctx = ssl.create_default_context(cafile=str(proxy.ca))
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=ctx, timeout=60)
    conn.set_tunnel(host, 443)
    conn.request(method, path, body=body or None, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def http_request(proxy: Proxy, url: str) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    conn.request("GET", url)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def b64gzip(data: bytes) -> bytes:
    import gzip

    return base64.b64encode(gzip.compress(data, mtime=0))


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A profile with one IMEI (``861234567890127``) and the app's own domain; a test module
    that needs more values defines its own ``profile``."""
    p = tmp_path / "profile.toml"
    p.write_text('[app]\npackage = "com.example.app"\nfirst_party_domains = ["example-app.com"]\n'
                 '[device]\nimei = "861234567890127"\n')
    return p
