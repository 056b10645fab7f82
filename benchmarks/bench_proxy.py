"""What the addon costs the proxied traffic: plain mitmdump vs mitmdump + consentscope.

Every variant (plain mitmdump, mitmdump with the addon, and with ``--compare REF`` the
addon as it was at a git revision) runs at the same time against the same local upstream
server, warmed up, and gets the same request mix (from ``corpus.py``) from the same
clients in rounds: every round runs each variant once, in alternating order, each time
after the detectors of all variants have stored every request sent so far, so machine noise and a detector's
leftover work hit no variant more than another. Reported: the median over rounds of the
throughput ratio to plain mitmdump, latency percentiles over all rounds' requests, CPU
milliseconds per request of the proxy and of the detector process (what the addon costs in
work, whatever else runs on the machine), and how long after the last request of a round the
detector had stored every request (it must keep up, or its queue grows). ``--soak N``: N requests
through the addon, the memory (RSS) of mitmdump and of the detector sampled from start to
end. Loopback, Linux (``/proc``) only.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
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


# ----------------------------------------------------------------------------- processes (/proc)

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) / _TICK if f else 0.0


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * _PAGE / 1e6


def detector_pid(parent: int) -> int | None:
    """The addon's detector: the child of mitmdump started by multiprocessing's spawn."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        f = _stat(int(entry))
        if f and int(f[1]) == parent:
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmd:
                return int(entry)
    return None


# ----------------------------------------------------------------------------- variants


class Variant:
    """One mitmdump: plain, or with the addon (of this tree, or of a git revision)."""

    def __init__(self, name: str, script: Path | None, pythonpath: str | None = None) -> None:
        self.name = name
        self.script = script
        self.pythonpath = pythonpath
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.detector: int | None = None
        self.db: Path | None = None
        self.sent = 0
        self.rounds: list[float] = []  # requests/s
        self.latencies: list[float] = []
        self.proxy_cpu = 0.0
        self.detector_cpu = 0.0
        self.requests = 0
        self.lags: list[float] = []
        self.ratio = 1.0
        self.p99 = 0.0

    def start(self, tmp: Path) -> None:
        self.port = free_port()
        cmd = [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1",
               "--listen-port", str(self.port), "--set", f"confdir={tmp / 'conf'}"]
        env = dict(os.environ)
        if self.script is not None:
            home = tmp / self.name.replace(" ", "_")
            home.mkdir()
            profile = home / "profile.toml"
            profile.write_text(full_profile_toml())
            self.db = home / "bench.db"
            cmd += ["-s", str(self.script), "--set", f"consentscope_profile={profile}",
                    "--set", f"consentscope_db=sqlite:///{self.db}"]
            if self.pythonpath:
                env["PYTHONPATH"] = self.pythonpath
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"{self.name}: proxy did not start")
        if self.script is not None:
            while time.monotonic() < deadline and self.detector is None:
                self.detector = detector_pid(self.proc.pid)
                time.sleep(0.05)

    def cpu(self) -> tuple[float, float]:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid), cpu_seconds(self.detector) if self.detector else 0.0

    def load(self, messages: list[bytes], clients: int) -> tuple[float, list[float]]:
        self.sent += len(messages)
        return run_load(self.port, messages, clients)

    def stored(self) -> int:
        """Requests the detector has scanned and stored (the session's request count)."""
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1.0)
            try:
                return int(con.execute("SELECT coalesce(sum(requests), 0) FROM cs_sessions").fetchone()[0])
            finally:
                con.close()
        except sqlite3.Error:
            return -1

    def caught_up(self, timeout: float = 600.0) -> float:
        """Wait until the detector has scanned and stored every request sent; seconds waited."""
        t0 = time.monotonic()
        while self.db is not None and self.stored() < self.sent:
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{self.name}: the detector stored {self.stored()} of {self.sent} requests")
            time.sleep(0.05)
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: what ``--compare REF`` takes from the revision: the addon and the storage its writer
#: writes with (the detectors, tracker_db and the rest stay this tree's)
REF_PATHS = ("addons", "consentscope/storage")


