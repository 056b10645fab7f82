"""Flow-file replay speed and memory against mitmproxy's bare ``FlowReader``, same run.

Generates a flow file of about ``--mb`` MB of SDK-like traffic (the corpus mix without the
large uploads: API calls, SDK batches, some images; about 2-7 KB a flow, as real captures
of SDK traffic hold), written by the installed mitmproxy's ``FlowWriter``. Then, each in a
child process (process start and imports included in every one):

* ``reader``: the bare ``FlowReader(open(f, "rb")).stream()`` loop, the baseline;
* ``ours``: consentscope's flow reader alone (``iter_flowfile``: every record built);
* ``replay``: the whole ``consentscope replay FILE --profile P --db sqlite:///x.db --json
  x.json`` (read, detect, judge, store, write the JSON).

The machine is shared: times are the child's CPU time (user + system), each runs
``--repeat`` times, alternating, and the fastest of each counts. The ratio is
reader time / replay time (aim >= 1.0: the whole replay no slower than mitmproxy alone
reading the file).

Memory: peak RSS (``ru_maxrss`` of the child, from ``wait4``) of a replay of a small file and
of a 100,000-flow file with 300,000 findings (``--big``; aim < 300 MB, and flat: the same
order as the small one). Each of those flows is a GET carrying three profile values.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
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


def replay_cmd(path: Path, profile: Path, out: Path) -> list[str]:
    db = out / "replay.db"
    db.unlink(missing_ok=True)
    return [sys.executable, "-m", "consentscope", "replay", str(path), "--profile", str(profile),
            "--consent-marker", CONSENT, "--db", f"sqlite:///{db}", "--json", str(out / "replay.json"), "-q"]


def spawn(cmd: list[str], pythonpath: str | None = None) -> tuple[float, float, str]:
    """Run ``cmd``, reaping it ourselves so its own rusage (CPU, peak RSS) is exact.
    ``pythonpath``: a tree whose ``consentscope`` package is imported instead of this one."""
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    # ``-m`` puts the working directory first on sys.path: run in the tree measured
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=pythonpath or ROOT, env=env)
    assert p.stdout is not None and p.stderr is not None
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {err.decode(errors='replace')[-2000:]}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=20, help="size of the SDK-like flow file")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; the fastest counts")
    ap.add_argument("--big", type=int, default=0, metavar="FLOWS",
                    help="also replay FLOWS small flows with 3 findings each for the memory row (100000: ~4 min)")
    ap.add_argument("--compare", metavar="NAME=TREE", action="append", default=[],
                    help="also time the replay of another consentscope (a folder holding a `consentscope` "
                         "package laid out as installed), e.g. an older commit, in the same run")
    ap.add_argument("--keep", metavar="DIR", help="generate the flow file and profile into DIR and stop")
    ap.add_argument("--run", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        {"reader": run_reader, "ours": run_ours}[args.run[0]](args.run[1])
        return
    from corpus import full_profile_toml

    with tempfile.TemporaryDirectory(prefix="consentscope-bench-replay-") as tmp_s:
        tmp = Path(tmp_s)
        path = tmp / "sdk.mitm"
        t0 = time.perf_counter()
        flows = generate(path, args.mb)
        size = os.path.getsize(path) / 1e6
        print(f"flow file: {size:.1f} MB, {flows:,} flows (generated in {time.perf_counter() - t0:.0f} s)")
        profile = tmp / "profile.toml"
        profile.write_text(full_profile_toml())
        if args.keep:
            import shutil

            os.makedirs(args.keep, exist_ok=True)
            shutil.copy(path, args.keep)
            shutil.copy(profile, args.keep)
            return
        cmds = {
            "reader": [sys.executable, __file__, "--run", "reader", str(path)],
            "ours": [sys.executable, __file__, "--run", "ours", str(path)],
            "replay": replay_cmd(path, profile, tmp),
        }
        trees = dict(c.split("=", 1) for c in args.compare)
        runs: dict[str, list[tuple[float, float, str]]] = {k: [] for k in [*cmds, *trees]}
        for _ in range(args.repeat):
            for which, cmd in cmds.items():
                if which == "replay":
                    cmd = replay_cmd(path, profile, tmp)
                runs[which].append(spawn(cmd))
            for name, tree in trees.items():
                runs[name].append(spawn(replay_cmd(path, profile, tmp), pythonpath=tree))
        best = {k: min(v) for k, v in runs.items()}
        import json

        findings = len(json.loads((tmp / "replay.json").read_text())["findings"])
        reader_s, ours_s, replay_s = best["reader"][0], best["ours"][0], best["replay"][0]
        print(f"  mitmproxy FlowReader loop  {reader_s:6.2f} s  {size / reader_s:6.1f} MB/s")
        print(f"  consentscope flow reader   {ours_s:6.2f} s  {size / ours_s:6.1f} MB/s  "
              f"({reader_s / ours_s:.2f}x the FlowReader's speed)")
        print(f"  consentscope replay        {replay_s:6.2f} s  {size / replay_s:6.1f} MB/s  "
              f"({findings:,} findings; peak {best['replay'][1]:.0f} MB)")
        for name in trees:
            secs = best[name][0]
            print(f"  replay of {name:16s} {secs:6.2f} s  ratio {reader_s / secs:.2f}  peak {best[name][1]:.0f} MB")
        print(f"ratio: {reader_s / replay_s:.2f} (FlowReader time / whole replay time, aim >= 1.0; "
              "CPU time, process start included in both)")
        from _results import record

        record("replay", "flow reader alone", size / ours_s, "MB/s", size / reader_s, "mitmproxy FlowReader")
        record("replay", "replay: read, detect, store, JSON", size / replay_s, "MB/s", size / reader_s,
               "mitmproxy FlowReader", aim=">= 1.0")
        record("replay", f"replay peak memory, {flows:,} flows", best["replay"][1], "MB", higher_is_better=False)
        if args.big:
            big = tmp / "big.mitm"
            t0 = time.perf_counter()
            generate_big(big, args.big)
            (tmp / "big.toml").write_text(BIG_PROFILE)
            print(f"big flow file: {os.path.getsize(big) / 1e6:.0f} MB, {args.big:,} flows "
                  f"(generated in {time.perf_counter() - t0:.0f} s)")
            secs, peak, _ = spawn(replay_cmd(big, tmp / "big.toml", tmp))
            found = _count_findings(tmp / "replay.json")
            print(f"  big replay: {secs:.0f} s CPU, {found:,} findings, peak {peak:.0f} MB "
                  f"(small replay: {best['replay'][1]:.0f} MB)")
            record("replay", f"peak memory, {args.big // 1000}k flows, {found // 1000}k findings", peak, "MB",
                   best["replay"][1], f"{flows:,}-flow replay", aim="< 300 MB", higher_is_better=False)


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
