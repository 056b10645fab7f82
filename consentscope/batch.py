"""Batch audits: many captures, one session and one task each, resumable, in parallel.

    INPUT... (folders, globs, manifests; sidecars; command-line defaults)
      → ``plan``: one ``Task`` per capture, keyed by the SHA-256 of everything that changes
        its result (capture, profile, project file, markers, timeline, hooks, keylog,
        consentscope and JSON format versions)
      → ``run_task`` in a worker: ``session.audit_capture`` + ``session.judge``, the same
        steps ``replay`` runs for one file; returns a plain, picklable ``TaskOutcome``
      → the parent, the one writer: ``session.store`` (database), ``session.write_reports``
        (the session's JSON and HTML), then one journal line; at the end the summary.

Task state lives in ``--out``: ``.consentscope-tasks.jsonl`` (owner-only, one line per
finished task, each appended with one ``write`` and fsynced; a torn last line from a kill is
ignored). A rerun reads it and skips every task whose key is there, so a task is journaled
once; the summary is built from journal lines only, so an interrupted and resumed batch
gives the same summary as one uninterrupted run. Workers never touch the database or
``--out``: a Dask worker on another machine needs only the captures and the package.

``hooks`` (a hook log, ``readers/hooks.py``) and ``keylog`` (TLS secrets for packet
captures) are read as ``replay --hooks``/``--keylog`` read them, and hashed into the key.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from consentscope import JSON_FORMAT_VERSION, __version__
from consentscope.errors import ConsentscopeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from consentscope.detectors import Scanner
    from consentscope.model import Judgement, SessionResult
    from consentscope.profile import Profile
    from consentscope.rules import Suppressions


class BatchError(ConsentscopeError):
    """Bad batch input: a missing folder, a manifest row, a sidecar key (names file and place)."""


#: Version of ``summary.json`` (bumped whenever a key changes; see reports/summary_report.py).
SUMMARY_FORMAT_VERSION = 1
#: The journal of finished tasks inside ``--out``.
JOURNAL_NAME = ".consentscope-tasks.jsonl"
#: What a folder holds that is a capture (format is still told by content when read).
CAPTURE_SUFFIXES = (".mitm", ".flow", ".flows", ".dump", ".har", ".pcap", ".pcapng", ".cap")
COMPRESSED_SUFFIXES = ("", ".gz", ".xz", ".zst")
#: Manifest columns; only ``capture`` is required.
MANIFEST_COLUMNS = ("capture", "profile", "label", "app_package", "app_type", "consent_marker", "refusal_marker",
                    "consent_at", "timeline", "hooks", "keylog", "suppressions")
#: Keys of a sidecar's ``[audit]`` table (the rest of the sidecar is a project file).
SIDECAR_KEYS = tuple(c for c in MANIFEST_COLUMNS if c not in ("capture", "suppressions"))
_PATH_KEYS = ("profile", "timeline", "hooks", "keylog", "suppressions")


# ----------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class Defaults:
    """What the command line gives every capture that its row or sidecar does not."""

    profile: str | None = None
    suppressions: str | None = None
    consent_marker: str | None = None
    refusal_marker: str | None = None
    consent_at: float | None = None
    timeline: str | None = None
    depth: int = 3


@dataclass(frozen=True, slots=True)
class Task:
    """One capture as one session: every setting, as plain values (sent to workers)."""

    key: str
    session_id: str
    capture: str  # absolute path
    shown: str  # the path as the input named it (summary, errors)
    sha256: str  # of the capture ("" when it cannot be read)
    origin: str  # "manifest.csv row 3", "folder captures/", … for messages
    profile: str | None = None
    project: str | None = None  # project file: --suppressions, the row's, or the sidecar itself
    project_table: tuple[tuple[str, Any], ...] | None = None  # a sidecar's project part (as TOML data)
    label: str = ""
    app_package: str = ""
    app_type: str = ""
    consent_marker: str | None = None
    refusal_marker: str | None = None
    consent_at: float | None = None
    timeline: str | None = None
    hooks: str | None = None
    keylog: str | None = None
    depth: int = 3
    keep_requests: bool = False
    input_hashes: tuple[tuple[str, str], ...] = ()  # (path, sha256) of every input file, for manifest.sha256


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hash_or_missing(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return file_sha256(path)
    except OSError as e:
        return f"unreadable: {e.strerror or e}"


def is_capture_name(name: str) -> bool:
    low = name.lower()
    return any(low.endswith(s + c) for s in CAPTURE_SUFFIXES for c in COMPRESSED_SUFFIXES)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "capture"


def _parse_time(value: str, where: str) -> float:
    from consentscope.model import parse_iso_time

    try:
        return parse_iso_time(value)
    except ValueError:
        raise BatchError(f"{where}: consent_at: expected an ISO 8601 time such as 2026-03-02T10:00:30Z, "
                         f"got {value!r}") from None


def _check_regex(value: str | None, where: str, name: str) -> str | None:
    if not value:
        return None
    try:
        re.compile(value)
    except re.error as e:
        raise BatchError(f"{where}: {name}: invalid regular expression {value!r}: {e}") from None
    return value


def _check_app_type(value: str, where: str) -> str:
    if value:
        from consentscope.appdata import app_types

        if value not in app_types():
            raise BatchError(f"{where}: app_type: unknown app type {value!r}; `consentscope profile types` lists them")
    return value


def _row_settings(row: dict[str, Any], base: str, where: str) -> dict[str, Any]:
    """A manifest row or sidecar table as task settings (paths made absolute, values checked)."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or v == "":
            continue
        if not isinstance(v, str):
            raise BatchError(f"{where}: {k}: expected a string, got {type(v).__name__}")
        v = v.strip()
        if not v:
            continue
        if k in _PATH_KEYS:
            out[k] = os.path.normpath(os.path.join(base, os.path.expanduser(v)))
        elif k == "consent_at":
            out[k] = _parse_time(v, where)
        elif k in ("consent_marker", "refusal_marker"):
            out[k] = _check_regex(v, where, k)
        elif k == "app_type":
            out[k] = _check_app_type(v, where)
        else:
            out[k] = v
    return out