def ref_overlay(ref: str, tmp: Path) -> str:
    """A ``PYTHONPATH`` where ``consentscope.addons`` and ``consentscope.storage`` are
    ``REF_PATHS`` at git revision ``ref`` and everything else this tree (so only the live
    path differs)."""
    base = tmp / f"ref-{ref}".replace("/", "_")
    base.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *REF_PATHS], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
    pkg = base / "pkg" / "consentscope"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "consentscope").iterdir():
        if entry.name not in ("__pycache__", "storage"):
            (pkg / entry.name).symlink_to(entry)
    (pkg / "storage").symlink_to(base / "consentscope" / "storage")
    for sub in ("detectors", "tracker_db", "reports"):
        (pkg / sub).symlink_to(ROOT / sub)
    (pkg / "addons").symlink_to(base / "addons")
    return str(base / "pkg")


# ----------------------------------------------------------------------------- load


def encode(requests: list, upstream_port: int) -> list[bytes]:
    out = []
    for r in requests:
        head = [f"POST http://127.0.0.1:{upstream_port}{r.path} HTTP/1.1", f"Host: 127.0.0.1:{upstream_port}"]
        head += [f"{k}: {v}" for k, v in r.headers if k.lower() not in ("host", "content-length")]
        head.append(f"Content-Length: {len(r.body)}")
        out.append(("\r\n".join(head) + "\r\n\r\n").encode() + r.body)
    return out


