"""Command line: a thin shell over the pipeline.

Bad input ends as one line naming the file and the place, and a non-zero exit; never a
traceback. Findings already made are written before a broken capture ends the run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from consentscope import __version__
from consentscope.files import write_private

if TYPE_CHECKING:
    from consentscope.detectors import Scanner
    from consentscope.model import Judgement, SessionResult, TimelineEvent
    from consentscope.profile import Profile
    from consentscope.readers._keylog import KeyLog
    from consentscope.rules import Suppressions
    from consentscope.session import Audit

from consentscope.errors import ConsentscopeError, UsageError

EXIT_OK = 0
EXIT_INPUT = 2  # bad profile, broken capture, bad option


# ----------------------------------------------------------------------------- helpers


def parse_time(value: str, option: str) -> float:
    from consentscope.model import parse_iso_time

    try:
        return parse_iso_time(value)
    except ValueError:
        raise UsageError(f"{option}: expected an ISO 8601 time such as 2026-03-02T10:00:30Z, got {value!r}") from None


def chain_depth(value: str) -> int:
    """``--depth``: 1 to 6 steps. Each step multiplies the encoded forms searched for; past 6
    a profile's forms run to millions and the automaton takes minutes to build."""
    try:
        depth = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 6, got {value!r}") from None
    if not 1 <= depth <= 6:
        raise argparse.ArgumentTypeError(f"expected 1 to 6, got {depth}")
    return depth


def job_count(value: str) -> int:
    """``--jobs``: 1 (scan in the replay's own process) to ``scanpool.MAX_JOBS`` workers."""
    from consentscope.scanpool import MAX_JOBS

    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_JOBS}, got {value!r}") from None
    if not 1 <= jobs <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_JOBS}, got {jobs}")
    return jobs


