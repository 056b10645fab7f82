"""Detection for the live addon, off mitmproxy's event loop — by default in its own process.

mitmproxy runs its proxy in one Python process; a detector thread in that process would
take the interpreter lock from the event loop for every request it scans (the benchmark
measured 58% of throughput lost that way). So the addon only copies each request into a
plain record and queues it; an ``Engine`` in a child process (or, with
``consentscope_detector=thread``, a thread) decodes, matches, classifies, stores and sends
back the log lines and the flow comment of each request with findings.

The messages between the two sides are the frozen dataclasses below (``Items``, ``Mark``,
``NewSession``, ``Stop`` in; ``Result``, ``Done``, ``Log``, ``Failure``, ``Stopped`` out):
a request with findings comes back as a ``Result`` (log lines and the flow comment), requests
without are batched into ``Done`` (most requests have none).

The detector process runs at a lower CPU priority (``DETECTOR_NICE``): on a busy machine the
proxy gets the CPU first and the scan waits, never the other way round.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consentscope.detectors import MAX_BODY_SCAN_BYTES, RequestRecord
from consentscope.model import NO_MARKERS, ConsentMarkers, Contact, Source, TimelineEvent
from consentscope.profile import Profile

if TYPE_CHECKING:
    from consentscope.session import Audit

log = logging.getLogger("consentscope")

# -- the protocol ------------------------------------------------------------------
# Frozen dataclasses at module level, so they pickle across the process boundary.


@dataclass(frozen=True, slots=True)
class Items:
    """A flow's request records (and contacts, e.g. HTTPDNS answers) to scan."""

    flow_id: str
    items: tuple[RequestRecord | Contact, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A timeline event recorded by the tester (device page, command)."""

    time: float
    event: str
    detail: str
    source: str


@dataclass(frozen=True, slots=True)
class NewSession:
    session: str


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Result:
    """A request with findings: the log lines and the flow comment."""

    flow_id: str
    lines: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class Done:
    """Requests scanned without findings."""

    flow_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Log:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Failure:
    """An internal error of the detector (traffic is never affected)."""

    text: str


@dataclass(frozen=True, slots=True)
class Stopped:
    requests: int
    findings: int
    errors: int


Inbound = Items | Mark | NewSession | Stop
Outbound = Result | Done | Log | Failure | Stopped

#: Requests without findings are reported in batches of this many…
DONE_BATCH = 256
#: …or when no request has arrived for this long (seconds).
DONE_FLUSH_SECONDS = 0.05
#: ``nice`` increment of the detector process (process mode only).
DETECTOR_NICE = 10


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the detector needs, parsed once by the addon's ``configure``."""

    profile: Profile
    session: str
    db_url: str | None = None
    markers: ConsentMarkers = NO_MARKERS
    max_body: int = MAX_BODY_SCAN_BYTES


class Engine:
    """The worker side: everything expensive, in the order requests arrived."""

    def __init__(self, config: EngineConfig, out: Callable[[Outbound], None]) -> None:
        from consentscope.detectors import Limits, Scanner

        self.config = config
        self.out = out
        self.profile = config.profile
        self.scanner = Scanner(self.profile.scan_profile(), limits=Limits(max_body_scan_bytes=config.max_body))
        # before the writer: its thread may deliver a mark from the laptop at once
        self._remote: queue.SimpleQueue[tuple[float, str, str]] = queue.SimpleQueue()
        self.writer = None
        if config.db_url:
            from consentscope.addons.writer import BackgroundWriter

            self.writer = BackgroundWriter(
                config.db_url, config.session, label=config.session, profile=self.profile,
                on_remote_event=self._remote_event,
            )
        self.audit = self._new_audit(config.session)
        self.findings = 0
        self.errors = 0
        self._coverage_changed = False
        self._done: list[str] = []

    def _new_audit(self, session: str) -> Audit:
        from consentscope.session import Audit

        return Audit(
            session, self.profile, self.scanner, label=session, sources=["live"], markers=self.config.markers,
            live=True, device_marks=False,  # device marks arrive as events from the addon
            on_event=lambda e: self._store_event(session, e), source=Source.LIVE,
        )

    def _store_event(self, session: str, e: TimelineEvent) -> None:
        if self.writer is not None:
            self.writer.put_event(session, e.time, e.event, e.detail, e.source)
        self.out(Log(logging.INFO, f"consentscope: {e.event} recorded ({e.source})"))

    def _remote_event(self, t: float, name: str, detail: str) -> None:
        """From the writer thread: an event `consentscope mark` stored in the database."""
        self._remote.put((t, name, detail))

    def _drain_remote(self) -> None:
        while True:
            try:
                t, name, detail = self._remote.get_nowait()
            except queue.Empty:
                return
            self.audit.add_event(TimelineEvent(t, name, detail, "cli"))
            self.out(Log(logging.INFO, f"consentscope: {name} recorded from the command line"))

    def handle(self, msg: Inbound) -> None:
        from consentscope.console import contact_line, finding_line
        from consentscope.storage import contact_columns, finding_columns

        self._drain_remote()
        if isinstance(msg, Items):
            found = []
            try:
                for item in msg.items:
                    found.extend(self.audit.feed(item))
                    if isinstance(item, RequestRecord) and self.writer is not None:
                        self.writer.put_request(self.audit.session_id, item.time, tuple(self.audit.last_anomalies))
                if found and self.writer is not None:
                    self.writer.put_findings(self.audit.session_id, [finding_columns(f) for f in found])
                contacts = self.audit.take_contacts()
                for c in contacts:
                    if (line := contact_line(c)) is not None:
                        self.out(Log(logging.WARNING, line))
                if contacts and self.writer is not None:
                    self.writer.put_contacts(self.audit.session_id, [contact_columns(c) for c in contacts])
                self._coverage_changed = True
            except Exception:
                self.errors += 1
                self.out(Failure(f"consentscope: internal error scanning a request\n{traceback.format_exc()}"))
            self.findings += len(found)
            if not found:
                if any(isinstance(i, RequestRecord) for i in msg.items):  # not for a response's HTTPDNS answers
                    self._done.append(msg.flow_id)
                if len(self._done) >= DONE_BATCH:
                    self.flush()
                return
            lines = tuple(finding_line(f) for f in found)
            comment = ", ".join(sorted({f"{f.finding.data_type} ({f.phase})" for f in found}))
            self.out(Result(msg.flow_id, lines, comment))
        elif isinstance(msg, Mark):
            event = TimelineEvent(msg.time, msg.event, msg.detail, msg.source)
            self.audit.add_event(event)
            self._store_event(self.audit.session_id, event)
        elif isinstance(msg, NewSession):
            self.flush()
            if self.writer is not None:
                self.writer.judge(self.audit.session_id)
            self.audit = self._new_audit(msg.session)
            if self.writer is not None:
                self.writer.switch_session(msg.session, msg.session)
            self.out(Log(logging.INFO, f"consentscope: new session {msg.session}"))

    def idle(self) -> None:
        """Nothing arrived for a moment: take in marks from the laptop, report what is done."""
        self._drain_remote()
        self.flush()

    def flush(self) -> None:
        """Report the requests that had no findings; store the coverage so far."""
        if self._coverage_changed and self.writer is not None:
            from consentscope.reports.json_report import coverage_json

            self.writer.put_coverage(self.audit.session_id, coverage_json(self.audit.coverage))
            self._coverage_changed = False
        if self._done:
            done, self._done = tuple(self._done), []
            self.out(Done(done))

    def stop(self) -> Stopped:
        self.flush()
        if self.writer is not None:
            self.writer.judge(self.audit.session_id)
            self.writer.close()
            w = self.writer
            if w.failures:
                where = f"unsaved findings are in {w.spill_path}" if w.spilled else "all stored after retry"
                self.out(Log(logging.WARNING, f"consentscope: {w.failures} database write failures; {where}"))
        return Stopped(self.audit.requests, self.findings, self.errors)


#: signals a terminal or a service manager sends to the whole process group on stop
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def engine_main(config: EngineConfig, inbox: Any, outbox: Any, nice: int = 0, *, own_process: bool = False) -> None:
    """Child-process (or thread) entry point.

    ``own_process``: the detector runs in a process of its own. Ctrl-C (SIGINT) and SIGTERM
    reach every process of the terminal's group, this one too; the proxy decides when the
    detector stops (``Stop``, after the queued requests are scanned and the session judged),
    so this process ignores both. It was started with them blocked (``Runner``), so none is
    lost between the start and here; it stops by itself if the proxy dies without a ``Stop``.
    """
    parent = os.getppid()
    if own_process:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    try:
        engine = Engine(config, outbox.put)
    except Exception:
        outbox.put(Failure(f"consentscope: detector failed to start\n{traceback.format_exc()}"))
        outbox.put(Stopped(0, 0, 1))
        return
    while True:
        try:
            msg = inbox.get(timeout=DONE_FLUSH_SECONDS)
        except queue.Empty:
            engine.idle()
            if own_process and os.getppid() != parent:  # the proxy died (SIGKILL): end the session
                with contextlib.suppress(AttributeError):
                    outbox.cancel_join_thread()  # nobody reads the answers any more
                engine.stop()
                return
            continue
        if isinstance(msg, Stop):
            outbox.put(engine.stop())
            return
        engine.handle(msg)


class Runner:
    """Main-process side: queue messages to the engine, hand its answers to ``on_message``
    from a reader thread. ``mode``: "process" (default) or "thread"."""

    def __init__(self, config: EngineConfig, on_message: Callable[[Outbound], None], mode: str = "process") -> None:
        self.on_message = on_message
        self.mode = mode
        self.stats = Stopped(0, 0, 0)
        if mode == "process":
            ctx = multiprocessing.get_context("spawn")
            self.inbox: Any = ctx.Queue()
            self.outbox: Any = ctx.Queue()
            self.proc: Any = ctx.Process(
                target=engine_main, args=(config, self.inbox, self.outbox, DETECTOR_NICE),
                kwargs={"own_process": True}, name="consentscope-detector", daemon=True,
            )
            # blocked while it starts: a Ctrl-C during its imports waits, then is ignored there
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            try:
                self.proc.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        else:
            self.inbox = queue.SimpleQueue()
            self.outbox = queue.SimpleQueue()
            self.proc = threading.Thread(
                target=engine_main, args=(config, self.inbox, self.outbox), name="consentscope-detector", daemon=True
            )
            self.proc.start()
        self._reader = threading.Thread(target=self._read, name="consentscope-results", daemon=True)
        self._reader.start()

    def send(self, msg: Inbound) -> None:
        self.inbox.put(msg)

    def _read(self) -> None:
        while True:
            try:
                msg = self.outbox.get(timeout=1.0)
            except queue.Empty:
                if not self.proc.is_alive():
                    self.on_message(Failure("consentscope: the detector stopped unexpectedly"))
                    return
                continue
            except (EOFError, OSError):
                return
            if isinstance(msg, Stopped):
                self.stats = msg
                return
            try:
                self.on_message(msg)
            except Exception:
                log.exception("consentscope: error handling a detector message")

    def close(self, timeout: float = 60.0) -> Stopped:
        """Finish every queued request, store everything, stop the engine."""
        self.send(Stop())
        self._reader.join(timeout)
        self.proc.join(timeout)
        if self.mode == "process" and self.proc.is_alive():  # it ignores SIGTERM: end it for good
            log.error("consentscope: the detector did not stop in time; ended")
            self.proc.kill()
            self.proc.join(5)
        return self.stats
