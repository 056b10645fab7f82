"""Detection for the live addon, off mitmproxy's event loop — by default in its own process.

mitmproxy runs its proxy in one Python process; a detector thread in that process would
take the interpreter lock from the event loop for every request it scans (the benchmark
measured 58% of throughput lost that way). So the addon only copies each request into a
plain record and queues it; an ``Engine`` in a child process (or, with
``consentscope_detector=thread``, a thread) decodes, matches, classifies, stores and sends
back the log lines and the flow comment of each request with findings.

Messages in: ("items", flow_id, [records]), ("event", t, name, detail, source),
("session", id), ("stop",). Messages out:
("result", flow_id, lines, comment) for a request with findings; ("done", [flow_id…]) for
requests without, batched as well (most requests have none); ("log", level, text),
("error", text), ("stopped", requests, findings, errors).

The detector process runs at a lower CPU priority (``DETECTOR_NICE``): on a busy machine the
proxy gets the CPU first and the scan waits, never the other way round.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger("consentscope")

Message = tuple[Any, ...]

#: Requests without findings are reported in batches of this many…
DONE_BATCH = 256
#: …or when no request has arrived for this long (seconds).
DONE_FLUSH_SECONDS = 0.05
#: ``nice`` increment of the detector process (process mode only).
DETECTOR_NICE = 10


@dataclass(frozen=True, slots=True)
class EngineConfig:
    profile_path: str
    session: str
    db_url: str | None = None
    app_domains: tuple[str, ...] = ()
    consent_marker: str | None = None
    refusal_marker: str | None = None
    max_body: int = 8 * 1024 * 1024


class Engine:
    """The worker side: everything expensive, in the order requests arrived."""

    def __init__(self, config: EngineConfig, out: Callable[[Message], None]) -> None:
        import re

        from consentscope.detectors import Limits, Scanner
        from consentscope.pipeline import ConsentMarkers
        from consentscope.profile import load_profile

        self.config = config
        self.out = out
        profile = load_profile(config.profile_path)
        if config.app_domains:
            app = replace(profile.app, first_party_domains=profile.app.first_party_domains + config.app_domains)
            profile = replace(profile, app=app)
        self.profile = profile
        self.scanner = Scanner(profile.scan_profile(), limits=Limits(max_body_scan_bytes=config.max_body))
        self.markers = ConsentMarkers(
            consent=re.compile(config.consent_marker) if config.consent_marker else None,
            refusal=re.compile(config.refusal_marker) if config.refusal_marker else None,
        )
        self.writer = None
        if config.db_url:
            from consentscope.addons.writer import BackgroundWriter

            self.writer = BackgroundWriter(
                config.db_url, config.session, label=config.session, profile=profile,
                on_remote_event=self._remote_event,
            )
        self.audit = self._new_audit(config.session)
        self.findings = 0
        self.errors = 0
        self._done: list[str] = []
        self._remote: queue.SimpleQueue[tuple[float, str, str]] = queue.SimpleQueue()

    def _new_audit(self, session: str):  # type: ignore[no-untyped-def]
        from consentscope.pipeline import Audit

        audit = Audit(session, self.profile, self.scanner, label=session, sources=["live"], markers=self.markers)
        audit.live = True
        audit.timeline_from_device = False  # device marks arrive as events from the addon
        audit.on_event = lambda e: self._store_event(session, e.time, e.event, e.detail, e.source)
        return audit

    def _store_event(self, session: str, t: float, name: str, detail: str, source: str) -> None:
        if self.writer is not None:
            self.writer.put_event(session, t, name, detail, source)
        self.out(("log", logging.INFO, f"consentscope: {name} recorded ({source})"))

    def _remote_event(self, t: float, name: str, detail: str) -> None:
        """From the writer thread: an event `consentscope mark` stored in the database."""
        self._remote.put((t, name, detail))

    def _drain_remote(self) -> None:
        from consentscope.consent import TimelineEvent

        while True:
            try:
                t, name, detail = self._remote.get_nowait()
            except queue.Empty:
                return
            self.audit.timeline.add(TimelineEvent(t, name, detail, "cli"))
            self.out(("log", logging.INFO, f"consentscope: {name} recorded from the command line"))

    def handle(self, msg: Message) -> None:
        from consentscope.consent import TimelineEvent
        from consentscope.console import finding_line
        from consentscope.detectors import RequestRecord
        from consentscope.storage import finding_columns

        self._drain_remote()
        kind = msg[0]
        if kind == "items":
            _, flow_id, items = msg
            found = []
            try:
                for item in items:
                    found.extend(self.audit.feed(item))
                    if isinstance(item, RequestRecord) and self.writer is not None:
                        self.writer.put_request(self.audit.session_id, item.time, tuple(self.audit.last_anomalies))
                if found and self.writer is not None:
                    self.writer.put_findings(self.audit.session_id, [finding_columns(f) for f in found])
            except Exception:
                self.errors += 1
                self.out(("error", f"consentscope: internal error scanning a request\n{traceback.format_exc()}"))
            self.findings += len(found)
            if not found:
                if any(isinstance(i, RequestRecord) for i in items):  # not for a response's HTTPDNS answers
                    self._done.append(flow_id)
                if len(self._done) >= DONE_BATCH:
                    self.flush()
                return
            lines = [finding_line(f) for f in found]
            comment = ", ".join(sorted({f"{f.finding.data_type} ({f.phase})" for f in found}))
            self.out(("result", flow_id, lines, comment))
        elif kind == "event":
            _, t, name, detail, source = msg
            self.audit.timeline.add(TimelineEvent(t, name, detail, source))
            self._store_event(self.audit.session_id, t, name, detail, source)
        elif kind == "session":
            session = msg[1]
            if self.writer is not None:
                self.writer.judge(self.audit.session_id)
            self.audit = self._new_audit(session)
            if self.writer is not None:
                self.writer.switch_session(session, session)
            self.out(("log", logging.INFO, f"consentscope: new session {session}"))

    def flush(self) -> None:
        """Report the requests that had no findings."""
        if self._done:
            done, self._done = self._done, []
            self.out(("done", done))

    def stop(self) -> Message:
        self.flush()
        if self.writer is not None:
            self.writer.judge(self.audit.session_id)
            self.writer.close()
            w = self.writer
            if w.failures:
                where = f"unsaved findings are in {w.spill_path}" if w.spilled else "all stored after retry"
                self.out(("log", logging.WARNING, f"consentscope: {w.failures} database write failures; {where}"))
        return ("stopped", self.audit.requests, self.findings, self.errors)


def engine_main(config: EngineConfig, inbox: Any, outbox: Any, nice: int = 0) -> None:
    """Child-process (or thread) entry point."""
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    try:
        engine = Engine(config, outbox.put)
    except Exception:
        outbox.put(("error", f"consentscope: detector failed to start\n{traceback.format_exc()}"))
        outbox.put(("stopped", 0, 0, 1))
        return
    while True:
        try:
            msg = inbox.get(timeout=DONE_FLUSH_SECONDS)
        except queue.Empty:
            engine.flush()
            continue
        if msg[0] == "stop":
            outbox.put(engine.stop())
            return
        engine.handle(msg)


class Runner:
    """Main-process side: queue messages to the engine, hand its answers to ``on_message``
    from a reader thread. ``mode``: "process" (default) or "thread"."""

    def __init__(self, config: EngineConfig, on_message: Callable[[Message], None], mode: str = "process") -> None:
        self.on_message = on_message
        self.mode = mode
        self.stats: tuple[int, int, int] = (0, 0, 0)
        if mode == "process":
            ctx = multiprocessing.get_context("spawn")
            self.inbox: Any = ctx.Queue()
            self.outbox: Any = ctx.Queue()
            self.proc: Any = ctx.Process(
                target=engine_main, args=(config, self.inbox, self.outbox, DETECTOR_NICE),
                name="consentscope-detector", daemon=True,
            )
            self.proc.start()
        else:
            self.inbox = queue.SimpleQueue()
            self.outbox = queue.SimpleQueue()
            self.proc = threading.Thread(
                target=engine_main, args=(config, self.inbox, self.outbox), name="consentscope-detector", daemon=True
            )
            self.proc.start()
        self._reader = threading.Thread(target=self._read, name="consentscope-results", daemon=True)
        self._reader.start()

    def send(self, msg: Message) -> None:
        self.inbox.put(msg)

    def _read(self) -> None:
        while True:
            try:
                msg = self.outbox.get(timeout=1.0)
            except queue.Empty:
                if not self.proc.is_alive():
                    self.on_message(("error", "consentscope: the detector stopped unexpectedly"))
                    return
                continue
            except (EOFError, OSError):
                return
            if msg[0] == "stopped":
                self.stats = msg[1:]
                return
            try:
                self.on_message(msg)
            except Exception:
                log.exception("consentscope: error handling a detector message")

    def close(self, timeout: float = 60.0) -> tuple[int, int, int]:
        """Finish every queued request, store everything, stop the engine."""
        self.send(("stop",))
        self._reader.join(timeout)
        self.proc.join(timeout)
        return self.stats