def read_sidecar(path: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A capture's ``CAPTURE.toml``: its ``[audit]`` settings, and the rest as a project file
    (``[[accept]]``, ``[thresholds]``, ``[declared]``), or None when it has none."""
    from consentscope.files import read_toml

    data = read_toml(path, BatchError, "sidecar")
    table = data.pop("audit", {})
    if not isinstance(table, dict):
        raise BatchError(f"{path}: audit: expected a table [audit]")
    for k in table:
        if k not in SIDECAR_KEYS:
            raise BatchError(f"{path}: audit.{k}: unknown key; expected one of {', '.join(SIDECAR_KEYS)}")
    settings = _row_settings(table, os.path.dirname(os.path.abspath(path)), path)
    return settings, (data or None)


@dataclass(slots=True)
class _Entry:
    capture: str  # absolute
    shown: str
    origin: str
    row: dict[str, Any] = field(default_factory=dict)


def _walk(folder: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if is_capture_name(f) and not f.startswith(".")]
    return found


def read_manifest(path: str) -> list[_Entry]:
    """Rows of a CSV or JSON manifest; relative paths are relative to the manifest."""
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except OSError as e:
        raise BatchError(f"{path}: cannot read manifest: {e.strerror or e}") from None
    rows: list[tuple[str, dict[str, Any]]] = []
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise BatchError(f"{path}: not valid JSON: {e.msg} (line {e.lineno})") from None
        items = data.get("captures") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise BatchError(f"{path}: expected a list of objects (or {{\"captures\": [...]}})")
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise BatchError(f"{path}: item {i}: expected an object with a \"capture\" key")
            rows.append((f"{path} item {i}", item))
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for col in reader.fieldnames or ():
            if col not in MANIFEST_COLUMNS:
                raise BatchError(f"{path}: header: unknown column {col!r}; expected {', '.join(MANIFEST_COLUMNS)}")
        if not reader.fieldnames or "capture" not in reader.fieldnames:
            raise BatchError(f"{path}: header: no 'capture' column")
        for i, row in enumerate(reader, 2):  # row 1 is the header
            line = reader.line_num  # the row's last line: a quoted value may span lines
            where = f"{path} row {i}" + (f" (line {line})" if line != i else "")
            if None in row:
                raise BatchError(f"{where}: more values than columns")
            rows.append((where, row))
    out = []
    for where, row in rows:
        for k in row:
            if k not in MANIFEST_COLUMNS:
                raise BatchError(f"{where}: unknown column {k!r}; expected {', '.join(MANIFEST_COLUMNS)}")
        capture = row.get("capture")
        if not isinstance(capture, str) or not capture.strip():
            raise BatchError(f"{where}: capture: empty; every row names a capture")
        settings = _row_settings({k: v for k, v in row.items() if k != "capture"}, base, where)
        full = os.path.normpath(os.path.join(base, os.path.expanduser(capture.strip())))
        shown = os.path.normpath(os.path.join(os.path.dirname(path), os.path.expanduser(capture.strip())))
        out.append(_Entry(full, shown, where, settings))
    return out


def expand_inputs(inputs: Sequence[str]) -> list[_Entry]:
    """Folders (recursively), globs and manifests, in the order given; each folder and glob sorted."""
    entries: list[_Entry] = []
    for item in inputs:
        if os.path.isdir(item):
            entries += [_Entry(os.path.abspath(p), os.path.normpath(p), f"folder {item}") for p in _walk(item)]
        elif os.path.isfile(item) and item.lower().endswith((".csv", ".json")):
            entries += read_manifest(item)
        elif os.path.isfile(item):
            entries.append(_Entry(os.path.abspath(item), os.path.normpath(item), "command line"))
        elif glob.has_magic(item):
            matches = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not matches:
                raise BatchError(f"{item}: no file matches this pattern")
            entries += [_Entry(os.path.abspath(p), os.path.normpath(p), f"pattern {item}") for p in matches]
        else:
            raise BatchError(f"{item}: no such folder, manifest or capture")
    return entries


def plan(inputs: Sequence[str], defaults: Defaults, *, keep_requests: bool = False) -> list[Task]:
    """One task per capture, in input order; a capture named twice with the same settings is one task."""
    tasks: list[Task] = []
    seen: set[str] = set()
    ids: set[str] = set()
    for e in expand_inputs(inputs):
        settings: dict[str, Any] = {
            "profile": defaults.profile, "project": defaults.suppressions, "consent_marker": defaults.consent_marker,
            "refusal_marker": defaults.refusal_marker, "consent_at": defaults.consent_at,
            "timeline": defaults.timeline,
        }
        sidecar = e.capture + ".toml"
        project_table = None
        sidecar_hash = None
        if os.path.isfile(sidecar):
            side, project_data = read_sidecar(sidecar)
            settings.update(side)
            sidecar_hash = _hash_or_missing(sidecar)
            if project_data is not None:
                settings["project"] = None
                project_table = tuple(sorted(project_data.items()))
        row = dict(e.row)
        if "suppressions" in row:
            row["project"] = row.pop("suppressions")
            project_table = None
        settings.update(row)
        sha = _hash_or_missing(e.capture) or ""
        capture_sha = sha if len(sha) == 64 else ""
        hashes = {k: _hash_or_missing(settings.get(k)) for k in ("profile", "project", "timeline", "hooks", "keylog")}
        material = {
            "consentscope": __version__, "json_format": JSON_FORMAT_VERSION, "summary_format": SUMMARY_FORMAT_VERSION,
            "capture": e.capture, "capture_sha256": sha, "sidecar": sidecar_hash, **hashes,
            **{k: settings.get(k) for k in ("label", "app_package", "app_type", "consent_marker", "refusal_marker",
                                            "consent_at")},
            "depth": defaults.depth,
        }
        key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        stem = _slug(os.path.basename(e.capture).split(".")[0])
        n = 10
        while (sid := f"{stem}-{key[:n]}") in ids:
            n += 2
        ids.add(sid)
        inputs_used = [(e.capture, capture_sha)] if capture_sha else []
        inputs_used += [(settings[k], h) for k, h in hashes.items() if h and len(h) == 64 and settings.get(k)]
        if sidecar_hash:
            inputs_used.append((sidecar, sidecar_hash))
        tasks.append(Task(
            key=key, session_id=sid, capture=e.capture, shown=e.shown, sha256=capture_sha, origin=e.origin,
            profile=settings.get("profile"), project=settings.get("project"), project_table=project_table,
            label=settings.get("label") or "", app_package=settings.get("app_package") or "",
            app_type=settings.get("app_type") or "", consent_marker=settings.get("consent_marker"),
            refusal_marker=settings.get("refusal_marker"), consent_at=settings.get("consent_at"),
            timeline=settings.get("timeline"), hooks=settings.get("hooks"), keylog=settings.get("keylog"),
            depth=defaults.depth, keep_requests=keep_requests, input_hashes=tuple(inputs_used),
        ))
    return tasks


# ----------------------------------------------------------------------------- worker


@dataclass(slots=True)
class TaskOutcome:
    """What a worker sends back: plain data (the session's result, its judgement, the project
    file it was judged with), or the error that kept it from being audited."""

    key: str
    status: str  # "ok" or "error"
    error: str = ""
    result: SessionResult | None = None
    judgement: Judgement | None = None
    suppressions: Suppressions | None = None
    title: str = "consentscope report"
    seconds: float = 0.0


#: Built once per worker process and profile: the scanner's needle automaton is the
#: expensive part of an audit of a small capture (tldextract#320 in spirit).
_SCANNERS: dict[tuple[str, str, int], Scanner] = {}


def _profile_for(task: Task) -> Profile:
    from consentscope.profile import load_profile

    if not task.profile:
        raise BatchError(f"{task.shown}: no profile (give --profile, a manifest 'profile' column or a sidecar "
                         f"{os.path.basename(task.capture)}.toml with [audit] profile)")
    profile = load_profile(task.profile)
    if task.app_package or task.app_type:
        app = replace(profile.app, package=task.app_package or profile.app.package,
                      app_type=task.app_type or profile.app.app_type)
        profile = replace(profile, app=app)
    return profile


def _scanner_for(profile: Profile, task: Task) -> Scanner:
    from consentscope.detectors import Scanner

    cache_key = (_hash_or_missing(task.profile) or "", profile.app.package, task.depth)
    scanner = _SCANNERS.get(cache_key)
    if scanner is None:
        scanner = _SCANNERS[cache_key] = Scanner(profile.scan_profile(), max_chain_depth=task.depth)
    return scanner


def _suppressions_for(task: Task) -> Suppressions | None:
    from consentscope.rules import load_suppressions, parse_suppressions

    if task.project_table is not None:
        return parse_suppressions(dict(task.project_table), task.capture + ".toml")
    return load_suppressions(task.project) if task.project else None


def run_task(task: Task) -> TaskOutcome:
    """Audit and judge one capture as ``replay`` does for one file; never raises.

    Runs in a worker process (local pool or Dask): no database, no ``--out``."""
    from consentscope.model import ConsentMarkers
    from consentscope.session import audit_capture, judge, tune_gc_for_scanning

    tune_gc_for_scanning()
    t0 = time.perf_counter()
    try:
        profile = _profile_for(task)
        suppressions = _suppressions_for(task)
        events = []
        if task.timeline:
            from consentscope.timeline_file import read_timeline

            events = read_timeline(task.timeline)
        markers = ConsentMarkers(
            consent_at=task.consent_at,
            consent=re.compile(task.consent_marker) if task.consent_marker else None,
            refusal=re.compile(task.refusal_marker) if task.refusal_marker else None,
        )
        scanner = _scanner_for(profile, task)
        hooks = []
        if task.hooks:
            from consentscope.readers.hooks import read_hooks

            hooks = [read_hooks(task.hooks, profile.app.package)]
        keylog = None
        if task.keylog:
            from consentscope.readers._keylog import KeyLog

            keylog = KeyLog.from_sources(task.keylog)
        result = audit_capture(task.capture, task.session_id, profile, scanner, markers=markers, events=events,
                               hooks=hooks, keylog=keylog, keep_requests=task.keep_requests, label=task.label)
        judgement = judge([result], profile, suppressions)
    except ConsentscopeError as e:
        return TaskOutcome(task.key, "error", str(e), seconds=time.perf_counter() - t0)
    except Exception as e:  # a bug on this capture must not stop the batch; it is reported with the task
        return TaskOutcome(task.key, "error", f"{task.shown}: internal error: {type(e).__name__}: {e}",
                           seconds=time.perf_counter() - t0)
    status = "error" if result.errors else "ok"
    title = f"consentscope: {profile.app.name or profile.app.package or result.label}"
    return TaskOutcome(task.key, status, "; ".join(result.errors), result, judgement, suppressions, title,
                       time.perf_counter() - t0)


# ----------------------------------------------------------------------------- journal


class Journal:
    """Finished tasks, one JSON line each, in ``--out`` (owner-only, append-only)."""

    def __init__(self, out: str) -> None:
        self.path = os.path.join(out, JOURNAL_NAME)

    def load(self) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line torn by a kill: that task is simply redone
                    if isinstance(entry, dict) and "key" in entry:
                        done[entry["key"]] = entry
        except FileNotFoundError:
            pass
        return done

    def keys_in_order(self) -> list[str]:
        """Every key journaled, once per line (tests prove no task was done twice)."""
        out = []
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        out.append(json.loads(line)["key"])
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            pass
        return out

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write: a kill leaves a whole line or a torn last one
            os.fsync(fd)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------- executors


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it writes what is done


class _Executor:
    """Runs ``run_task`` over tasks and yields outcomes as they finish."""

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        raise NotImplementedError

    def stop(self) -> None:
        pass


class InlineExecutor(_Executor):
    """``--workers 1``: in this process, in order."""

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        for t in tasks:
            yield run_task(t)


class PoolExecutor(_Executor):
    """Local worker processes."""

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        futures = {self.pool.submit(run_task, t): t for t in tasks}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except BrokenProcessPool as e:
                raise BatchError(f"a worker process died: {e}; rerun to continue (finished tasks are kept)") from None

    def stop(self) -> None:
        terminate = getattr(self.pool, "terminate_workers", None)  # Python 3.14
        if terminate is not None:
            terminate()
        else:
            for p in list((getattr(self.pool, "_processes", None) or {}).values()):
                p.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(_Executor):
    """Tasks on an existing Dask cluster (``dask scheduler`` + ``dask worker``)."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BatchError("--scheduler: Dask is not installed; install consentscope[dask]") from None
        try:
            self.client = Client(address, timeout=30)
        except (OSError, TimeoutError) as e:
            raise BatchError(f"--scheduler {address}: cannot connect: {e}") from None
        self.futures: list[Any] = []

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskOutcome]:
        from distributed import as_completed

        futures = self.futures = [self.client.submit(run_task, t, key=f"consentscope-{t.key}", pure=False)
                                  for t in tasks]
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as e:  # a worker lost with the task (KilledWorker…): that task fails, the batch goes on
                t = by_key[fut.key]
                yield TaskOutcome(t.key, "error", f"{t.shown}: worker failed: {type(e).__name__}: {e}")
            fut.release()

    def stop(self) -> None:
        if self.futures:
            self.client.cancel(self.futures)  # an interrupted batch leaves no work on the cluster
        self.client.close()


