"""Flow-file replay speed and memory against mitmproxy's bare ``FlowReader``, same run.

Generates a flow file of about ``--mb`` MB of SDK-like traffic (the corpus mix without the
large uploads: API calls, SDK batches, some images; about 2-7 KB a flow, as real captures
of SDK traffic hold), written by the installed mitmproxy's ``FlowWriter``. Then, each in a
child process (process start and imports included in every one):

* ``reader``: the bare ``FlowReader(open(f, "rb")).stream()`` loop, the baseline;
* ``ours``: consentscope's flow reader alone (``iter_flowfile``: every record built);
* ``replay --jobs 1``: the whole ``consentscope replay FILE --profile P --db sqlite:///x.db
  --json x.json`` (read, detect, judge, store, write the JSON) in one process;
* ``replay --jobs N``: the same with the scans in N worker processes (N: the replay's own
  default, one per usable core, capped; ``--jobs`` here to choose).

Each runs ``--repeat`` times, alternating, and the fastest of each counts. Two clocks: the
wall clock (what a user waits for; the figure a parallel replay is judged by, aim:
reader time / replay time >= 1.0) and CPU time (user + system of the process and its
workers: the work done, which the workers only add to). The machine may be shared: a busy
machine stretches the wall clock of the parallel replay most; the figures always come with
the reader's from the same run.

Memory: peak RSS of the replay's process (``ru_maxrss`` from ``wait4``) plus each worker's
peak (``VmHWM``, read from /proc while it runs): an upper bound, since pages a worker shares
with the process it was forked from count in both; and the peak of their summed PSS
(shared pages split between the processes sharing them), sampled. ``--big FLOWS`` adds the
memory of a replay of that many small flows with three findings each (100,000: aim < 300 MB
for all the processes together, and flat: the same order as the small replay).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "captures"), str(ROOT)]

CONSENT = "/v1/privacy/consent"


#: what an SDK appends to its requests (device identifiers, one hashed)
_IDS = ("oaid=0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11&aid=9774d56d682e549c"
        "&muid=" + __import__("hashlib").md5(b"861234567890127").hexdigest())


def generate(path: Path, target_mb: int) -> int:
    """SDK-like flows until the file holds ``target_mb`` MB; a consent request after a third."""
    from _flowbuild import make_flow
    from corpus import generate_corpus
    from mitmproxy import io

    from consentscope.detectors import RequestRecord

    pool = [r for r in generate_corpus(3000, seed=11) if len(r.body) <= 16 * 1024]
    n = 0
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        while fh.tell() < target_mb * 1024 * 1024:
            r = replace(pool[n % len(pool)], flow_id=f"f{n:07d}", time=1_772_445_600.0 + n * 0.05)
            if n % 3:  # SDKs send the device's identifiers with most requests: ~3 findings a flow
                r = replace(r, path=r.path + ("&" if "?" in r.path else "?") + _IDS)
            if n == 1000:
                r = RequestRecord(flow_id="consent", time=r.time, method="POST", scheme="https",
                                  host="api.demoshop.com.cn", port=443, path=CONSENT,
                                  headers=(("Host", "api.demoshop.com.cn"),), body=b'{"agree":1}')
            w.add(make_flow(r, client_port=40000 + n % 20000))
            n += 1
    return n


BIG_PROFILE = '[device]\nimei = "861234567890127"\noaid = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"\n' \
              'android_id = "9774d56d682e549c"\n'


def generate_big(path: Path, flows: int) -> int:
    """``flows`` small GETs, each with three profile values in its query: 3 findings a flow."""
    from _flowbuild import make_flow
    from mitmproxy import io

    from consentscope.detectors import RequestRecord

    hosts = ["ulogs.umeng.com", "tsis.jpush.cn", "mi.gdt.qq.com", "sdk.sensorsdata.cn", "api.demoshop.com.cn"]
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        for i in range(flows):
            host = hosts[i % len(hosts)]
            r = RequestRecord(
                flow_id=f"b{i:07d}", time=1_772_445_600.0 + i * 0.01, method="GET", scheme="https", host=host,
                port=443, path=f"/v1/log?imei=861234567890127&oaid=0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
                               f"&aid=9774d56d682e549c&seq={i}",
                headers=(("Host", host), ("User-Agent", "okhttp/4.9.3")), sni=host, server_ip="198.51.100.7")
            w.add(make_flow(r, client_port=40000 + i % 20000))
    return flows


def run_reader(path: str) -> None:
    from mitmproxy.io import FlowReader

    with open(path, "rb") as fh:
        n = sum(1 for _ in FlowReader(fh).stream())
    print(n)


def run_ours(path: str) -> None:
    from consentscope.readers.flowfile import iter_flowfile

    print(sum(1 for _ in iter_flowfile(path)))


def replay_cmd(path: Path, profile: Path, out: Path, jobs: int | None) -> list[str]:
    """``jobs`` None: no ``--jobs`` (a consentscope from before the option)."""
    db = out / "replay.db"
    db.unlink(missing_ok=True)
    return [sys.executable, "-m", "consentscope", "replay", str(path), "--profile", str(profile),
            "--consent-marker", CONSENT, "--db", f"sqlite:///{db}", "--json", str(out / "replay.json"), "-q",
            *(["--jobs", str(jobs)] if jobs else [])]


@dataclass
class Run:
    cpu: float  # user + system seconds of the process and its reaped children
    wall: float
    peak_main: float  # MB, ru_maxrss
    peak_sum: float  # MB, ru_maxrss + every child's VmHWM (upper bound of all together)
    peak_pss: float  # MB, the highest sampled sum of PSS over the process and its children
    workers: int  # children seen
    out: str
    main_cpu: float  # the replay process's own CPU seconds (cpu less its workers', read from /proc)

    def bound(self, cores: int) -> float:
        """The shortest wall time this run's work allows on ``cores`` free cores: the main
        process's own CPU time, or all the CPU time spread over every core."""
        return max(self.main_cpu, self.cpu / cores)


