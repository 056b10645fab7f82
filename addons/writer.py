"""Background database writer for live sessions.

Storage never runs on mitmproxy's event loop. Batches are written every ``FLUSH_SECONDS``
(the writer thread sleeps in between: what the detector hands over waits in a list, without
waking it for each request);
a failed batch is retried ``RETRIES`` times, then appended to a spill file (owner-only
JSON lines) so no finding is lost; once the database works again, the spill is moved
into it. The writer also polls for timeline events that `consentscope mark` adds from
another process, and judges a session when it ends (the rules run on what the database
holds, marks from the laptop included, and the violations are stored with it).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from consentscope.profile import Profile
from consentscope.storage import (
    StorageError,
    add_event,
    app_columns,
    ensure_session,
    events_since,
    open_engine,
    read_spill,
    spill_path_for,
    write_batch,
)

log = logging.getLogger("consentscope")

FLUSH_SECONDS = 0.25
POLL_SECONDS = 0.5
RETRIES = 3
BACKOFF = (0.05, 0.2, 0.5)


@dataclass(frozen=True, slots=True)
class _Findings:
    session_id: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Event:
    session_id: str
    columns: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Requests:
    """Requests scanned: how many, the first and last time, anomalies counted."""

    session_id: str
    count: int
    span: tuple[float, float]
    anomalies: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Contacts:
    session_id: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Coverage:
    session_id: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Switch:
    session_id: str
    label: str


@dataclass(frozen=True, slots=True)
class _Judge:
    session_id: str


_Queued = _Findings | _Contacts | _Coverage | _Event | _Requests | _Switch | _Judge


@dataclass(slots=True)
class Batch:
    session_id: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    requests: int = 0
    span: tuple[float, float] | None = None
    anomalies: dict[str, int] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.findings or self.events or self.requests or self.anomalies or self.contacts or self.coverage)

    def to_json(self) -> str:
        return json.dumps(
            {"session_id": self.session_id, "findings": self.findings, "events": self.events,
             "requests": self.requests, "span": self.span, "anomalies": self.anomalies,
             "contacts": self.contacts, "coverage": self.coverage},
            ensure_ascii=False,
        )


class BackgroundWriter:
    def __init__(
        self,
        url: str,
        session_id: str,
        *,
        label: str = "",
        profile: Profile | None = None,
        spill_path: str | None = None,
        on_remote_event: Callable[[float, str, str], None] | None = None,
    ) -> None:
        self.url = url
        self.spill_path = spill_path or spill_path_for(url)
        self.on_remote_event = on_remote_event
        #: handed over, not yet taken by the writer thread (appends and pops are atomic)
        self._q: deque[_Queued] = deque()
        #: wakes the writer thread before ``FLUSH_SECONDS`` are up (a judgement, the end)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.failures = 0
        self.spilled = 0
        self.written = 0
        self._engine = open_engine(url, fresh_connections=True)
        self.session_id = session_id
        self.profile = profile
        self._new_session(session_id, label)
        self._last_event_id = 0
        self._thread = threading.Thread(target=self._run, name="consentscope-writer", daemon=True)
        self._thread.start()

    def _new_session(self, session_id: str, label: str) -> None:
        package = self.profile.app.package if self.profile else ""
        app = app_columns(self.profile) if self.profile else None
        ensure_session(self._engine, session_id, label, package, sources=["live"], app=app)
        # events already stored (e.g. a restarted proxy) are not replayed into the timeline
        seen = events_since(self._engine, session_id, 0)
        self._last_event_id = seen[-1][0] if seen else 0

    # -- called from the worker thread ------------------------------------------------

    def put_findings(self, session_id: str, rows: list[dict[str, Any]]) -> None:
        self._q.append(_Findings(session_id, rows))

    def put_event(self, session_id: str, t: float, event: str, detail: str, source: str) -> None:
        self._q.append(_Event(session_id, {"time": t, "event": event, "detail": detail, "source": source}))

    def put_contacts(self, session_id: str, rows: list[dict[str, Any]]) -> None:
        self._q.append(_Contacts(session_id, rows))

    def put_coverage(self, session_id: str, document: dict[str, Any]) -> None:
        """The session's coverage so far (the latest one queued wins)."""
        self._q.append(_Coverage(session_id, document))

    def put_request(self, session_id: str, t: float, anomalies: tuple[str, ...] = ()) -> None:
        counts: dict[str, int] = {}
        for a in anomalies:
            counts[a] = counts.get(a, 0) + 1
        self.put_requests(session_id, 1, (t, t), counts)

    def put_requests(self, session_id: str, count: int, span: tuple[float, float], anomalies: dict[str, int]) -> None:
        """``count`` requests scanned between ``span``'s times (one queue item, not one per request)."""
        self._q.append(_Requests(session_id, count, span, dict(anomalies)))

    def switch_session(self, session_id: str, label: str) -> None:
        self._q.append(_Switch(session_id, label))

    def judge(self, session_id: str) -> None:
        """Judge the session once everything queued before this call is stored."""
        self._q.append(_Judge(session_id))
        self._wake.set()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        """Every ``FLUSH_SECONDS`` (sooner for a judgement or the end): store what was handed
        over, up to and including a judgement (the rest waits for the next round, at once)."""
        last_poll = 0.0
        judged = False
        while True:
            if not judged:
                self._wake.wait(FLUSH_SECONDS)
                self._wake.clear()
            batches: dict[str, Batch] = {}
            switches: list[_Switch] = []
            judge: list[str] = []
            while self._q:
                item = self._q.popleft()
                if isinstance(item, _Judge):
                    judge.append(item.session_id)
                    break  # store what came before it, then judge
                if isinstance(item, _Switch):
                    switches.append(item)
                else:
                    self._collect(batches, item)
            judged = bool(judge)
            for sw in switches:
                self._safely(partial(self._new_session, sw.session_id, sw.label))
                self.session_id = sw.session_id
            for b in batches.values():
                if not b.empty():
                    self._write(b)
            for sid in judge:
                self._safely(partial(self._judge, sid))
            if self.spilled and os.path.exists(self.spill_path):
                self._recover_spill()
            if self.on_remote_event is not None and time.monotonic() - last_poll > POLL_SECONDS:
                last_poll = time.monotonic()
                self._poll_events()
            if self._stop.is_set() and not self._q:
                return

    def _collect(self, batches: dict[str, Batch], item: _Findings | _Contacts | _Coverage | _Event | _Requests) -> None:
        b = batches.setdefault(item.session_id, Batch(item.session_id))
        if isinstance(item, _Findings):
            b.findings.extend(item.rows)
        elif isinstance(item, _Contacts):
            b.contacts.extend(item.rows)
        elif isinstance(item, _Coverage):
            b.coverage = item.document
        elif isinstance(item, _Event):
            b.events.append(item.columns)
        else:
            lo, hi = item.span
            b.requests += item.count
            b.span = (lo, hi) if b.span is None else (min(b.span[0], lo), max(b.span[1], hi))
            for a, n in item.anomalies.items():
                b.anomalies[a] = b.anomalies.get(a, 0) + n

    def _write(self, b: Batch) -> None:
        for attempt in range(RETRIES + 1):
            try:
                write_batch(self._engine, b.session_id, b.findings, b.events, b.requests, b.span, b.anomalies,
                            b.contacts, b.coverage)
                self.written += len(b.findings)
                return
            except Exception as e:
                if attempt < RETRIES:
                    time.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
                    continue
                self.failures += 1
                log.warning(f"consentscope: database write failed ({e.__class__.__name__}); "
                            f"spilling {len(b.findings)} findings to {self.spill_path}")
                self._spill(b)

    def _spill(self, b: Batch) -> None:
        fd = os.open(self.spill_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(b.to_json() + "\n")
        self.spilled += len(b.findings) or 1

    def _recover_spill(self) -> None:
        lines = read_spill(self.spill_path)
        try:
            for d in lines:
                span = (float(d["span"][0]), float(d["span"][1])) if d.get("span") else None
                write_batch(self._engine, d["session_id"], d["findings"], d["events"], d["requests"],
                            span, d.get("anomalies") or {}, d.get("contacts") or [], d.get("coverage"))
        except Exception:
            return
        os.unlink(self.spill_path)
        log.info(f"consentscope: database is back; {len(lines)} spilled batches stored")
        self.spilled = 0

    def _judge(self, session_id: str) -> None:
        from consentscope.session import judge_stored

        result, _ = judge_stored(self._engine, session_id, self.profile)
        log.info(f"consentscope: session {session_id}: {len(result.violations)} violations stored")

    def _poll_events(self) -> None:
        try:
            rows = events_since(self._engine, self.session_id, self._last_event_id)
        except Exception:
            return
        for row_id, t, event, detail, source in rows:
            self._last_event_id = row_id
            if source == "cli" and self.on_remote_event is not None:
                try:
                    self.on_remote_event(t, event, detail)
                except Exception:  # never let the callback end the writer thread
                    self.failures += 1
                    log.exception("consentscope: error handing on a mark from the command line")

    def _safely(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (StorageError, Exception) as e:
            self.failures += 1
            log.warning(f"consentscope: database error: {e}")


__all__ = ["BackgroundWriter", "add_event"]
