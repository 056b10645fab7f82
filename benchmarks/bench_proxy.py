"""What the addon costs the proxied traffic: plain mitmdump vs mitmdump + consentscope.

Both run in the same session against the same local upstream server with the same
request mix (from ``corpus.py``): requests/s through the proxy and latency percentiles.
Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import full_profile_toml, generate_corpus

ROOT = Path(__file__).resolve().parent.parent


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(port: int, tmp: Path, addon: bool) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1",
           "--listen-port", str(port), "--set", f"confdir={tmp / 'conf'}"]
    if addon:
        profile = tmp / "profile.toml"
        profile.write_text(full_profile_toml())
        cmd += ["-s", str(ROOT / "addons" / "consentscope.py"), "--set", f"consentscope_profile={profile}",
                "--set", f"consentscope_db=sqlite:///{tmp / 'bench.db'}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("proxy did not start")


def run_load(proxy_port: int, upstream_port: int, requests: list, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [requests[i::clients] for i in range(clients)]

    def client(chunk: list) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
        mine = []
        for r in chunk:
            headers = dict(r.headers)
            headers["Host"] = f"127.0.0.1:{upstream_port}"
            t0 = time.perf_counter()
            conn.request("POST", f"http://127.0.0.1:{upstream_port}{r.path}", body=r.body, headers=headers)
            conn.getresponse().read()
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    # the realistic mix without the megabyte outliers, which measure the loopback, not us
    requests = [r for r in generate_corpus(args.requests * 2, seed=7) if len(r.body) < 64 * 1024][: args.requests]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = server.server_address[1]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, addon in (("plain mitmdump", False), ("mitmdump + consentscope", True)):
            port = free_port()
            proc = start_proxy(port, Path(tmp), addon)
            try:
                run_load(port, up, requests[:200], args.clients)  # warm-up
                elapsed, lat = run_load(port, up, requests, args.clients)
            finally:
                proc.terminate()
                proc.wait(30)
            results[name] = (len(requests) / elapsed, pct(lat, 50), pct(lat, 99))
            print(f"{name:26s} {results[name][0]:8,.0f} requests/s   p50 {results[name][1]:6.2f} ms   "
                  f"p99 {results[name][2]:6.2f} ms")
    base, ours = results["plain mitmdump"], results["mitmdump + consentscope"]
    print(f"addon cost: {100 * (1 - ours[0] / base[0]):.1f}% of throughput, "
          f"+{ours[1] - base[1]:.2f} ms at p50, +{ours[2] - base[2]:.2f} ms at p99 "
          f"({len(requests)} requests, {args.clients} clients, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
