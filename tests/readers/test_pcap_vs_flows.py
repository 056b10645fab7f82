"""The same requests, captured twice: by tcpdump on loopback and by mitmdump's -w.
Both captures replay to the same findings (one pipeline, many doors)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.waiting import wait_for

pytestmark = pytest.mark.slow

IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _ok(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _ok

    def log_message(self, *args: object) -> None:
        pass


def wait_port(port: int, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("process exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port did not open")


def test_tcpdump_and_flow_file_give_the_same_findings(tmp_path: Path) -> None:
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (make test installs it on Debian)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    pcap, flows = tmp_path / "lo.pcap", tmp_path / "flows.mitm"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", str(pcap), f"tcp port {port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = dump.stderr.readline() if dump.stderr else ""
    if "listening" not in line:
        dump.kill()
        pytest.skip(f"tcpdump cannot capture here: {line.strip()}")
    proxy_port = free_port()
    proxy = subprocess.Popen(
        [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port",
         str(proxy_port), "-w", str(flows), "--set", f"confdir={tmp_path / 'conf'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        wait_port(proxy_port, proxy)
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
        base = f"http://127.0.0.1:{port}"
        for method, path, body, headers in [
            ("GET", f"/v1/cfg?imei={IMEI}", None, {}),
            ("POST", "/v1/log", json.dumps({"aid": ANDROID_ID}).encode(), {"Content-Type": "application/json"}),
            ("POST", "/v1/batch", gzip.compress(json.dumps({"d": {"imei": IMEI}}).encode(), mtime=0),
             {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
            ("POST", "/v1/form", f"a=1&android_id={ANDROID_ID}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}),
        ]:
            conn.request(method, base + path, body=body, headers=headers)
            assert conn.getresponse().read() == b"ok"
        conn.close()
        # tcpdump -U writes each packet as it comes: wait until the last request is in the file
        wait_for(lambda: f"android_id={ANDROID_ID}".encode() in pcap.read_bytes(), "the last request in the pcap")
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(20)
        dump.send_signal(signal.SIGINT)
        dump.wait(20)
        server.shutdown()
    profile = tmp_path / "p.toml"
    profile.write_text(f'[device]\nimei = "{IMEI}"\nandroid_id = "{ANDROID_ID}"\n')

    def findings(capture: Path) -> list[tuple]:
        out = tmp_path / f"{capture.name}.json"
        r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(profile),
                            "--json", str(out), "--db", "", "-q"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return [(f["method"], f["url"], f["data_type"], tuple(f["encoding"]), f["location"])
                for f in json.loads(out.read_text())["findings"]]

    from_flows, from_pcap = findings(flows), findings(pcap)
    assert len(from_flows) == 4
    assert from_pcap == from_flows
