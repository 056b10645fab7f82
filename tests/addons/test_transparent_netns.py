"""Transparent mode end to end: a "device" namespace whose HTTPS is redirected by iptables
to the proxy in a "router" namespace, and a "server" namespace behind it.

All three namespaces and their addresses are created by this test and deleted after it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import self_signed

pytestmark = pytest.mark.slow

IMEI = "861234567890127"


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "iptables", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs it on Debian)"
    probe = f"csprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create network namespaces here: {r.stderr.strip()}"
    r = subprocess.run(["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-L"], capture_output=True, text=True)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if r.returncode != 0:
        return f"iptables NAT is not available in a namespace: {r.stderr.strip()}"
    return None


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[dict[str, str]]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tag = str(os.getpid())[-5:]
    ns = {"dev": f"csdev{tag}", "rt": f"csrt{tag}", "srv": f"cssrv{tag}"}
    try:
        for name in ns.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        # device <-> router, router <-> server
        for side, peer, where in ((f"d{tag}", f"rd{tag}", ns["dev"]), (f"s{tag}", f"rs{tag}", ns["srv"])):
            sh("ip", "link", "add", side, "netns", where, "type", "veth", "peer", "name", peer, "netns", ns["rt"])
        for n, dev, addr in [
            (ns["dev"], f"d{tag}", "10.231.1.2/24"), (ns["rt"], f"rd{tag}", "10.231.1.1/24"),
            (ns["rt"], f"rs{tag}", "10.231.2.1/24"), (ns["srv"], f"s{tag}", "10.231.2.2/24"),
        ]:
            sh("ip", "-n", n, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", n, "link", "set", dev, "up")
        sh("ip", "-n", ns["dev"], "route", "add", "default", "via", "10.231.1.1")
        sh("ip", "-n", ns["srv"], "route", "add", "default", "via", "10.231.2.1")
        sh("ip", "netns", "exec", ns["rt"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for port in ("80", "443"):
            sh("ip", "netns", "exec", ns["rt"], "iptables", "-t", "nat", "-A", "PREROUTING", "-i", f"rd{tag}",
               "-p", "tcp", "--dport", port, "-j", "REDIRECT", "--to-port", "8080")
        yield ns
    finally:
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


SERVER = r'''
import ssl, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
s = HTTPServer(("10.231.2.2", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
'''


def test_transparent_mode_through_namespaces(tmp_path: Path, netns: dict[str, str]) -> None:
    cert, key = self_signed(tmp_path)
    server = subprocess.Popen(["ip", "netns", "exec", netns["srv"], sys.executable, "-c", SERVER, str(cert), str(key)])
    profile = tmp_path / "p.toml"
    profile.write_text(f'[device]\nimei = "{IMEI}"\n')
    db, conf, log = tmp_path / "tp.db", tmp_path / "conf", tmp_path / "proxy.log"
    proxy = subprocess.Popen(
        ["ip", "netns", "exec", netns["rt"], sys.executable, "-m", "consentscope", "proxy", "--profile", str(profile),
         "--db", f"sqlite:///{db}", "--session", "tp", "--mode", "transparent", "--listen-port", "8080",
         "--set", f"confdir={conf}", "--set", "ssl_insecure=true"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        ca = conf / "mitmproxy-ca-cert.pem"
        for _ in range(100):
            if ca.exists() and "listening" in log.read_text(errors="replace"):
                break
            time.sleep(0.1)
        r = subprocess.run(
            ["ip", "netns", "exec", netns["dev"], "curl", "-sS", "--max-time", "20", "--cacert", str(ca),
             "--resolve", "ulogs.umeng.com:443:10.231.2.2", f"https://ulogs.umeng.com/log?imei={IMEI}"],
            capture_output=True, text=True, timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "ok", r.stderr + log.read_text(errors="replace")
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(20)
        server.kill()
        server.wait()
    out = tmp_path / "r.json"
    rep = subprocess.run(
        [sys.executable, "-m", "consentscope", "report", "--db", f"sqlite:///{db}", "--json", str(out)],
        capture_output=True, text=True,
    )
    assert rep.returncode == 0, rep.stderr
    found = [(f["host"], f["data_type"], f["location"]) for f in json.loads(out.read_text())["findings"]]
    assert found == [("ulogs.umeng.com", "imei", "url.query:imei")], log.read_text(errors="replace")
