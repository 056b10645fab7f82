"""Detection speed and memory: consentscope's one-pass scan vs a naive needle loop.

Generates a corpus (``benchmarks/corpus.py``) and real-SDK requests
(``benchmarks/sdk_corpus.py``), compiles a full profile, and measures on one core, in the
same run:

* replay detection (decode + scan) in requests/s and MB/s, and peak memory;
* typical requests (bodies up to 3 KB) and real-SDK requests in requests/s, with "same
  findings": the scan output of the seeded reference corpora equals the digests the
  implementation gave before the speed work (``benchmarks/equivalence.py``);
* the automaton pass alone: ahocorasick_rs (a matcher's first) vs pyahocorasick (the one it
  replaced, when installed: ``.[dev]``) and Hyperscan (what a matcher that scans for long
  turns to, and the live detector's) over the same lower-cased request bytes and keys;
* the naive baseline: every expanded value searched with ``in`` over the same decoded
  views (then confirmed with the same boundary rules), on a sample of each corpus, and
  the speed ratio at identical findings.

``--against TREE`` measures one change instead: the ``detectors/`` of another source tree
(an older commit's ``git archive``) is loaded beside this one and both scan the same
typical and real-SDK requests in alternating blocks, in CPU time: a same-run ratio that
stays readable on a machine shared with other work (wall-clock rates there swing 2x).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import equivalence
from corpus import full_profile_toml, generate_corpus, uploads
from sdk_corpus import generate_sdk_corpus

from consentscope.detectors import RequestRecord, Scanner, ScanProfile, decode_request
from consentscope.detectors._match import _in_token
from consentscope.detectors._scan import _base64_confirms
from consentscope.profile import load_profile


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_types(scanner: Scanner, views) -> set[tuple[int, str]]:  # type: ignore[no-untyped-def]
    """Each needle searched with ``in``/``find`` over every view, confirmed like the matcher
    (boundaries, and base64 fragments by decoding the text around them)."""
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
                if ok and n.source:  # a base64 fragment: the decoded text decides, as in the scanner
                    ok = _base64_confirms(text, start, end, n, scanner.limits.base64_confirm_margin)
                if ok:
                    out.add((vi, n.data_type))
                    break
                start = hay.find(needle, start + 1)
    return out


def naive_vs_ours(scanner: Scanner, records: list, sample_size: int) -> tuple[float, float, bool]:
    """Scan-only seconds per request of ours and of the naive loop on the same decoded
    views, and whether both find the same data types in the same views."""
    pool = [r for r in records if len(r.body) <= 65536]
    step = max(1, len(pool) // sample_size)
    sample = pool[::step][:sample_size]
    sample_views = [decode_request(r).views for r in sample]
    t0 = time.perf_counter()
    ours_sample = [scanner.scan_views(v) for v in sample_views]
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_sample = [naive_types(scanner, v) for v in sample_views]
    naive_s = time.perf_counter() - t0
    ours_types = [{f.data_type for f in fs} for fs in ours_sample]
    naive_set = [{t for _, t in s} for s in naive_sample]
    list_types = {"location", "installed_apps", "contacts"}
    same = all(o - list_types == n for o, n in zip(ours_types, naive_set, strict=True))
    return ours_s / len(sample), naive_s / len(sample), same


def automaton_pass(scanner: Scanner, records: list) -> tuple[float, float | None, float | None]:
    """Seconds per request of one overlapping pass over the request's lower-cased bytes:
    ahocorasick_rs's NFA as the matcher builds it first, pyahocorasick over the same keys
    (None when it is not installed), and Hyperscan (None without it), the same matches."""
    from consentscope.detectors._match import HYPERSCAN

    matcher = scanner._matcher
    texts = [b"\x00".join(v.data for v in decode_request(r).views).lower() for r in records]
    ac = matcher._ac
    rs_s = 0.0
    if ac is not None:
        t0 = time.perf_counter()
        for t in texts:
            ac.find_matches_as_indexes(t, overlapping=True)
        rs_s = (time.perf_counter() - t0) / len(texts)
    hs_s = None
    if HYPERSCAN:
        hs = Scanner(scanner.profile, matcher_backend="hyperscan")._matcher  # the same keys
        t0 = time.perf_counter()
        for t in texts:
            hs._hs_matches(t)
        hs_s = (time.perf_counter() - t0) / len(texts)
    try:
        import ahocorasick
    except ImportError:
        return rs_s, None, hs_s
    automaton = ahocorasick.Automaton()
    for key, entries in matcher._automaton.items():
        automaton.add_word(key, entries)
    automaton.make_automaton()
    strs = [t.decode("latin-1") for t in texts]
    t0 = time.perf_counter()
    for s in strs:
        for _ in automaton.iter(s):
            pass
    return rs_s, (time.perf_counter() - t0) / len(strs), hs_s


def rate(scanner: Scanner, records: list, rounds: int = 3) -> float:
    """Requests/s of ``Scanner.scan``, the best of a few rounds (the machine is shared)."""
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for r in records:
            scanner.scan(r)
        best = max(best, len(records) / (time.perf_counter() - t0))
    return best


def against(tree: Path, typical: list[RequestRecord], sdk: list[RequestRecord], batches: list[RequestRecord],
            logs: list[RequestRecord], profile: ScanProfile, rounds: int) -> None:
    """Same-run speed-up over another version of ``detectors/`` (``tree``: a checkout or a
    ``git archive`` of an older commit): both are loaded in this process and scan the same
    requests in alternating blocks, timed in CPU time, so the load of a shared machine
    falls on both alike. Prints the requests/s of each and the speed-up; records nothing."""
    init = tree / "detectors" / "__init__.py"
    spec = importlib.util.spec_from_file_location("against_detectors", init,
                                                  submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"{init}: not a detectors package")
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old
    spec.loader.exec_module(old)
    scanners = {"old": old.Scanner(old.ScanProfile(*(getattr(profile, f) for f in old.ScanProfile.__slots__))),
                "new": Scanner(profile)}

    def rebuilt(r: RequestRecord) -> object:
        return old.RequestRecord(r.flow_id, r.time, r.method, r.scheme, r.host, r.port, r.path, r.headers, r.body)

    clock = time.process_time
    for name, records, block in (("typical", typical, 100), ("real-SDK", sdk, 60), ("SDK batches", batches, 10),
                                 ("log uploads", logs, 2)):
        runs = {"old": [rebuilt(r) for r in records], "new": records}
        spent = {"old": 0.0, "new": 0.0}
        ratios = []
        for rnd in range(rounds):
            for j in range(0, len(records), block):
                order = ("old", "new") if (j // block + rnd) % 2 else ("new", "old")
                took = {}
                for which in order:
                    scan, chunk = scanners[which].scan, runs[which][j : j + block]
                    t0 = clock()
                    for r in chunk:
                        scan(r)
                    took[which] = clock() - t0
                    spent[which] += took[which]
                if took["old"] > 0 and took["new"] > 0:
                    ratios.append(took["old"] / took["new"])
        n = len(records) * rounds
        print(f"{name}: {tree} {n / spent['old']:,.0f} r/s, this tree {n / spent['new']:,.0f} r/s (CPU time) -> "
              f"{spent['old'] / spent['new']:.2f}x (median of {len(ratios)} block ratios "
              f"{statistics.median(ratios):.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--sdk-requests", type=int, default=2_000)
    ap.add_argument("--naive-sample", type=int, default=150)
    ap.add_argument("--against", type=Path, metavar="TREE",
                    help="only compare typical, real-SDK and SDK-batch speed with the detectors/ of another "
                         "source tree (`git archive REV | tar -x -C TREE`), in this process; records nothing")
    ap.add_argument("--rounds", type=int, default=3, help="passes over each corpus with --against")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    if args.against is not None:
        with tempfile.TemporaryDirectory() as tmp:
            ppath = Path(tmp) / "profile.toml"
            ppath.write_text(full_profile_toml(), encoding="utf-8")
            scan_profile = load_profile(ppath).scan_profile()
        typical = [r for r in generate_corpus(args.requests) if len(r.body) <= 3072]
        # the live mix's SDK batch uploads (3-50 KB JSON, often gzipped): most of the live detector's time
        batches, logs = uploads(args.requests // 4)
        against(args.against, typical, generate_sdk_corpus(args.sdk_requests), batches, logs, scan_profile,
                args.rounds)
        return

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
    typical_rate = rate(scanner, typical)
    # real SDK uploads, 1-3 KB each, every one with profile values in the SDK's own packaging
    sdk = generate_sdk_corpus(args.sdk_requests)
    sdk_rate = rate(scanner, sdk)
    sdk_kb = sum(len(r.body) + len(r.path) for r in sdk) / len(sdk) / 1024
    # same findings: the reference corpora's scan output, request by request
    diff = equivalence.differing(equivalence.scan_all(profile.scan_profile()))
    same_ref = not any(diff.values())
    rs_pass, py_pass, hs_pass = automaton_pass(scanner, sdk[:500] + typical[:500])

    # The naive baseline is slow by design; it runs on a sample (bodies up to 64 KB so it
    # finishes in minutes), and both matchers see exactly the same decoded views.
    per_ours, per_naive, same = naive_vs_ours(scanner, records, args.naive_sample)
    sdk_ours, sdk_naive, sdk_same = naive_vs_ours(scanner, sdk, args.naive_sample)

    mb = total_bytes / 1e6
    print(f"corpus: {len(records)} requests, {mb:.1f} MB (generated in {gen_s:.1f} s), "
          f"{with_findings} with findings, {n_findings} findings")
    print(f"profile: {len(profile.identifiers)} values -> {len(scanner.needles)} encoded forms, "
          f"automaton {scanner.automaton_size} keys, compiled in {compile_s * 1000:.0f} ms")
    print(f"detection (decode + scan, one core): {len(records) / detect_s:,.0f} requests/s, "
          f"{mb / detect_s:.1f} MB/s  (decode {decode_s:.2f} s, scan {scan_s:.2f} s)")
    same_text = "yes" if same_ref else f"NO ({', '.join(f'{k}: {len(v)}' for k, v in diff.items() if v)} differ)"
    print(f"typical requests (body <= 3 KB, {len(typical)} of them): {typical_rate:,.0f} requests/s")
    print(f"real-SDK requests ({len(sdk)}, {sdk_kb:.1f} KB on average): {sdk_rate:,.0f} requests/s")
    print(f"same findings as the reference (seeded SDK, SDK with patterns and typical corpora): {same_text}")
    py_text = "pyahocorasick not installed" if py_pass is None else (
        f"pyahocorasick {py_pass * 1e6:.1f} us -> {py_pass / rs_pass:.1f}x")
    hs_text = "hyperscan not installed" if hs_pass is None else (
        f"hyperscan {hs_pass * 1e6:.1f} us -> {rs_pass / hs_pass:.1f}x faster than ahocorasick_rs")
    print(f"automaton pass per request (full profile): ahocorasick_rs {rs_pass * 1e6:.1f} us, {py_text}, {hs_text}")
    print(f"peak memory: {rss_mb():.0f} MB max RSS (corpus and interpreter: {rss_before:.0f} MB)")
    print(f"naive baseline on {args.naive_sample} requests: {1 / per_naive:,.1f} requests/s scan-only vs "
          f"ours {1 / per_ours:,.0f} requests/s -> {per_naive / per_ours:.0f}x faster; "
          f"same findings: {'yes' if same else 'NO'}")
    print(f"naive baseline on {args.naive_sample} real-SDK requests: {1 / sdk_naive:,.1f} requests/s scan-only vs "
          f"ours {1 / sdk_ours:,.0f} requests/s -> {sdk_naive / sdk_ours:.0f}x faster; "
          f"same findings: {'yes' if sdk_same else 'NO'}")
    decode_per = decode_s / len(records)
    print(f"end to end incl. decoding: {(per_naive + decode_per) / (per_ours + decode_per):.0f}x the naive baseline")
    from _results import record

    same_aim = "; same findings" + ("" if same_ref else " NOT") + " as the reference"
    record("detect", "typical requests (<= 3 KB), one core", typical_rate, "r/s", aim=">= 10,000 r/s" + same_aim)
    record("detect", "real-SDK requests (1-3 KB), one core", sdk_rate, "r/s", aim=">= 5,000 r/s" + same_aim)
    record("detect", "all requests (decode + scan), one core", len(records) / detect_s, "r/s")
    record("detect", "scan vs naive needle loop", 1 / per_ours, "r/s", 1 / per_naive, "naive scan-only",
           aim="identical findings" + ("" if same else " (NOT identical)"))
    record("detect", "real-SDK scan vs naive needle loop", 1 / sdk_ours, "r/s", 1 / sdk_naive, "naive scan-only",
           aim="identical findings" + ("" if sdk_same else " (NOT identical)"))
    if py_pass is not None:
        record("detect", "automaton pass: ahocorasick_rs vs pyahocorasick", rs_pass * 1e6, "us", py_pass * 1e6,
               "pyahocorasick", higher_is_better=False)
    if hs_pass is not None:
        record("detect", "matcher pass: hyperscan vs ahocorasick_rs", hs_pass * 1e6, "us", rs_pass * 1e6,
               "ahocorasick_rs", higher_is_better=False)
    record("detect", "profile compile (full profile, once per process)", compile_s * 1000, "ms",
           higher_is_better=False)
    record("detect", "peak memory", rss_mb(), "MB", higher_is_better=False)


if __name__ == "__main__":
    main()
