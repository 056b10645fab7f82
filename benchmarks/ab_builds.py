"""Detection speed of two builds of consentscope, compiled as installed, in one run.

``bench_detect.py --against TREE`` loads another ``detectors/`` in the same process, which
is only possible interpreted (both compiled builds would claim the same module names).
This compares what users run: each build installed, compiled, in a folder of its own
(``pip install --target``), scanning in a worker process of its own. Both workers load the
same corpora (typical requests, the real-SDK requests of ``sdk_corpus.py`` by SDK, SDK
batch uploads and log uploads), then take turns: block after block, in alternating order,
each timed in the worker's CPU time, both pinned to the same core. A shared machine's
drift then falls on both alike; the ratio per corpus is of the summed times, with the
median of the blocks' ratios beside it.

    python benchmarks/ab_builds.py 9bfc9cf HEAD            # two revisions, built first
    python benchmarks/ab_builds.py /tmp/a /tmp/b --rounds 6  # folders built before

A revision is built from ``git archive`` into ``build/ab/<rev>`` (about a minute each;
kept and reused); ``worktree`` builds the working tree as it is. A folder must hold an
installed ``consentscope`` package. Prints; records nothing (``make bench`` does not run
it: the builds take minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = {"~typical": 100, "~batches": 5, "~logs": 1}  # requests per block; real-SDK corpora: 25


def build(rev: str) -> Path:
    """An installed, compiled copy of ``rev`` (a folder, a git revision or ``worktree``)."""
    if Path(rev).is_dir() and (Path(rev) / "consentscope").is_dir():
        return Path(rev)
    if rev == "worktree":
        name = "worktree"
    else:
        name = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    target = ROOT / "build" / "ab" / name
    if (target / "consentscope").is_dir() and name != "worktree":
        return target
    with tempfile.TemporaryDirectory() as tmp:
        if rev == "worktree":
            files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                                   capture_output=True, text=True).stdout.split()
            listing = "\n".join(f for f in files if not f.endswith(".so") and (ROOT / f).is_file())
            subprocess.run(["tar", "-cf", f"{tmp}/src.tar", "-T", "-"], cwd=ROOT, input=listing, text=True, check=True)
        else:
            subprocess.run(["git", "archive", "-o", f"{tmp}/src.tar", rev], cwd=ROOT, check=True)
        src = Path(tmp) / "src"
        src.mkdir()
        subprocess.run(["tar", "-xf", f"{tmp}/src.tar", "-C", str(src)], check=True)
        subprocess.run(["rm", "-rf", str(target)], check=True)
        print(f"building {rev} into {target} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
                       check=True, stdout=subprocess.DEVNULL)
    return target


def worker() -> None:
    """Load the corpora and a scanner, then scan the block each stdin line names."""
    if hasattr(os, "sched_setaffinity"):  # both workers on one core: they take turns anyway
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path[:0] = [str(ROOT / "benchmarks")]
    from corpus import full_profile_toml, generate_corpus, uploads
    from sdk_corpus import generate_sdk_corpus_with_names

    from consentscope.detectors import COMPILED, Scanner
    from consentscope.profile import load_profile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.toml"
        path.write_text(full_profile_toml(), encoding="utf-8")
        scanner = Scanner(load_profile(path).scan_profile())
    corpora: dict[str, list] = {}
    for record, sdk in generate_sdk_corpus_with_names(2000):
        corpora.setdefault(sdk, []).append(record)
    corpora["~typical"] = [r for r in generate_corpus(6000) if len(r.body) <= 3072]
    corpora["~batches"], corpora["~logs"] = uploads(5000)
    for records in corpora.values():  # warm up
        for r in records[:20]:
            scanner.scan(r)
    print(json.dumps({"compiled": COMPILED, "sizes": {k: len(v) for k, v in corpora.items()}}), flush=True)
    clock = time.process_time
    for line in sys.stdin:
        name, lo, hi = line.split()
        chunk = corpora[name][int(lo) : int(hi)]
        t0 = clock()
        for r in chunk:
            scanner.scan(r)
        print(clock() - t0, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="a git revision, 'worktree', or a folder holding an installed consentscope")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=4, help="passes over every corpus")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return
    sites = {"A": build(args.a), "B": build(args.b)}
    procs = {}
    for key, site in sites.items():
        procs[key] = subprocess.Popen([sys.executable, __file__, "--worker", "-", "-"],
                                      env={**os.environ, "PYTHONPATH": str(site)}, cwd=tempfile.gettempdir(),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    hello = {key: json.loads(p.stdout.readline()) for key, p in procs.items()}  # type: ignore[union-attr]
    sizes = hello["A"]["sizes"]

    def ask(key: str, name: str, lo: int, hi: int) -> float:
        p = procs[key]
        p.stdin.write(f"{name} {lo} {hi}\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
        return float(p.stdout.readline())  # type: ignore[union-attr]

    spent: dict[tuple[str, str], float] = {}
    ratios: dict[str, list[float]] = {}
    for rnd in range(args.rounds):
        for name, n in sizes.items():
            block = BLOCKS.get(name, 25)
            for j in range(0, n, block):
                order = ("A", "B") if (j // block + rnd) % 2 else ("B", "A")
                took = {key: ask(key, name, j, min(n, j + block)) for key in order}
                for key in order:
                    spent[(name, key)] = spent.get((name, key), 0.0) + took[key]
                if took["B"] > 0:
                    ratios.setdefault(name, []).append(took["A"] / took["B"])
    for p in procs.values():
        p.stdin.close()  # type: ignore[union-attr]
        p.wait()
    print(f"A: {args.a} ({sites['A']}, {'compiled' if hello['A']['compiled'] else 'interpreted'})")
    print(f"B: {args.b} ({sites['B']}, {'compiled' if hello['B']['compiled'] else 'interpreted'})")
    print(f"{'corpus':14s} {'A us/req':>9s} {'B us/req':>9s}  A/B time (median block)")
    for name, n in sizes.items():
        a, b = spent[(name, "A")] / n / args.rounds * 1e6, spent[(name, "B")] / n / args.rounds * 1e6
        print(f"{name:14s} {a:9.1f} {b:9.1f}  {a / b:.2f}x ({statistics.median(ratios[name]):.2f}x)")
    sdk = [k for k in sizes if not k.startswith("~")]
    mean = {key: sum(spent[(k, key)] / sizes[k] for k in sdk) / len(sdk) / args.rounds for key in ("A", "B")}
    print(f"real-SDK, mean over the SDKs: A {1 / mean['A']:,.0f} r/s, B {1 / mean['B']:,.0f} r/s -> "
          f"{mean['A'] / mean['B']:.2f}x")


if __name__ == "__main__":
    main()