def compile_regex(value: str | None, option: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as e:
        raise UsageError(f"{option}: invalid regular expression {value!r}: {e}") from None


def _load_profile(path: str) -> Profile:
    from consentscope.profile import load_profile

    profile = load_profile(path)
    for w in profile.warnings:
        print(f"consentscope: warning: {w}", file=sys.stderr)
    return profile


def existing_database(url: str) -> str:
    """``--db`` of a command that only reads (or adds to a session that must exist): a SQLite
    file that is not there is an error, never a new empty database left behind."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        if os.path.isfile(url):
            raise UsageError(f"{url}: not a database URL; a SQLite file is sqlite:///{url}") from None
        raise UsageError(f"{url}: no such database") from None
    db = u.database
    if u.get_backend_name() == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        if not os.path.isfile(db):
            raise UsageError(f"{url}: no such database ({db} does not exist)")
    return url


def _session_ids(paths: Sequence[str]) -> list[str]:
    ids: list[str] = []
    for p in paths:
        base = os.path.basename(p)
        stem = base.split(".")[0] or base
        sid, n = stem, 2
        while sid in ids:
            sid, n = f"{stem}-{n}", n + 1
        ids.append(sid)
    return ids


class Progress:
    """A single status line on a terminal for long replays; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0

    def update(self, name: str, requests: int, findings: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self.last > 0.2:
            self.last = now
            sys.stderr.write(f"\r{name}: {requests} requests, {findings} findings\x1b[K")
            sys.stderr.flush()

    def watch(self, name: str) -> Callable[[Audit, int], None]:
        """A progress callback for ``session.audit_capture``."""
        return lambda audit, found: self.update(name, audit.requests, found)

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


# ----------------------------------------------------------------------------- replay


def cmd_replay(args: argparse.Namespace) -> int:
    from consentscope.detectors import DeferredScanner
    from consentscope.model import ConsentMarkers
    from consentscope.session import audit_capture, judge, store, tune_gc_for_scanning

    tune_gc_for_scanning()

    if not args.profile and not args.patterns:
        raise UsageError("replay needs --profile FILE (the device's values) or --patterns (validated patterns "
                         "for PI whose values nobody wrote down), or both")
    from consentscope.profile import Profile

    profile = _load_profile(args.profile) if args.profile else Profile(path="")
    suppressions = _load_suppressions(args.suppressions)
    _fail_on_patterns(args)  # a typo in --fail-on is an error before the replay, not a gate that never fails
    extra_events = _read_timeline(args.timeline) if args.timeline else []
    from consentscope.readers.hooks import read_hooks

    hooks = [read_hooks(h, profile.app.package) for h in args.hooks or ()]
    keylog = _read_keylogs(args.keylog or ())
    markers = ConsentMarkers(
        consent_at=parse_time(args.consent_at, "--consent-at") if args.consent_at else None,
        consent=compile_regex(args.consent_marker, "--consent-marker"),
        refusal=compile_regex(args.refusal_marker, "--refusal-marker"),
    )
    # compiled where it is first used: with scan workers, in each of them at once (``DeferredScanner``)
    # (it stands for one: every attribute a Scanner has is the one it compiles)
    scanner = cast("Scanner", DeferredScanner(profile.scan_profile(), max_chain_depth=args.depth,
                                              patterns=args.patterns))
    from consentscope.scanpool import default_jobs

    jobs = args.jobs or default_jobs()
    progress = Progress(sys.stderr.isatty() and not args.quiet)
    results = []
    status = EXIT_OK
    for path, sid in zip(args.captures, _session_ids(args.captures), strict=True):
        result = audit_capture(path, sid, profile, scanner, markers=markers, events=extra_events, hooks=hooks,
                               keylog=keylog, keep_requests=bool(args.db),
                               progress=progress.watch(os.path.basename(path)), jobs=jobs)
        progress.done()
        for error in result.errors:
            status = EXIT_INPUT
            print(f"consentscope: error: {error}", file=sys.stderr)
        results.append(result)
    judgement = judge(results, profile, suppressions)

    if not args.quiet:
        from consentscope.console import coverage_line, finding_line, violations_line

        for r in results:
            if args.verbose:
                for f in r.findings:
                    print(finding_line(f))
            print(
                f"{r.id}: {r.requests} requests, {len(r.findings)} findings "
                f"({sum(f.phase == 'before-consent' for f in r.findings)} before consent)"
                + ("" if r.events else "; no consent event recorded (use --consent-marker or --consent-at)")
            )
            print(f"{r.id}: {violations_line(r.violations)}")
            print(f"{r.id}: {coverage_line(r)}")
    if args.db:
        from consentscope.storage import StorageError, open_engine

        try:
            engine = open_engine(args.db)
            try:
                store(engine, results)
            finally:
                engine.dispose()  # closed, not cut off by the quick exit
        except StorageError as e:
            print(f"consentscope: error: database: {e}", file=sys.stderr)
            status = EXIT_INPUT
    title = f"consentscope: {profile.app.name or profile.app.package or 'report'}"
    _write_outputs(args, judgement, title, suppressions)
    return _fail_on(args, results, status)


def _write_outputs(args: argparse.Namespace, judgement: Judgement, title: str,
                   suppressions: Suppressions | None) -> list[str]:
    """The report files asked for; returns the paths written."""
    from consentscope.session import Outputs, write_reports

    outputs = Outputs(json=args.json, html=args.html, csv=args.csv, xlsx=args.xlsx, redacted=args.redact,
                      csv_bom=not args.csv_no_bom, lang=args.lang, title=title, tz=args.tz)
    return write_reports(judgement, outputs, suppressions)


def _output_options(p: argparse.ArgumentParser, redact_help: str) -> None:
    """The report files `replay` and `report` write."""
    p.add_argument("--json", metavar="OUT", help="write findings as JSON")
    p.add_argument("--html", metavar="OUT", help="write an HTML report")
    p.add_argument("--csv", metavar="OUT", help="write findings as CSV (UTF-8 with a BOM, for Excel)")
    p.add_argument("--csv-no-bom", action="store_true", help="CSV without the UTF-8 byte order mark")
    p.add_argument("--xlsx", metavar="OUT",
                   help="write an Excel workbook (violations, findings, SDKs, coverage) in the --lang language")
    p.add_argument("--redact", action="store_true", help=redact_help)


def _read_keylogs(paths: Sequence[str]) -> KeyLog | None:
    """TLS key logs (NSS format); a file that cannot be read is an error, a bad line is
    skipped and counted (PCAPdroid and browsers write stray lines)."""
    if not paths:
        return None
    from consentscope.readers._keylog import KeyLog

    log = KeyLog()
    for p in paths:
        if not os.path.isfile(p):
            raise UsageError(f"{p}: --keylog: no such file")
        log.add_file(p)
    if log.bad_lines:
        print(f"consentscope: warning: --keylog: {log.bad_lines} line(s) skipped (not a key log line)",
              file=sys.stderr)
    if not len(log):
        print("consentscope: warning: --keylog: no TLS secrets found", file=sys.stderr)
    return log


def _read_timeline(path: str) -> list[TimelineEvent]:
    from consentscope.timeline_file import read_timeline

    return read_timeline(path)


def _load_suppressions(path: str | None) -> Suppressions | None:
    """The project file (accepted findings with reasons, rule thresholds), or None."""
    if not path:
        return None
    from consentscope.rules import load_suppressions

    return load_suppressions(path)


def _fail_on_patterns(args: argparse.Namespace) -> list[str]:
    from consentscope.rules import parse_fail_on

    if not args.fail_on:
        return []
    try:
        return parse_fail_on(args.fail_on.upper())  # rule IDs are upper case; `miit-1.2` means MIIT-1.2
    except ValueError as e:
        raise UsageError(f"--fail-on: {e}") from None


EXIT_RULE = 1  # --fail-on matched: the app breaks a rule (for CI pipelines of app developers)


def _fail_on(args: argparse.Namespace, results: Sequence[SessionResult], status: int) -> int:
    from consentscope.rules import fail_on

    if status or not args.fail_on:
        return status
    hits = fail_on([v for r in results for v in r.violations], _fail_on_patterns(args))
    for v in hits:
        print(f"consentscope: {v.rule} ({v.severity}): {v.explanation}", file=sys.stderr)
    return EXIT_RULE if hits else status


# ----------------------------------------------------------------------------- profile


def cmd_profile_init(args: argparse.Namespace) -> int:
    from consentscope.profile import TEMPLATE

    if args.file in (None, "-"):
        sys.stdout.write(TEMPLATE)
        return EXIT_OK
    if os.path.exists(args.file) and not args.force:
        raise UsageError(f"{args.file}: exists; pass --force to overwrite")
    write_private(args.file, TEMPLATE)
    print(f"wrote {args.file}: edit it with the test device's real values")
    return EXIT_OK


def cmd_profile_check(args: argparse.Namespace) -> int:
    from consentscope.profile import template_values

    profile = _load_profile(args.file)
    examples = template_values(profile)
    if examples:
        print(f"consentscope: warning: {args.file}: {', '.join(examples)}: still the template's demo values "
              "(`profile init`); put in the test device's real values", file=sys.stderr)
    from consentscope.detectors import Scanner

    scanner = Scanner(profile.scan_profile(), max_chain_depth=args.depth)
    types = ", ".join(profile.data_types) or "none"
    print(f"{args.file}: ok: {len(profile.identifiers)} values ({types})")
    if profile.location:
        loc = profile.location
        print(f"  location {loc.latitude}, {loc.longitude} ±{loc.precision_m:g} m")
    print(f"  {len(profile.installed_apps)} installed apps, {len(profile.contacts)} contacts")
    print(f"  app: {profile.app.package or '-'} ({profile.app.app_type or 'no app type'})")
    print(f"  {len(scanner.needles)} encoded forms at chain depth {args.depth}")
    return EXIT_OK


def cmd_profile_types(_args: argparse.Namespace) -> int:
    from consentscope.appdata import app_types

    for t in app_types().values():
        need = "no personal information needed" if t.none_required else ", ".join(t.necessary_pi)
        print(f"{t.seq:2d}  {t.id:28s} {t.name_en} ({t.name_zh}): {need}")
    return EXIT_OK


# ----------------------------------------------------------------------------- database


def cmd_sessions(args: argparse.Namespace) -> int:
    from consentscope.model import iso_time
    from consentscope.storage import finding_counts, list_sessions, open_engine, violation_counts

    engine = open_engine(existing_database(args.db))
    rows = list_sessions(engine)
    counts = finding_counts(engine)
    judged = violation_counts(engine)
    if not rows:
        print("no sessions")
    else:
        print("session\tstarted\trequests\tfindings\tverdict\tlabel")
    for r in rows:
        started = iso_time(r.started) if r.started is not None else "-"
        verdict = "not judged yet" if r.judged is None else f"{judged.get(r.id, 0)} violations"
        print(f"{r.id}\t{started}\t{r.requests} requests\t{counts.get(r.id, 0)} findings\t{verdict}\t{r.label}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from consentscope.session import judge, load
    from consentscope.storage import StorageError, list_sessions, open_engine, save_violations

    suppressions = _load_suppressions(args.suppressions)
    _fail_on_patterns(args)
    engine = open_engine(existing_database(args.db))
    rows = list_sessions(engine)
    if not rows:
        raise UsageError(f"{args.db}: no sessions stored")
    if args.session in (None, "latest"):
        ids = [rows[-1].id]
    elif args.session == "all":
        ids = [r.id for r in rows]
    else:
        if args.session not in {r.id for r in rows}:
            raise UsageError(f"{args.db}: no session {args.session!r}; `consentscope sessions` lists them")
        ids = [args.session]
    # Each session is judged with the profile it was recorded with (kept in the database)
    # unless --profile names another; the verdict is stored back with the session when the
    # database can be written (a reviewer's read-only copy still gives the report).
    profile = _load_profile(args.profile) if args.profile else None
    results = [load(engine, sid) for sid in ids]
    judgement = judge(results, profile, suppressions)
    for r in results:
        try:
            save_violations(engine, r.id, r.violations)
        except StorageError as e:
            print(f"consentscope: warning: verdict not stored: {e}", file=sys.stderr)
    for path in _write_outputs(args, judgement, "consentscope report", suppressions):
        if os.path.isfile(path):  # not for /dev/stdout: the line would land in the report
            print(f"wrote {path}")
    if not (args.json or args.html or args.csv or args.xlsx):
        from consentscope.console import finding_line

        for r in results:
            for f in r.findings:
                print(finding_line(f))
    return _fail_on(args, results, EXIT_OK)


# ----------------------------------------------------------------------------- live


def addon_script_path() -> str:
    from importlib import resources

    return str(resources.files("consentscope.addons").joinpath("consentscope.py"))


def proxy_command(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The mitmdump argument list for `consentscope proxy` (one declaration: our flags
    become ``--set consentscope_*`` options; everything else goes to mitmproxy as is)."""
    argv = ["-s", addon_script_path(), "--set", f"consentscope_profile={os.path.abspath(args.profile)}"]
    if args.db:
        argv += ["--set", f"consentscope_db={args.db}"]
    if args.session:
        argv += ["--set", f"consentscope_session={args.session}"]
    if args.consent_marker:
        argv += ["--set", f"consentscope_consent_marker={args.consent_marker}"]
    if args.refusal_marker:
        argv += ["--set", f"consentscope_refusal_marker={args.refusal_marker}"]
    for d in args.app_domain or ():
        argv += ["--set", f"consentscope_app_domains={d}"]
    return argv + list(extra)


def cmd_proxy(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    _load_profile(args.profile)  # fail early with our own message
    compile_regex(args.consent_marker, "--consent-marker")
    compile_regex(args.refusal_marker, "--refusal-marker")
    from mitmproxy.tools.main import mitmdump

    argv = proxy_command(args, extra)
    print("consentscope: starting mitmdump " + " ".join(argv), file=sys.stderr)
    ret = mitmdump(argv)
    return int(ret or 0)


def cmd_mark(args: argparse.Namespace) -> int:
    from consentscope.consent import normalize_event
    from consentscope.storage import add_event, list_sessions, open_engine

    try:
        event = normalize_event(args.event)
    except ValueError as e:
        raise UsageError(str(e)) from None
    when = parse_time(args.at, "--at") if args.at else time.time()
    engine = open_engine(existing_database(args.db))
    rows = list_sessions(engine)
    if args.session in (None, "latest"):
        if not rows:
            raise UsageError(f"{args.db}: no session to mark; start `consentscope proxy --db {args.db}` first")
        sid = rows[-1].id
    else:
        sid = args.session
        if sid not in {r.id for r in rows}:
            raise UsageError(f"{args.db}: no session {sid!r}; `consentscope sessions` lists them")
    add_event(engine, sid, when, event, args.detail or "", "cli")
    print(f"{event} recorded in session {sid}")
    return EXIT_OK


# ----------------------------------------------------------------------------- parser


def _report_options(p: argparse.ArgumentParser) -> None:
    def time_zone(name: str) -> str:
        from consentscope.reports.i18n import zone

        try:
            zone(name)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return name

    p.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="language of the HTML and Excel reports (default en)")
    p.add_argument(
        "--tz", metavar="ZONE", type=time_zone, default=None,
        help="time zone of the times in the HTML report, an IANA name such as Asia/Shanghai or UTC "
        "(default: this machine's local zone); JSON and CSV stay in UTC",
    )
    p.add_argument(
        "--suppressions", metavar="FILE",
        help="project file (TOML): accepted findings with reasons, rule thresholds; shown, never failed on",
    )


def build_parser() -> argparse.ArgumentParser:
    from consentscope.detectors import COMPILED, DEFAULT_CHAIN_DEPTH
    from consentscope.files import DEFAULT_DB_URL

    p = argparse.ArgumentParser(
        prog="consentscope",
        description="Find the personal data an app sends, to whom, in what disguise, and "
        "whether the user had consented yet.",
    )
    core = "compiled" if COMPILED else "interpreted"
    p.add_argument("--version", action="version", version=f"consentscope {__version__} (detection core {core})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("replay", help="audit saved captures (mitmproxy flows, HAR, pcap, pcapng)")
    r.add_argument("captures", nargs="+", metavar="CAPTURE")
    r.add_argument("--profile", "-p", help="device profile (TOML): the test device's values to look for")
    r.add_argument(
        "--patterns", action="store_true",
        help="also find PI by validated patterns (IMEI with Luhn, resident ID with check digit, mobile numbers, "
        "e-mail, MAC, advertising IDs in named fields, named coordinates in China); findings say confidence "
        "'pattern'; without --profile this is the only detection",
    )
    g = r.add_mutually_exclusive_group()
    g.add_argument("--consent-at", metavar="TIME", help="consent time, ISO 8601 (UTC if no offset)")
    g.add_argument(
        "--consent-marker", metavar="REGEX", help="the first request whose URL matches is the consent moment"
    )
    r.add_argument("--refusal-marker", metavar="REGEX", help="the first request whose URL matches is a refusal")
    r.add_argument("--db", default=DEFAULT_DB_URL, help=f"SQLAlchemy URL (default {DEFAULT_DB_URL}); '' to skip")
    _output_options(r, "mask identifiers in the reports (to share them)")
    r.add_argument(
        "--depth", type=chain_depth, default=DEFAULT_CHAIN_DEPTH,
        help="longest hash/encoding chain, 1 to 6 (default %(default)s)"
    )
    r.add_argument(
        "--jobs", "-j", type=job_count, default=None, metavar="N",
        help="scan each capture's requests in N worker processes (default: one per usable core, at most 4; "
        "1: in the replay's own process); the output is the same whatever N; a capture of under a few "
        "hundred requests is scanned in-process",
    )
    r.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    r.add_argument("--verbose", "-v", action="store_true", help="a line per finding before each session's summary")
    r.add_argument("--timeline", metavar="FILE", help="timeline events (JSON or CSV: time,event,detail) to merge")
    r.add_argument(
        "--keylog", metavar="FILE", action="append",
        help="TLS key log (NSS format: SSLKEYLOGFILE, PCAPdroid, MITMPROXY_SSLKEYLOGFILE; repeatable) to decrypt "
        "HTTPS in pcap/pcapng captures; a pcapng's own secrets are used without it",
    )
    r.add_argument(
        "--hooks", metavar="FILE", action="append",
        help="hook log (repeatable): privacy-API reads and payloads before encryption, as JSON Lines, or "
        "camille's export as CSV/XLSX; see the README",
    )
    r.add_argument(
        "--fail-on", metavar="RULE[,RULE]", help="exit 1 when a violation of these rules (or rule prefixes) is found"
    )
    _report_options(r)
    r.set_defaults(func=cmd_replay, quick_exit=True)

    pr = sub.add_parser("profile", help="write or check a device profile")
    psub = pr.add_subparsers(dest="profile_command", metavar="ACTION")
    psub.required = True
    pi = psub.add_parser("init", help="write a commented template")
    pi.add_argument("file", nargs="?", help="where to write it (stdout if omitted)")
    pi.add_argument("--force", action="store_true")
    pi.set_defaults(func=cmd_profile_init)
    pc = psub.add_parser("check", help="validate a profile")
    pc.add_argument("file")
    pc.add_argument("--depth", type=chain_depth, default=DEFAULT_CHAIN_DEPTH)
    pc.set_defaults(func=cmd_profile_check)
    pt = psub.add_parser("types", help="list the 39 app types")
    pt.set_defaults(func=cmd_profile_types)

    s = sub.add_parser("sessions", help="list stored sessions")
    s.add_argument("--db", default=DEFAULT_DB_URL)
    s.set_defaults(func=cmd_sessions)

    rp = sub.add_parser("report", help="render a stored session")
    rp.add_argument("--db", default=DEFAULT_DB_URL)
    rp.add_argument("--session", default="latest", help="session id, 'latest' or 'all'")
    _output_options(rp, "mask identifiers in the reports")
    rp.add_argument("--profile", help="judge with this profile instead of the app type and location precision "
                    "recorded with each session")
    rp.add_argument("--fail-on", metavar="RULE[,RULE]", help="exit 1 when a violation of these rules is found")
    _report_options(rp)
    rp.set_defaults(func=cmd_report)

    px = sub.add_parser(
        "proxy",
        help="run mitmdump with the consentscope addon (other options go to mitmproxy)",
        description="Starts mitmdump with the addon. Unrecognised options are passed to mitmproxy, "
        "e.g. --mode wireguard, --mode transparent, -p/--listen-port 8080, -w session.mitm.",
    )
    # no -p here: `consentscope proxy -p 8080` is mitmproxy's listen port, as in mitmdump
    px.add_argument("--profile", required=True, help="device profile (TOML)")
    px.add_argument("--db", default=DEFAULT_DB_URL, help=f"SQLAlchemy URL (default {DEFAULT_DB_URL}); '' for none")
    px.add_argument("--session", help="session id (default live-<UTC time>)")
    px.add_argument("--consent-marker", metavar="REGEX")
    px.add_argument("--refusal-marker", metavar="REGEX")
    px.add_argument("--app-domain", action="append", help="extra first-party domain (repeatable)")
    px.set_defaults(func=cmd_proxy, passthrough=True)

    mk = sub.add_parser("mark", help="record a timeline event (consent, refuse, withdraw…) in a running session")
    mk.add_argument(
        "event",
        help="consent, refuse, withdraw, start, policy, note, permission-asked/-granted/-denied (name in --detail), "
        "account-deletion, consent-scope (--detail necessary_only|full), personalization-off, foreground, background",
    )
    mk.add_argument("--detail", default="")
    mk.add_argument("--at", metavar="TIME", help="when (ISO 8601); default now")
    mk.add_argument("--db", default=DEFAULT_DB_URL)
    mk.add_argument("--session", default="latest")
    mk.set_defaults(func=cmd_mark)

    from consentscope.cli_trackers import add_trackers_parser

    add_trackers_parser(sub)
    from consentscope.cli_audit import add_audit_parser

    add_audit_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return _dispatch(argv)[0]


def _dispatch(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit status, and whether the command left nothing that the interpreter's
    teardown must close (``quick_exit``: no child process, no thread, every file closed)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    quick = getattr(args, "quick_exit", False)
    try:
        if getattr(args, "passthrough", False):
            return int(args.func(args, extra) or 0), quick
        return int(args.func(args) or 0), quick
    except ConsentscopeError as e:  # the one place errors become a line and exit 2
        print(f"consentscope: error: {e}", file=sys.stderr)
        return EXIT_INPUT, quick
    except KeyboardInterrupt:
        print("consentscope: interrupted", file=sys.stderr)
        return 130, False
    except BrokenPipeError:
        return EXIT_OK, False


def console_main() -> None:
    """The ``consentscope`` command. After a replay it ends the process without the
    interpreter's teardown, as mypy does: freeing the objects of a large session one by
    one took 0.2-0.4 s of a 3 s replay, for nothing (its files are written and closed,
    its database committed, its workers ended). Callers of ``main`` keep the full exit."""
    status, quick = _dispatch(None)
    if quick:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    console_main()