def make_executor(workers: int, scheduler: str | None) -> _Executor:
    if scheduler:
        return DaskExecutor(scheduler)
    if workers <= 1:
        return InlineExecutor()
    return PoolExecutor(workers)


# ----------------------------------------------------------------------------- run


@dataclass(slots=True)
class BatchRun:
    """What a batch did: every task's summary entry (input order), and the counts of this run."""

    tasks: list[Task]
    entries: list[dict[str, Any]]
    skipped: int
    ran: int
    interrupted: bool
    seconds: float

    @property
    def failed(self) -> int:
        return sum(e["status"] == "error" for e in self.entries)


Progress = Callable[[int, int, int, int], None]  # done, failed, findings, total (of this run)


def session_paths(out: str, session_id: str) -> tuple[str, str]:
    return (os.path.join(out, "sessions", f"{session_id}.json"), os.path.join(out, "sessions", f"{session_id}.html"))


def _finish(task: Task, outcome: TaskOutcome, out: str, engine: Engine | None, lang: str = "en") -> dict[str, Any]:
    """The one writer: database, the session's reports, then the journal entry."""
    from consentscope.reports.summary_report import session_entry
    from consentscope.session import Outputs, store, write_reports

    if outcome.result is not None and outcome.judgement is not None:
        if engine is not None:
            from consentscope.storage import StorageError

            try:
                store(engine, [outcome.result])
            except StorageError as e:
                outcome.status = "error"
                outcome.error = "; ".join(x for x in (outcome.error, f"database: {e}") if x)
        json_out, html_out = session_paths(out, task.session_id)
        write_reports(outcome.judgement, Outputs(json=json_out, html=html_out, title=outcome.title, lang=lang),
                      outcome.suppressions)
    return session_entry(task, outcome)


