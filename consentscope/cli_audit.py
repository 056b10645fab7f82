"""``consentscope audit`` (batch audits) and ``consentscope compare`` (re-test comparison).

A thin shell: ``consentscope.batch`` plans and runs, ``consentscope.compare`` compares.
Exit status of ``audit``: 0 every task ok, 2 a task failed (its error is in the summary) or
the input was bad, 130 after Ctrl-C (what was done is written; rerun to continue).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from consentscope.errors import UsageError

EXIT_OK = 0
EXIT_NEW = 1  # compare --fail-on-new: something new
EXIT_RULE = 1  # audit --fail-on: a session breaks a named rule
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

__all__ = ["add_audit_parser", "cmd_audit", "cmd_compare"]


class BatchProgress:
    """One updating line on a terminal: done/failed/total, findings, rate, time left."""

    def __init__(self, total: int, skipped: int, enabled: bool) -> None:
        self.total = total
        self.skipped = skipped
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, failed: int, findings: int, todo: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < todo and now - self.last < 0.2:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        left = (todo - done) / rate if rate > 0 else 0.0
        sys.stderr.write(
            f"\raudit: {self.skipped + done}/{self.total} done ({failed} failed), {findings} findings, "
            f"{rate:.1f} sessions/s, {_duration(left)} left\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def cmd_audit(args: argparse.Namespace) -> int:
    from consentscope.batch import Defaults, plan, run_batch
    from consentscope.cli import compile_regex, parse_time

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers: expected 1 or more")
    from consentscope.cli import _fail_on_patterns

    gate = _fail_on_patterns(args)  # a typo in --fail-on is an error before the batch, not a gate that never fails
    compile_regex(args.consent_marker, "--consent-marker")
    compile_regex(args.refusal_marker, "--refusal-marker")
    defaults = Defaults(
        profile=os.path.abspath(args.profile) if args.profile else None,
        suppressions=os.path.abspath(args.suppressions) if args.suppressions else None,
        consent_marker=args.consent_marker, refusal_marker=args.refusal_marker,
        consent_at=parse_time(args.consent_at, "--consent-at") if args.consent_at else None,
        timeline=os.path.abspath(args.timeline) if args.timeline else None, depth=args.depth,
    )
    tasks = plan(args.inputs, defaults, keep_requests=bool(args.db))
    if not tasks:
        raise UsageError(f"{' '.join(args.inputs)}: no captures found")
    engine = None
    if args.db:
        from consentscope.storage import open_engine

        engine = open_engine(args.db)
    workers = args.workers or os.cpu_count() or 1
    from consentscope.batch import Journal

    journaled = Journal(args.out).load() if os.path.isdir(args.out) else {}
    if args.resume and not journaled:  # a mistyped --out must not silently start again from nothing
        raise UsageError(f"{args.out}: nothing to resume (no finished task recorded there); run without --resume")
    already = sum(t.key in journaled for t in tasks)
    if already and not args.resume and not args.quiet:
        print(f"consentscope: {already} of {len(tasks)} tasks already done in {args.out}; skipping them",
              file=sys.stderr)
    progress = BatchProgress(len(tasks), already, sys.stderr.isatty() and not args.quiet)
    run = run_batch(tasks, args.out, engine=engine, workers=workers, scheduler=args.scheduler, progress=progress,
                    lang=args.lang)
    progress.clear()
    findings = sum(e["findings"] for e in run.entries)
    violations = sum(len(e["violations"]) for e in run.entries)
    where = "on " + args.scheduler if args.scheduler else f"with {workers} worker{'s' if workers > 1 else ''}"
    line = (f"audit: {len(run.entries)}/{len(tasks)} tasks done, {run.failed} failed, {run.skipped} skipped "
            f"(already done); {findings} findings, {violations} rules broken; {run.ran} run in "
            f"{run.seconds:.1f} s {where} -> {os.path.join(args.out, 'summary.html')}")
    print(line, file=sys.stderr if args.quiet else sys.stdout)
    for e in run.entries:
        if e["status"] == "error":
            print(f"consentscope: error: {e['error']}", file=sys.stderr)
    if run.interrupted:
        print(f"consentscope: interrupted; {len(run.entries)} of {len(tasks)} tasks are written; "
              f"rerun with --resume to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    if run.failed:
        return EXIT_INPUT
    return _gate(run.entries, gate)


def _gate(entries: list[dict], patterns: list[str]) -> int:
    """``--fail-on``: exit 1 when a session breaks a named rule (not accepted), naming each."""
    from consentscope.rules import rule_matches

    hits = [(e["id"], rule) for e in entries for rule in e["violations"]
            if any(rule_matches(rule, p) for p in patterns)]
    for sid, rule in hits:
        print(f"consentscope: {sid}: {rule}", file=sys.stderr)
    return EXIT_RULE if hits else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from consentscope.compare import compare_inputs, render_compare_html, render_compare_json
    from consentscope.files import write_private

    doc = compare_inputs(args.old, args.new, db=args.db)
    if args.json:
        write_private(args.json, render_compare_json(doc))
    if args.html:
        write_private(args.html, render_compare_html(doc))
    counts = {s: sum(c["status"] == s for c in doc["changes"]) for s in ("fixed", "persisting", "new", "not-retested")}
    if not args.quiet:
        for c in doc["changes"]:
            what = " ".join(x for x in (c["rule"], c["data_type"]) if x) or "-"
            to = c["sdk"] or c["host"] or "-"
            print(f"{c['status']:12s} {c['app']}: {c['kind']:9s} {what} -> {to} {c['phase'] or ''}".rstrip())
    missing = f", {counts['not-retested']} not retested" if counts["not-retested"] else ""
    print(f"compare: {counts['fixed']} fixed, {counts['persisting']} persisting, {counts['new']} new{missing}",
          file=sys.stderr if args.quiet else sys.stdout)
    return EXIT_NEW if args.fail_on_new and counts["new"] else EXIT_OK


def add_audit_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit`` and ``compare`` to the main CLI's subparsers."""
    from consentscope.cli import chain_depth
    from consentscope.detectors import DEFAULT_CHAIN_DEPTH

    a = subparsers.add_parser(
        "audit", help="audit many captures (folders, globs, manifests): one session per capture, resumable",
        description="Each capture is one session and one task. INPUT is a folder (every capture in it, "
        "recursively), a glob, a manifest (CSV or JSON) or a capture. A capture may have a sidecar "
        "CAPTURE.toml ([audit] profile, app_package, markers…; the rest is a project file).")
    a.add_argument("inputs", nargs="+", metavar="INPUT")
    a.add_argument("--out", required=True, metavar="DIR", help="reports, summary.json/csv/html, manifest.sha256")
    a.add_argument("--profile", "-p", help="default device profile (TOML)")
    a.add_argument("--suppressions", metavar="FILE", help="default project file (TOML)")
    a.add_argument("--consent-at", metavar="TIME", help="default consent time, ISO 8601")
    a.add_argument("--consent-marker", metavar="REGEX", help="default consent marker (URL regex)")
    a.add_argument("--refusal-marker", metavar="REGEX", help="default refusal marker (URL regex)")
    a.add_argument("--timeline", metavar="FILE", help="default timeline file (JSON or CSV)")
    a.add_argument("--db", default="", help="SQLAlchemy URL to store every session (sqlite:///…, "
                   "postgresql+psycopg://…); default none")
    a.add_argument("--workers", type=int, default=None, help="local worker processes (default: the number of cores)")
    a.add_argument("--scheduler", metavar="ADDRESS", help="send tasks to a Dask cluster (tcp://host:8786)")
    a.add_argument("--resume", action="store_true",
                   help="continue the batch recorded in --out after a crash or Ctrl-C (an error if there is none); "
                   "finished tasks are skipped on any rerun")
    a.add_argument("--depth", type=chain_depth, default=DEFAULT_CHAIN_DEPTH,
                   help="longest hash/encoding chain (1 to 6)")
    a.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="language of each session's HTML report and of summary.html (default en)")
    a.add_argument("--fail-on", metavar="RULES",
                   help="exit 1 when any session breaks one of these rules (comma-separated IDs or MIIT categories, "
                   "e.g. MIIT-1,PIPL-23); accepted ones do not count")
    a.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    a.set_defaults(func=cmd_audit)

    c = subparsers.add_parser(
        "compare", help="re-test comparison: each violation and finding group fixed, persisting or new",
        description="OLD and NEW: two session JSON reports, two summary.json files, or two session ids with --db.")
    c.add_argument("old", metavar="OLD")
    c.add_argument("new", metavar="NEW")
    c.add_argument("--db", help="read OLD and NEW as session ids from this database")
    c.add_argument("--json", metavar="OUT", help="write the comparison as JSON")
    c.add_argument("--html", metavar="OUT", help="write the comparison as HTML")
    c.add_argument("--fail-on-new", action="store_true", help="exit 1 when anything is new (for CI)")
    c.add_argument("--quiet", "-q", action="store_true", help="only the count line")
    c.set_defaults(func=cmd_compare)
