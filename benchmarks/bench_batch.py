"""Batch audit speed: sessions/s and findings/s for generated sessions with 1 and 2 local
workers (and the speed-up), stored in SQLite and in PostgreSQL, in the same run.

Each session is a flow file of ``--requests`` requests of the corpus mix (bodies up to
48 KB) with a consent request after two thirds; the whole batch goes through
``consentscope.batch.run_batch`` as ``consentscope audit`` runs it: workers audit and judge,
the parent stores every session and writes its JSON and HTML report, then the summary.
PostgreSQL is a throw-away server started here (tests/pgserver.py); without one that row
says why it is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "captures"), str(ROOT)]

from corpus import full_profile_toml, generate_corpus  # noqa: E402

from consentscope.detectors import RequestRecord  # noqa: E402

CONSENT = "/v1/privacy/consent"


def generate(folder: Path, sessions: int, per_session: int) -> None:
    """``sessions`` flow files cut from one corpus (new flow ids and times per session)."""
    from _flowbuild import write_records

    pool = [r for r in generate_corpus(max(2000, per_session * 40), seed=7)
            if len(r.body) <= 48 * 1024 and not any(k.lower() == "content-encoding" for k, _ in r.headers)]
    for i in range(sessions):
        start = (i * per_session * 7) % (len(pool) - per_session)
        chunk = pool[start:start + per_session]
        t0 = 1_772_445_600.0 + i * 3600
        recs = [replace(r, flow_id=f"s{i}-{j}", time=t0 + j * 0.5) for j, r in enumerate(chunk)]
        at = 2 * len(recs) // 3
        host = "api.demoshop.com.cn"
        recs.insert(at, RequestRecord(flow_id=f"s{i}-consent", time=recs[at].time - 0.25, method="POST",
                                      scheme="https", host=host, port=443, path=CONSENT, headers=(("Host", host),),
                                      body=b'{"agree":1}'))
        write_records(recs, folder / f"app{i:04d}.mitm")


def run(folder: Path, profile: Path, out: Path, workers: int, db: str) -> tuple[float, int, int]:
    from consentscope import batch
    from consentscope.batch import Defaults, plan, run_batch
    from consentscope.storage import open_engine

    batch._SCANNERS.clear()  # every run builds its scanners, as a fresh `consentscope audit` does
    engine = open_engine(db)
    tasks = plan([str(folder)], Defaults(profile=str(profile), consent_marker=CONSENT), keep_requests=True)
    t0 = time.perf_counter()
    result = run_batch(tasks, str(out), engine=engine, workers=workers)
    seconds = time.perf_counter() - t0
    engine.dispose()
    assert result.failed == 0 and result.ran == len(tasks), (result.failed, result.ran)
    return seconds, len(tasks), sum(e["findings"] for e in result.entries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--requests", type=int, default=20, help="requests per session")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="consentscope-bench-batch-"))
    try:
        folder = tmp / "captures"
        folder.mkdir()
        t0 = time.perf_counter()
        generate(folder, args.sessions, args.requests)
        profile = tmp / "profile.toml"
        profile.write_text(full_profile_toml())
        print(f"batch: {args.sessions} sessions of {args.requests + 1} requests generated in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores")
        rows: list[tuple[str, int, float, int, int]] = []

        def measure(store: str, workers: int, db: str) -> None:
            seconds, n, findings = run(folder, profile, tmp / f"out-{store}-{workers}", workers, db)
            rows.append((store, workers, seconds, n, findings))
            print(f"  {store:10s} {workers} worker{'s' if workers > 1 else ' '}: {n / seconds:6.1f} sessions/s "
                  f"{findings / seconds:7.1f} findings/s ({n} sessions, {findings} findings, {seconds:.1f} s)",
                  flush=True)

        measure("sqlite", 1, f"sqlite:///{tmp / 'one.db'}")
        measure("sqlite", 2, f"sqlite:///{tmp / 'two.db'}")
        from tests.pgserver import postgres_server, unavailable

        why = unavailable()
        if why is None:
            with postgres_server() as pg:
                measure("postgresql", 1, pg.create_database("one"))
                measure("postgresql", 2, pg.create_database("two"))
        else:
            print(f"  postgresql: not measured: {why}")
        from _results import record

        for store in ("sqlite", "postgresql"):
            by = {w: s for st, w, s, _, _ in rows if st == store}
            n_by = {w: n for st, w, _, n, _ in rows if st == store}
            if 1 in by and 2 in by:
                print(f"  {store}: speed-up with 2 workers {by[1] / by[2]:.2f}x")
                record("batch", f"{store}: sessions/s with 2 workers", n_by[2] / by[2], "s/s", n_by[1] / by[1],
                       "1 worker")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