def run_batch(tasks: Sequence[Task], out: str, *, engine: Engine | None = None, workers: int = 1,
              scheduler: str | None = None, progress: Progress | None = None, lang: str = "en") -> BatchRun:
    """Run every task not journaled yet in ``out``, then write the summary files. On Ctrl-C the
    workers are stopped, what is done is written, and the run says ``interrupted``. ``lang``:
    of the HTML reports (each session's, and the summary)."""
    os.makedirs(out, mode=0o700, exist_ok=True)  # reports hold personal data: owner-only, as every file in it
    os.makedirs(os.path.join(out, "sessions"), mode=0o700, exist_ok=True)
    journal = Journal(out)
    done = journal.load()
    todo = [t for t in tasks if t.key not in done]
    t0 = time.monotonic()
    finished = failed = findings = 0
    interrupted = False
    by_key = {t.key: t for t in todo}
    executor: _Executor | None = None
    try:
        if todo:
            executor = make_executor(workers, scheduler)
            for outcome in executor.run(todo):
                entry = _finish(by_key[outcome.key], outcome, out, engine, lang)
                journal.append(entry)
                done[entry["key"]] = entry
                finished += 1
                failed += entry["status"] == "error"
                findings += entry["findings"]
                if progress is not None:
                    progress(finished, failed, findings, len(todo))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if executor is not None:
            executor.stop()
    if interrupted:  # Ctrl-C may land between a journal line and its entry here: the journal is the record
        done = journal.load()
    entries = [done[t.key] for t in tasks if t.key in done]
    write_summary(out, tasks, entries, lang)
    return BatchRun(list(tasks), entries, len(tasks) - len(todo), finished, interrupted, time.monotonic() - t0)