def run_load(proxy_port: int, messages: list[bytes], clients: int) -> tuple[float, list[float]]:
    """``clients`` keep-alive connections, each sending its share of ``messages`` one after
    another; (seconds, latency of every request)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [messages[i::clients] for i in range(clients)]
    go = threading.Event()

    def client(chunk: list[bytes]) -> None:
        sock = socket.create_connection(("127.0.0.1", proxy_port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        mine = []
        go.wait()
        for message in chunk:
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
    for t in threads:
        t.start()
    time.sleep(0.05)  # connections open before the clock starts
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] * 1000


def compare(variants: list[Variant], messages: list[bytes], args: argparse.Namespace) -> None:
    for v in variants:
        v.load(messages[:300], args.clients)  # warm-up (imports, caches, connections)
    for round_no in range(args.rounds):
        order = variants if round_no % 2 == 0 else variants[::-1]
        for v in order:
            for w in variants:
                w.caught_up()
            cpu0 = v.cpu()
            elapsed, lat = v.load(messages, args.clients)
            v.lags.append(v.caught_up())  # the detector's work for this round, finished
            cpu1 = v.cpu()
            v.rounds.append(len(messages) / elapsed)
            v.latencies.extend(lat)
            v.proxy_cpu += cpu1[0] - cpu0[0]
            v.detector_cpu += cpu1[1] - cpu0[1]
            v.requests += len(messages)
        done = ", ".join(f"{v.name} {v.rounds[-1]:,.0f} r/s" for v in variants)
        print(f"round {round_no + 1}/{args.rounds}: {done}", flush=True)


def report(variants: list[Variant], args: argparse.Namespace, n: int) -> None:
    base = variants[0]
    print(f"\n{n} requests x {args.rounds} rounds, {args.clients} clients, {os.cpu_count()} cores; "
          "throughput: median over rounds; latency: over all rounds; CPU: ms per request")
    print(f"{'':34s} {'r/s':>6s} {'ratio':>6s} {'p50 ms':>7s} {'p99 ms':>7s} {'p99 +ms':>8s} "
          f"{'proxy CPU':>9s} {'detector CPU':>12s} {'detector lag s':>14s}")
    base_p99 = pct(base.latencies, 99)
    for v in variants:
        ratios = [a / b for a, b in zip(v.rounds, base.rounds, strict=True)]
        v.ratio = statistics.median(ratios)
        v.p99 = pct(v.latencies, 99)
        print(f"{v.name:34s} {statistics.median(v.rounds):6,.0f} {v.ratio:6.3f} {pct(v.latencies, 50):7.2f} "
              f"{v.p99:7.2f} {v.p99 - base_p99:+8.2f} {1000 * v.proxy_cpu / v.requests:9.3f} "
              f"{1000 * v.detector_cpu / v.requests:12.3f} {max(v.lags):14.2f}")
    from _results import record

    ours = variants[1]
    record("proxy", "throughput with the addon", statistics.median(ours.rounds), "r/s",
           statistics.median(base.rounds), "plain mitmdump", aim=">= 0.90 (median ratio over rounds)",
           ratio=ours.ratio)  # the table's: each round's ratio, then their median
    record("proxy", "p99 latency with the addon", ours.p99, "ms", base_p99, "plain mitmdump", aim="< +1 ms",
           higher_is_better=False)
    record("proxy", "proxy CPU per request with the addon", 1000 * ours.proxy_cpu / ours.requests, "ms",
           1000 * base.proxy_cpu / base.requests, "plain mitmdump", higher_is_better=False)
    record("proxy", "detector CPU per request", 1000 * ours.detector_cpu / ours.requests, "ms",
           1000 * base.proxy_cpu / base.requests, "plain mitmdump's CPU", higher_is_better=False)
    record("proxy", "detector lag after a round", max(ours.lags), "s", aim="< 1 s (it keeps up)",
           higher_is_better=False)


def soak(variant: Variant, messages: list[bytes], total: int, clients: int) -> None:
    """``total`` requests through the addon in rounds of ``len(messages)``, RSS sampled after
    each; start = after the first round (warm), end = after the last, the detector caught up."""
    assert variant.proc is not None and variant.detector is not None
    samples: list[tuple[int, float, float]] = []
    done = 0
    t0 = time.perf_counter()
    while done < total:
        batch = messages[: total - done]
        variant.load(batch, clients)
        done += len(batch)
        variant.caught_up()
        samples.append((done, rss_mb(variant.proc.pid), rss_mb(variant.detector)))
    first, last = samples[0], samples[-1]
    peak_proxy, peak_det = max(s[1] for s in samples), max(s[2] for s in samples)
    print(f"\nsoak: {done:,} requests in {time.perf_counter() - t0:.0f} s; RSS after {first[0]:,} → after {last[0]:,}: "
          f"mitmdump {first[1]:.1f} → {last[1]:.1f} MB (peak {peak_proxy:.1f}), "
          f"detector {first[2]:.1f} → {last[2]:.1f} MB (peak {peak_det:.1f})")
    for d, p, q in samples:
        print(f"  {d:>8,} requests: mitmdump {p:7.1f} MB, detector {q:7.1f} MB")
    from _results import record

    record("proxy", f"mitmdump RSS after {done:,} requests", last[1], "MB", first[1], f"after {first[0]:,}",
           aim="flat (ratio >= 0.95)", higher_is_better=False)
    record("proxy", f"detector RSS after {done:,} requests", last[2], "MB", first[2], f"after {first[0]:,}",
           aim="flat (ratio >= 0.95)", higher_is_better=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000, help="requests per round and variant")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--compare", metavar="REF", action="append", default=[],
                    help="also run the addon and its storage as they were at this git revision (same detectors)")
    ap.add_argument("--soak", type=int, default=0, metavar="N",
                    help="then N requests through the addon, memory sampled from start to end")
    args = ap.parse_args()
    # the realistic mix without the megabyte outliers, which measure the loopback, not us
    requests = [r for r in generate_corpus(args.requests * 2, seed=7) if len(r.body) < 64 * 1024][: args.requests]
    server = Upstream()
    server.start()
    messages = encode(requests, server.port)
    script = ROOT / "addons" / "consentscope.py"
    with tempfile.TemporaryDirectory() as tmp:
        variants = [Variant("plain mitmdump", None), Variant("mitmdump + consentscope", script)]
        for ref in args.compare:
            path = ref_overlay(ref, Path(tmp))
            variants.append(Variant(f"mitmdump + consentscope@{ref}"[:34], Path(path) / "consentscope" / "addons"
                                    / "consentscope.py", pythonpath=path))
        try:
            for v in variants:
                v.start(Path(tmp))
            if args.rounds:
                compare(variants, messages, args)
                report(variants, args, len(messages))
            if args.soak:
                for v in variants:
                    if v is not variants[1]:
                        v.stop()
                soak(variants[1], messages, args.soak, args.clients)
        finally:
            for v in variants:
                v.stop()


if __name__ == "__main__":
    main()
