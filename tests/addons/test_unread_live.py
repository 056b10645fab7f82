"""What the live proxy cannot read is still seen (issue 11): an app that pins its certificates
aborts the handshake (``tls-failed``), a host in ``ignore_hosts`` is passed through
(``tls-passthrough``); both are contacts with host, party, SDK and phase, in the database,
in ``report --json``, in the log, and in the coverage. Real mitmdump, real clients, loopback."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_for

from .conftest import Upstream, http_request, start_proxy

pytestmark = pytest.mark.slow

IMEI = "861234567890127"


def contacts(db: Path) -> list[tuple[str, str, str, str, str]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return [tuple(r) for r in conn.execute("SELECT via, host, party, coalesce(sdk, ''), phase FROM cs_contacts")]
    except sqlite3.Error:
        return []


def pinned_client(port: int, host: str) -> None:
    """A client that trusts only the real CA store, as a pinning app trusts only its own keys:
    the proxy's certificate is refused and the handshake aborted."""
    if shutil.which("curl"):
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--proxy", f"http://127.0.0.1:{port}",
                            f"https://{host}/unify_logs?imei={IMEI}"], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "certificate" in r.stderr.lower(), r.stderr
        return
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(raw, server_hostname=host)


def test_pinned_and_passed_through_connections_are_contacts(tmp_path: Path, profile: Path,
                                                            upstream: Upstream) -> None:
    proxy = start_proxy(tmp_path, profile, upstream.port, "--set", r"ignore_hosts=^passthrough\.umeng\.com")
    try:
        pinned_client(proxy.port, "ulogs.umeng.com")
        wait_for(lambda: any(c[0] == "tls-failed" for c in contacts(proxy.db)), "the tls-failed contact")
        # a host the tester told mitmproxy to leave alone: passed through, content unseen
        raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=20)
        raw.sendall(b"CONNECT passthrough.umeng.com:443 HTTP/1.1\r\nHost: passthrough.umeng.com:443\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the test server's own certificate
        tls = ctx.wrap_socket(raw, server_hostname="passthrough.umeng.com")
        tls.sendall(b"GET /x HTTP/1.1\r\nHost: passthrough.umeng.com\r\nConnection: close\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 200")
        tls.close()
        wait_for(lambda: any(c[0] == "tls-passthrough" for c in contacts(proxy.db)), "the passthrough contact")
        status, _ = http_request(proxy, "http://consentscope.invalid/consent")
        assert status == 200
    finally:
        log = proxy.stop()
    assert "Traceback" not in log
    assert "PINNED ulogs.umeng.com [" in log and "BEFORE consent: content not visible" in log
    assert "PASSTHROUGH passthrough.umeng.com" in log
    got = {c[0]: c for c in contacts(proxy.db)}
    assert got["tls-failed"][1:] == ("ulogs.umeng.com", "third-party", got["tls-failed"][3], "before-consent")
    assert got["tls-failed"][3].startswith("Umeng")
    assert got["tls-passthrough"][1] == "passthrough.umeng.com"
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "report", "--db", f"sqlite:///{proxy.db}",
                        "--session", "e2e", "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    vias = {(c["via"], c["host"], c["phase"], c["source"]) for c in doc["contacts"]}
    assert ("tls-failed", "ulogs.umeng.com", "before-consent", "live") in vias
    assert ("tls-passthrough", "passthrough.umeng.com", "before-consent", "live") in vias
    assert doc["coverage"]["unread_connections"] == 2
    assert any(v["rule"] == "MIIT-3" and v["check"] == "contact-only" for v in doc["violations"])
    verdicts = {v["category"]: v["status"] for v in doc["verdicts"]}
    assert verdicts["MIIT-3"] == "violation" and verdicts["MIIT-1"] == "cannot-tell"
