"""What the addon costs the proxied traffic: plain mitmdump vs mitmdump + consentscope.

Both run in the same session against the same local upstream server with the same
request mix (from ``corpus.py``): requests/s through the proxy and latency percentiles.
Loopback only.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import full_profile_toml, generate_corpus

ROOT = Path(__file__).resolve().parent.parent


class Upstream(threading.Thread):
    """A minimal keep-alive HTTP/1.1 server: reads a request, answers "ok" in one write.
    (http.server answers in several small writes, which meet delayed ACKs: 40 ms each.)"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def run(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    @staticmethod
    def serve(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


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
        sock = socket.create_connection(("127.0.0.1", proxy_port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        mine = []
        for r in chunk:
            head = [f"POST http://127.0.0.1:{upstream_port}{r.path} HTTP/1.1", f"Host: 127.0.0.1:{upstream_port}"]
            head += [f"{k}: {v}" for k, v in r.headers if k.lower() not in ("host", "content-length")]
            head.append(f"Content-Length: {len(r.body)}")
            message = ("\r\n".join(head) + "\r\n\r\n").encode() + r.body
            t0 = time.perf_counter()
            sock.sendall(message)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            mine.append(time.perf_counter() - t0)
        sock.close()
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
    server = Upstream()
    server.start()
    up = server.port
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
    from _results import record

    record("proxy", "throughput with the addon", ours[0], "r/s", base[0], "plain mitmdump", aim=">= 0.90")
    record("proxy", "p99 latency with the addon", ours[2], "ms", base[2], "plain mitmdump", aim="< +1 ms",
           higher_is_better=False)


if __name__ == "__main__":
    main()
