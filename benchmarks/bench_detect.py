"""Detection speed and memory: consentscope's one-pass scan vs a naive needle loop.

Generates a corpus (``benchmarks/corpus.py``), compiles a full profile, and measures on
one core, in the same run:

* replay detection (decode + scan) in requests/s and MB/s, and peak memory;
* the naive baseline: every expanded value searched with ``in`` over the same decoded
  views (then confirmed with the same boundary rules), on a sample of the corpus, and
  the speed ratio at identical findings.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import full_profile_toml, generate_corpus

from consentscope.detectors import Scanner, decode_request
from consentscope.detectors._match import _in_token
from consentscope.profile import load_profile


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_types(scanner: Scanner, views) -> set[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """Each needle searched with ``in``/``find`` over every view, confirmed like the matcher."""
    out: set[tuple[int, str]] = set()
    for vi, view in enumerate(views):
        data = view.data
        low = data.lower()
        text = data.decode("latin-1")
        for n in scanner.needles:
            hay, needle = (data, n.text) if n.case_sensitive else (low, n.text.lower())
            if needle not in hay:
                continue
            start = hay.find(needle)
            while start != -1:
                end = start + len(needle)
                ok = not (start > 0 and _in_token(text[start - 1], n.boundary)) and not (
                    end < len(text) and _in_token(text[end], n.boundary)
                )
                if ok:
                    out.add((vi, n.data_type))
                    break
                start = hay.find(needle, start + 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--naive-sample", type=int, default=150)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    with tempfile.TemporaryDirectory() as tmp:
        ppath = Path(tmp) / "profile.toml"
        ppath.write_text(full_profile_toml(), encoding="utf-8")
        profile = load_profile(ppath)
    t0 = time.perf_counter()
    records = generate_corpus(args.requests)
    gen_s = time.perf_counter() - t0
    total_bytes = sum(len(r.body) + len(r.path) + sum(len(k) + len(v) for k, v in r.headers) for r in records)
    rss_before = rss_mb()

    t0 = time.perf_counter()
    scanner = Scanner(profile.scan_profile())
    compile_s = time.perf_counter() - t0

    decode_s = scan_s = 0.0
    n_findings = with_findings = 0
    for r in records:  # one request at a time, as replay does: memory stays flat
        t0 = time.perf_counter()
        views = decode_request(r).views  # as Scanner.scan decodes
        t1 = time.perf_counter()
        found = scanner.scan_views(views)
        scan_s += time.perf_counter() - t1
        decode_s += t1 - t0
        n_findings += len(found)
        with_findings += bool(found)
    detect_s = decode_s + scan_s

    # "typical": the API calls that make up most of a session (bodies up to 3 KB)
    typical = [r for r in records if len(r.body) <= 3072]
    t0 = time.perf_counter()
    for r in typical:
        scanner.scan(r)
    typical_s = time.perf_counter() - t0

    # The naive baseline is slow by design; it runs on a sample (bodies up to 64 KB so it
    # finishes in minutes), and both matchers see exactly the same decoded views.
    pool = [r for r in records if len(r.body) <= 65536]
    step = max(1, len(pool) // args.naive_sample)
    sample = pool[::step][: args.naive_sample]
    sample_views = [decode_request(r).views for r in sample]
    t0 = time.perf_counter()
    ours_sample = [scanner.scan_views(v) for v in sample_views]
    ours_sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_sample = [naive_types(scanner, v) for v in sample_views]
    naive_s = time.perf_counter() - t0
    ours_types = [{f.data_type for f in fs} for fs in ours_sample]
    naive_set = [{t for _, t in s} for s in naive_sample]
    list_types = {"location", "installed_apps", "contacts"}
    same = all(o - list_types == n for o, n in zip(ours_types, naive_set, strict=True))

    mb = total_bytes / 1e6
    print(f"corpus: {len(records)} requests, {mb:.1f} MB (generated in {gen_s:.1f} s), "
          f"{with_findings} with findings, {n_findings} findings")
    print(f"profile: {len(profile.identifiers)} values -> {len(scanner.needles)} encoded forms, "
          f"automaton {scanner.automaton_size} keys, compiled in {compile_s * 1000:.0f} ms")
    print(f"detection (decode + scan, one core): {len(records) / detect_s:,.0f} requests/s, "
          f"{mb / detect_s:.1f} MB/s  (decode {decode_s:.2f} s, scan {scan_s:.2f} s)")
    print(f"typical requests (body <= 3 KB, {len(typical)} of them): {len(typical) / typical_s:,.0f} requests/s")
    print(f"peak memory: {rss_mb():.0f} MB max RSS (corpus and interpreter: {rss_before:.0f} MB)")
    per_ours = ours_sample_s / len(sample)
    per_naive = naive_s / len(sample)
    print(f"naive baseline on {len(sample)} requests: {1 / per_naive:,.1f} requests/s scan-only vs "
          f"ours {1 / per_ours:,.0f} requests/s -> {per_naive / per_ours:.0f}x faster; "
          f"same findings: {'yes' if same else 'NO'}")
    decode_per = decode_s / len(records)
    print(f"end to end incl. decoding: {(per_naive + decode_per) / (per_ours + decode_per):.0f}x the naive baseline")
    from _results import record

    record("detect", "typical requests (<= 3 KB), one core", len(typical) / typical_s, "r/s", aim=">= 10,000 r/s")
    record("detect", "all requests (decode + scan), one core", len(records) / detect_s, "r/s")
    record("detect", "scan vs naive needle loop", 1 / per_ours, "r/s", 1 / per_naive, "naive scan-only",
           aim="identical findings" + ("" if same else " (NOT identical)"))
    record("detect", "peak memory", rss_mb(), "MB", higher_is_better=False)


if __name__ == "__main__":
    main()