def write_summary(out: str, tasks: Sequence[Task], entries: Sequence[dict[str, Any]], lang: str = "en") -> None:
    """summary.json, summary.csv, summary.html, then manifest.sha256 over inputs and outputs."""
    from consentscope.files import write_private
    from consentscope.reports.summary_report import build_summary, render_summary_csv, render_summary_html

    summary = build_summary(entries)
    sinks: list[tuple[str, Callable[[], str]]] = [
        ("summary.json", lambda: json.dumps(summary, ensure_ascii=False, indent=2) + "\n"),
        ("summary.csv", lambda: render_summary_csv(summary)),
        ("summary.html", lambda: render_summary_html(summary, entries, lang=lang)),
    ]
    failed = []
    for name, render in sinks:  # one failing sink costs only itself
        path = os.path.join(out, name)
        try:
            write_private(path, render())
        except OSError as e:
            failed.append(f"{path}: {e.strerror or e}")
        except Exception as e:
            failed.append(f"{path}: internal error {type(e).__name__}: {e}")
    write_manifest(out, tasks, entries)
    if failed:
        raise BatchError("cannot write " + "; ".join(failed))


def write_manifest(out: str, tasks: Sequence[Task], entries: Sequence[dict[str, Any]]) -> None:
    """``sha256sum -c``-style lines: every input file (absolute path) and every output file
    (relative to ``--out``), sorted; the journal and the manifest itself are not listed."""
    from consentscope.files import write_private

    finished = {e["key"] for e in entries}
    inputs: dict[str, str] = {}
    for t in tasks:
        if t.key in finished:
            inputs.update(dict(t.input_hashes))
    outputs = {}
    for root, dirs, files in os.walk(out):
        dirs.sort()
        for name in files:
            if name in (JOURNAL_NAME, "manifest.sha256") or name.startswith(".consentscope-"):
                continue
            full = os.path.join(root, name)
            outputs[os.path.relpath(full, out)] = file_sha256(full)
    lines = [f"{h}  {p}" for p, h in sorted(inputs.items())] + [f"{h}  {p}" for p, h in sorted(outputs.items())]
    write_private(os.path.join(out, "manifest.sha256"), "\n".join(lines) + "\n")


__all__ = [
    "CAPTURE_SUFFIXES",
    "JOURNAL_NAME",
    "MANIFEST_COLUMNS",
    "SUMMARY_FORMAT_VERSION",
    "BatchError",
    "BatchRun",
    "Defaults",
    "Journal",
    "Task",
    "TaskOutcome",
    "expand_inputs",
    "file_sha256",
    "plan",
    "read_manifest",
    "read_sidecar",
    "run_batch",
    "run_task",
    "session_paths",
    "write_summary",
]