def _proc_kb(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watch(pid: int, stop: threading.Event, hwm: dict[int, int], cpu: dict[int, float], pss: list[int]) -> None:
    """Every 0.1 s: each child's peak RSS and CPU time so far, and the summed PSS of all.
    A worker is idle for its last moments (the replay stores and writes reports after the
    last scan), so its last sample is its CPU time."""
    while not stop.wait(0.1):
        kids = _children(pid)
        total = _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
        for k in kids:
            hwm[k] = max(hwm.get(k, 0), _proc_kb(f"/proc/{k}/status", "VmHWM:"))
            cpu[k] = max(cpu.get(k, 0.0), _cpu_s(k))
            total += _proc_kb(f"/proc/{k}/smaps_rollup", "Pss:")
        pss[0] = max(pss[0], total)


def spawn(cmd: list[str], pythonpath: str | None = None) -> Run:
    """Run ``cmd``, reaping it ourselves so its own rusage (CPU, peak RSS) is exact.
    ``pythonpath``: a tree whose ``consentscope`` package is imported instead of this one."""
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    t0 = time.perf_counter()
    # ``-m`` puts the working directory first on sys.path: run in the tree measured
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=pythonpath or ROOT, env=env)
    assert p.stdout is not None and p.stderr is not None
    stop, hwm, cpu, pss = threading.Event(), dict[int, int](), dict[int, float](), [0]
    watcher = threading.Thread(target=_watch, args=(p.pid, stop, hwm, cpu, pss), daemon=True)
    watcher.start()
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.decode(errors='replace')[-2000:]}")
    main_mb = usage.ru_maxrss / 1024
    total = usage.ru_utime + usage.ru_stime
    return Run(total, wall, main_mb, main_mb + sum(hwm.values()) / 1024, pss[0] / 1024, len(hwm), out.decode(),
               total - sum(cpu.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=20, help="size of the SDK-like flow file")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; the fastest counts")
    ap.add_argument("--jobs", type=int, default=0,
                    help="workers of the parallel replay (default: the replay's own default for this machine)")
    ap.add_argument("--big", type=int, default=0, metavar="FLOWS",
                    help="also replay FLOWS small flows with 3 findings each for the memory rows, with --jobs 1 and "
                         "the parallel replay's jobs (100000: ~4 min CPU each)")
    ap.add_argument("--compare", metavar="NAME=TREE", action="append", default=[],
                    help="also time the replay of another consentscope (a folder holding a `consentscope` "
                         "package laid out as installed, e.g. `git archive` of an older commit) in the same run, "
                         "with --jobs 1 and the parallel replay's jobs (it must know --jobs)")
    ap.add_argument("--keep", metavar="DIR", help="generate the flow file and profile into DIR and stop")
    ap.add_argument("--run", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        {"reader": run_reader, "ours": run_ours}[args.run[0]](args.run[1])
        return
    from corpus import full_profile_toml

    from consentscope.scanpool import default_jobs, usable_cores

    jobs = args.jobs or default_jobs()
    with tempfile.TemporaryDirectory(prefix="consentscope-bench-replay-") as tmp_s:
        tmp = Path(tmp_s)
        path = tmp / "sdk.mitm"
        t0 = time.perf_counter()
        flows = generate(path, args.mb)
        size = os.path.getsize(path) / 1e6
        print(f"flow file: {size:.1f} MB, {flows:,} flows (generated in {time.perf_counter() - t0:.0f} s); "
              f"{usable_cores()} usable cores, parallel replay with --jobs {jobs}")
        profile = tmp / "profile.toml"
        profile.write_text(full_profile_toml())
        if args.keep:
            import shutil

            os.makedirs(args.keep, exist_ok=True)
            shutil.copy(path, args.keep)
            shutil.copy(profile, args.keep)
            return
        cmds = {
            "reader": lambda: [sys.executable, __file__, "--run", "reader", str(path)],
            "ours": lambda: [sys.executable, __file__, "--run", "ours", str(path)],
            "jobs=1": lambda: replay_cmd(path, profile, tmp, 1),
        }
        if jobs > 1:
            cmds[f"jobs={jobs}"] = lambda: replay_cmd(path, profile, tmp, jobs)
        trees = dict(c.split("=", 1) for c in args.compare)
        tree_runs = {f"{name} jobs={j}": (tree, j) for name, tree in trees.items() for j in sorted({1, jobs})}
        runs: dict[str, list[Run]] = {k: [] for k in [*cmds, *tree_runs]}
        for _ in range(args.repeat):
            for which, cmd in cmds.items():
                runs[which].append(spawn(cmd()))
            for name, (tree, j) in tree_runs.items():
                runs[name].append(spawn(replay_cmd(path, profile, tmp, j), pythonpath=tree))
        cpu = {k: min(r.cpu for r in v) for k, v in runs.items()}
        wall = {k: min(r.wall for r in v) for k, v in runs.items()}
        peak = {k: max(r.peak_sum for r in v) for k, v in runs.items()}
        pss = {k: max(r.peak_pss for r in v) for k, v in runs.items()}
        import json

        findings = len(json.loads((tmp / "replay.json").read_text())["findings"])
        cores = usable_cores()
        bound = {k: min(r.bound(cores) for r in v) for k, v in runs.items()}
        main_cpu = {k: min(r.main_cpu for r in v) for k, v in runs.items()}
        print(f"  {'':24s} {'CPU':>7s} {'wall':>7s} {'bound':>7s}  ratios (FlowReader / this): CPU, wall, bound"
              f"     main process CPU (min-max over the runs); wall (min-max)")
        print(f"  {'mitmproxy FlowReader loop':24s} {cpu['reader']:6.2f}s {wall['reader']:6.2f}s")
        print(f"  {'consentscope flow reader':24s} {cpu['ours']:6.2f}s {wall['ours']:6.2f}s {'':7s}  "
              f"{cpu['reader'] / cpu['ours']:5.2f} {wall['reader'] / wall['ours']:5.2f}")
        replays = [k for k in cmds if k.startswith("jobs=")] + list(tree_runs)
        for k in replays:
            workers = max(r.workers for r in runs[k])
            print(f"  {'replay ' + k:24s} {cpu[k]:6.2f}s {wall[k]:6.2f}s {bound[k]:6.2f}s  "
                  f"{cpu['reader'] / cpu[k]:5.2f} {wall['reader'] / wall[k]:5.2f} {cpu['reader'] / bound[k]:5.2f}"
                  f"   main {main_cpu[k]:.2f}-{max(r.main_cpu for r in runs[k]):.2f}s;"
                  f" wall {wall[k]:.2f}-{max(r.wall for r in runs[k]):.2f}s"
                  f"   peak {peak[k]:.0f} MB RSS ({workers} workers; PSS {pss[k]:.0f} MB)")
        print(f"  {'mitmproxy FlowReader':24s} wall {wall['reader']:.2f}-{max(r.wall for r in runs['reader']):.2f}s")
        for k in replays:  # each round's reader and replay ran back to back: the spread of their ratio
            rounds = " ".join(f"{a.wall / b.wall:.2f}" for a, b in zip(runs["reader"], runs[k], strict=True))
            print(f"  wall ratio per round, replay {k}: {rounds}")
        last = f"jobs={jobs}"
        print(f"ratio: {wall['reader'] / wall[last]:.2f} with --jobs {jobs}, {wall['reader'] / wall['jobs=1']:.2f} "
              f"with --jobs 1 (FlowReader wall time / whole replay wall time, aim >= 1.0; {findings:,} findings); "
              f"on {cores} free cores at best {cpu['reader'] / bound[last]:.2f} and "
              f"{cpu['reader'] / bound['jobs=1']:.2f} (bound: the replay process's own CPU time, or all its "
              "processes' CPU time over the cores, against the FlowReader's CPU time)")
        from _results import record

        record("replay", "flow reader alone (CPU)", size / cpu["ours"], "MB/s", size / cpu["reader"],
               "mitmproxy FlowReader")
        record("replay", "replay --jobs 1: read, detect, store, JSON (CPU)", size / cpu["jobs=1"], "MB/s",
               size / cpu["reader"], "mitmproxy FlowReader")
        record("replay", "replay --jobs 1 (wall clock)", size / wall["jobs=1"], "MB/s", size / wall["reader"],
               "mitmproxy FlowReader", aim=">= 1.0")
        if jobs > 1:
            record("replay", f"replay --jobs {jobs} (wall clock)", size / wall[last], "MB/s", size / wall["reader"],
                   "mitmproxy FlowReader", aim=">= 1.0")
        record("replay", f"replay --jobs 1 peak memory, {flows:,} flows", peak["jobs=1"], "MB",
               higher_is_better=False)
        if jobs > 1:
            record("replay", f"replay --jobs {jobs} peak memory, all processes, {flows:,} flows", peak[last], "MB",
                   peak["jobs=1"], "--jobs 1", higher_is_better=False)
        if args.big:
            big = tmp / "big.mitm"
            t0 = time.perf_counter()
            generate_big(big, args.big)
            (tmp / "big.toml").write_text(BIG_PROFILE)
            print(f"big flow file: {os.path.getsize(big) / 1e6:.0f} MB, {args.big:,} flows "
                  f"(generated in {time.perf_counter() - t0:.0f} s)")
            big_runs = {}
            for j in sorted({1, jobs}):
                r = big_runs[j] = spawn(replay_cmd(big, tmp / "big.toml", tmp, j))
                found = _count_findings(tmp / "replay.json")
                print(f"  big replay --jobs {j}: {r.cpu:.0f} s CPU, {r.wall:.0f} s wall, {found:,} findings, "
                      f"peak {r.peak_sum:.0f} MB RSS all processes ({r.workers} workers; main {r.peak_main:.0f} MB; "
                      f"PSS {r.peak_pss:.0f} MB) (small replay: {peak[f'jobs={j}']:.0f} MB)")
                record("replay", f"peak memory --jobs {j}, {args.big // 1000}k flows, {found // 1000}k findings",
                       r.peak_sum, "MB", peak[f"jobs={j}"], f"{flows:,}-flow replay", aim="< 300 MB",
                       higher_is_better=False)


def _count_findings(path: Path) -> int:
    """Findings in a large JSON report, counted without loading it whole."""
    n = 0
    depth_findings = False
    with path.open() as fh:
        for line in fh:
            if line.startswith('  "findings": ['):
                depth_findings = True
            elif depth_findings and line.startswith("  ]"):
                break
            elif depth_findings and line.startswith("    {"):
                n += 1
    return n


if __name__ == "__main__":
    main()
