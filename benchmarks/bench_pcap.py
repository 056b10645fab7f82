"""pcap replay speed and memory against dpkt's bare parse of the same file, same run.

Generates a capture of at least 200 MB (HTTP requests of the realistic mix, one TCP
connection each, in full-size segments), then times ``iter_pcap`` (framing, reassembly,
HTTP parsing, contacts) and a bare ``dpkt.pcap.Reader`` loop that parses Ethernet, IP
and TCP of every packet. Peak memory is measured in a child process per reader.

The machine is shared: times are the child's CPU time (process start included), each
reader runs ``--repeat`` times, alternating, and the fastest run of each counts (a single
wall-clock run swung from 0.38x to 0.59x with other jobs running).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MSS = 1448


def generate(path: Path, target_mb: int) -> int:
    import dpkt
    from corpus import generate_corpus

    records = [r for r in generate_corpus(3000, seed=5) if len(r.body) < 256 * 1024]
    eth_hdr = b"\x04" * 6 + b"\x02" * 6 + b"\x08\x00"
    packets = 0
    t = 1_772_445_600.0
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        i = 0
        while fh.tell() < target_mb * 1024 * 1024:
            r = records[i % len(records)]
            head = [f"POST {r.path} HTTP/1.1", f"Host: {r.host}"] + [f"{k}: {v}" for k, v in r.headers if k != "Host"]
            stream = ("\r\n".join([*head, f"Content-Length: {len(r.body)}"]) + "\r\n\r\n").encode() + r.body
            sport = 1024 + i % 60000
            src = socket.inet_aton(f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
            for off in range(0, len(stream), MSS):
                last = off + MSS >= len(stream)
                flags = dpkt.tcp.TH_ACK | (dpkt.tcp.TH_FIN if last else 0)
                tcp = dpkt.tcp.TCP(sport=sport, dport=80, seq=1 + off, flags=flags, data=stream[off : off + MSS])
                ip = dpkt.ip.IP(src=src, dst=socket.inet_aton("203.0.113.5"), p=6, data=tcp)
                ip.len = len(bytes(ip))
                frame = eth_hdr + bytes(ip)
                t += 0.0001
                fh.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)) + frame)
                packets += 1
            i += 1
    return packets


def peak_kb() -> int:
    """This process's own peak RSS (VmHWM is reset by exec; ru_maxrss may carry the
    parent's peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_ours(path: str) -> None:
    from consentscope.readers.pcap import iter_pcap

    n = sum(1 for _ in iter_pcap(path))
    print(n, peak_kb())


def run_dpkt(path: str) -> None:
    import dpkt

    n = 0
    with open(path, "rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
                n += len(ip.data.data)
    print(n, peak_kb())


def measure(which: str, path: Path) -> tuple[float, float]:
    """(CPU seconds of the child, its peak MB). CPU time, not wall time: on a shared
    machine other jobs stretch wall time by up to 50% between identical runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--run", which, str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu, int(r.stdout.split()[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="runs per reader, alternating; the fastest counts")
    ap.add_argument("--run", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        (run_ours if args.run[0] == "ours" else run_dpkt)(args.run[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pcap"
        t0 = time.perf_counter()
        packets = generate(path, args.mb)
        size = os.path.getsize(path) / 1e6
        print(f"capture: {size:.0f} MB, {packets:,} packets (generated in {time.perf_counter() - t0:.0f} s)")
        runs: dict[str, list[tuple[float, float]]] = {"dpkt": [], "ours": []}
        for _ in range(args.repeat):
            for which in runs:
                runs[which].append(measure(which, path))
        (base_s, base_mem), (ours_s, ours_mem) = min(runs["dpkt"]), min(runs["ours"])
    for name, secs, mem in (("dpkt bare parse", base_s, base_mem), ("consentscope iter_pcap", ours_s, ours_mem)):
        print(f"{name:23s} {size / secs:6.1f} MB/s  {packets / secs:9,.0f} packets/s  peak {mem:.0f} MB")
    print(f"ratio: {base_s / ours_s:.2f} of dpkt's bare parse speed (CPU time, process start included in both)")


if __name__ == "__main__":
    main()
