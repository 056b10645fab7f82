"""Detection for the live addon, off mitmproxy's event loop — by default in its own process.

mitmproxy runs its proxy in one Python process; a detector thread in that process would
take the interpreter lock from the event loop for every request it scans (the benchmark
measured 58% of throughput lost that way). So the addon only copies each request into a
plain record and queues it; an ``Engine`` in a child process (or, with
``consentscope_detector=thread``, a thread) decodes, matches, classifies, stores and sends
back the log lines and the flow comment of each request with findings.

The messages between the two sides are the frozen dataclasses below (``Items``, ``Mark``,
``NewSession``, ``Stop`` in; ``Result``, ``Done``, ``Log``, ``Failure``, ``Stopped`` out) and,
for the plain request that is nearly every message, the tuple of ``wire.py``. A request with
findings comes back as a ``Result`` (log lines and the flow comment), requests without are
batched into ``Done`` (most requests have none).

Inbound messages cross a pipe in batches (``Inbox``): the hook appends to a list, the event
loop pickles the list and writes it without ever blocking once per ``BATCH_SECONDS``, so the
proxy pays neither a feeder thread taking the interpreter lock for every request nor a
detector woken per request. Should the detector fall behind, batches wait in the proxy's
memory up to ``MAX_BACKLOG_BYTES``; beyond that requests are not scanned (counted, logged),
so the proxy's memory stays bounded and its traffic never waits.

Answers come back the same way: the detector collects them and writes one frame per batch
of requests (``Outbox``), and the proxy reads them on its event loop (``Answers``), so its
process runs no second thread that would take the interpreter lock from the event loop.

The detector process runs at a lower CPU priority (``DETECTOR_NICE``): on a busy machine the
proxy gets the CPU first and the scan waits, never the other way round. It also asks the
kernel for long turns (``DETECTOR_SLICE_NS``, ``ask_long_slice``), so that a task which wakes
with work (the proxy's event loop, the clients, the app's servers) takes the CPU from it at once
instead of waiting for the end of its turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import gc
import logging
import multiprocessing
import os
import pickle
import platform
import queue
import select
import signal
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consentscope.detectors import MAX_BODY_SCAN_BYTES, SCAN_GC_THRESHOLD, RequestRecord
from consentscope.model import LIVE_UNSCANNED, NO_MARKERS, ConsentMarkers, Contact, Source, TimelineEvent
from consentscope.profile import Profile

from .wire import WireRequest, request_record

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
class Unscanned:
    """Requests the proxy passed on without scanning (the detector was too far behind): the
    session's coverage must say so, or the report would claim "not seen" for them."""

    count: int


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


Inbound = WireRequest | Items | Mark | NewSession | Unscanned | Stop
Outbound = Result | Done | Log | Failure | Stopped

#: Requests without findings are reported in batches of this many…
DONE_BATCH = 256
#: …or when no request has arrived for this long (seconds).
DONE_FLUSH_SECONDS = 0.05
#: ``nice`` increment of the detector process (process mode only).
DETECTOR_NICE = 10
#: The detector's time slice (process mode; Linux 6.12 and later). Linux's scheduler (EEVDF,
#: 6.6 and later) lets the task it picked keep the CPU for its slice even when a task with more
#: right to it wakes ("run to parity"), unless the waking task's slice is the shorter (6.12). At
#: the default slice (0.7 ms times 1 + log2 of the CPUs, at most 2.8 ms), the proxy's event loop
#: and its clients waited for the end of the detector's turns: the bench's p99 rose by 2.6-3.7
#: ms. At 10 ms, longer than any default slice, every task at the default slice that wakes
#: preempts the detector at once (p99 +0.8-2.0 ms in the same runs); the detector's share of the
#: CPU stays that of its nice. Not longer: on 6.12-6.16 a task that never sleeps may wait out a
#: whole slice behind it (10 ms, as at a 100 Hz tick).
DETECTOR_SLICE_NS = 10_000_000
#: The coverage so far is stored at most this often (seconds; and when a session ends):
#: it is a document over every destination, not worth rebuilding for every batch.
COVERAGE_SECONDS = 1.0
#: Inbound messages are written to the detector at most this often (seconds)… Every 10 ms, the
#: pickling, the pipe writes and the detector's wake-ups were 3.7% of the proxy's CPU (py-spy);
#: every 50 ms, 1.8%. A finding is shown at most 50 ms later.
BATCH_SECONDS = 0.05
#: …or as soon as a batch holds this many bytes of bodies.
BATCH_BYTES = 1 << 20
#: Batches the detector has not read yet, kept in the proxy's memory up to this many bytes;
#: beyond it requests are not scanned (counted and logged) rather than the proxy growing
#: without end while the detector is behind (a 1 GiB upload per second would do it).
MAX_BACKLOG_BYTES = 256 << 20
#: Without an event loop (tests, before ``running``) a write waits for the pipe this long.
SYNC_WRITE_SECONDS = 60.0
#: The proxy reads the detector's answers this many bytes at a time.
ANSWER_READ_BYTES = 1 << 20
#: Pipe buffer asked for (Linux; unprivileged processes may get up to 1 MiB): fewer partial
#: writes and wake-ups than the default 64 KiB.
PIPE_BYTES = 1 << 20
#: The detector's young-generation GC threshold (``detectors.SCAN_GC_THRESHOLD``). With the
#: compiled profile and tracker tables (~200,000 objects) frozen at start (``gc.freeze``),
#: no collection ran in 9,000 requests of the bench mix (0.024 ms per request before).
DETECTOR_GC_THRESHOLD = SCAN_GC_THRESHOLD


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
        # the matcher built to scan for hours: Hyperscan (or without it a DFA automaton, ~50 MB)
        self.scanner = Scanner(self.profile.scan_profile(), limits=Limits(max_body_scan_bytes=config.max_body),
                               fast_automaton=True)
        # imported here: the proxy's process imports this module and needs none of them
        from consentscope.console import contact_line, finding_line
        from consentscope.storage import contact_columns, finding_columns

        self._contact_line, self._finding_line = contact_line, finding_line
        self._contact_columns, self._finding_columns = contact_columns, finding_columns
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
        self._coverage_at = 0.0
        self._done: list[str] = []
        #: requests scanned since the last ``flush``: count, first and last time, anomalies
        self._requests = 0
        self._span: tuple[float, float] | None = None
        self._anomalies: dict[str, int] = {}

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
        while not self._remote.empty():  # asked before every request: no exception when empty
            t, name, detail = self._remote.get_nowait()  # this thread is the only one taking
            self.audit.add_event(TimelineEvent(t, name, detail, "cli"))
            self.out(Log(logging.INFO, f"consentscope: {name} recorded from the command line"))

    def handle(self, msg: Inbound) -> None:
        self._drain_remote()
        if isinstance(msg, tuple):
            self._scan(msg[0], (request_record(msg),))
        elif isinstance(msg, Items):
            self._scan(msg.flow_id, msg.items)
        elif isinstance(msg, Mark):
            event = TimelineEvent(msg.time, msg.event, msg.detail, msg.source)
            self.audit.add_event(event)
            self._store_event(self.audit.session_id, event)
        elif isinstance(msg, Unscanned):
            self.audit.anomalies[LIVE_UNSCANNED] += msg.count
            self.audit.coverage.add_skipped({LIVE_UNSCANNED: msg.count})
        elif isinstance(msg, NewSession):
            self.flush(coverage=True)
            if self.writer is not None:
                self.writer.judge(self.audit.session_id)
            self.audit = self._new_audit(msg.session)
            if self.writer is not None:
                self.writer.switch_session(msg.session, msg.session)
            self.out(Log(logging.INFO, f"consentscope: new session {msg.session}"))

    def _scan(self, flow_id: str, items: tuple[RequestRecord | Contact, ...]) -> None:
        contact_line, finding_line = self._contact_line, self._finding_line
        contact_columns, finding_columns = self._contact_columns, self._finding_columns
        found = []
        try:
            for item in items:
                found.extend(self.audit.feed(item))
                if isinstance(item, RequestRecord) and self.writer is not None:
                    self._count_request(item.time, self.audit.last_anomalies)
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
            if any(isinstance(i, RequestRecord) for i in items):  # not for a response's HTTPDNS answers
                self._done.append(flow_id)
            if len(self._done) >= DONE_BATCH:
                self.flush()
            return
        lines = tuple(finding_line(f) for f in found)
        comment = ", ".join(sorted({f"{f.finding.data_type} ({f.phase})" for f in found}))
        self.out(Result(flow_id, lines, comment))

    def _count_request(self, t: float, anomalies: tuple[str, ...]) -> None:
        """Requests are stored as counts per session (``flush`` hands them to the writer)."""
        self._requests += 1
        span = self._span
        self._span = (t, t) if span is None else (min(span[0], t), max(span[1], t))
        for a in anomalies:
            self._anomalies[a] = self._anomalies.get(a, 0) + 1

    def idle(self) -> None:
        """Nothing arrived for a moment: take in marks from the laptop, report what is done."""
        self._drain_remote()
        self.flush()

    def flush(self, *, coverage: bool = False) -> None:
        """Report the requests that had no findings; hand the request counts to the writer;
        store the coverage so far when ``coverage`` or ``COVERAGE_SECONDS`` have passed."""
        if self.writer is not None:
            if self._requests and self._span is not None:
                self.writer.put_requests(self.audit.session_id, self._requests, self._span, self._anomalies)
                self._requests, self._span, self._anomalies = 0, None, {}
            now = time.monotonic()
            if self._coverage_changed and (coverage or now - self._coverage_at >= COVERAGE_SECONDS):
                from consentscope.reports.json_report import coverage_json

                self.writer.put_coverage(self.audit.session_id, coverage_json(self.audit.coverage))
                self._coverage_changed = False
                self._coverage_at = now
        if self._done:
            done, self._done = tuple(self._done), []
            self.out(Done(done))

    def stop(self) -> Stopped:
        self.flush(coverage=True)
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
    """Child-process (or thread) entry point. ``inbox``: the reading end of the pipe the
    proxy's ``Inbox`` writes batches to (a ``multiprocessing.connection.Connection``);
    ``outbox``: the writing end of the pipe the answers go back through (``Outbox``).

    ``own_process``: the detector runs in a process of its own. Ctrl-C (SIGINT) and SIGTERM
    reach every process of the terminal's group, this one too; the proxy decides when the
    detector stops (``Stop``, after the queued requests are scanned and the session judged),
    so this process ignores both. It was started with them blocked (``Runner``), so none is
    lost between the start and here; it stops by itself if the proxy dies without a ``Stop``
    (the pipe ends, or the parent is gone).
    """
    parent = os.getppid()
    if own_process:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
        ask_long_slice(DETECTOR_SLICE_NS)
    out = Outbox(outbox)
    try:
        _engine_loop(config, inbox, out, parent, own_process)
    finally:
        out.close()  # the proxy reads the end of the pipe: no answer is lost, or the detector died


#: ``sched_setattr``'s system call number, by ``platform.machine()`` (Linux)
_SCHED_SETATTR = {"x86_64": 314, "amd64": 314, "aarch64": 274, "arm64": 274, "riscv64": 274, "loongarch64": 274,
                  "i386": 351, "i686": 351, "armv7l": 380, "ppc64le": 355, "ppc64": 355, "s390x": 345}


def ask_long_slice(ns: int) -> bool:
    """Ask the kernel to give the calling thread turns of ``ns`` nanoseconds (``sched_setattr``:
    ``SCHED_OTHER`` at its current nice, ``sched_runtime`` = ``ns``; the kernel clamps it to
    0.1-100 ms). A batch job's request: tasks with shorter slices that wake preempt it at once;
    its share of the CPU is unchanged. Any user may ask (no privilege: the nice stays as it is).
    Kernels before 6.12 accept the call and ignore the slice; elsewhere (not Linux, an unknown
    machine, a refusal) nothing happens. True if the kernel accepted the call."""
    number = _SCHED_SETATTR.get(platform.machine().lower())
    if not sys.platform.startswith("linux") or number is None:
        return False
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        # struct sched_attr, first version (48 bytes): size, policy, flags, nice, priority,
        # runtime, deadline, period
        attr = ctypes.create_string_buffer(struct.pack("=IIQiIQQQ", 48, os.SCHED_OTHER, 0, nice, 0, ns, 0, 0))
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.syscall(ctypes.c_long(number), ctypes.c_long(0), attr, ctypes.c_uint(0))) == 0
    except (OSError, AttributeError):
        return False


def _engine_loop(config: EngineConfig, inbox: Any, out: Outbox, parent: int, own_process: bool) -> None:
    try:
        engine = Engine(config, out.put)
    except Exception:
        out.put(Failure(f"consentscope: detector failed to start\n{traceback.format_exc()}"))
        out.put(Stopped(0, 0, 1))
        out.send()
        return
    if own_process:  # the heap is ours alone: what the start built lives as long as the process
        gc.collect()
        gc.freeze()
        gc.set_threshold(DETECTOR_GC_THRESHOLD, *gc.get_threshold()[1:])

    def orphaned() -> None:  # the proxy died (SIGKILL): end the session, nobody reads answers
        engine.stop()
        out.discard()

    while True:
        try:
            if not inbox.poll(DONE_FLUSH_SECONDS):
                engine.idle()
                out.send()
                if own_process and os.getppid() != parent:
                    orphaned()
                    return
                continue
            batch: list[Inbound] = pickle.loads(inbox.recv_bytes())
        except (EOFError, OSError):
            orphaned()
            return
        for msg in batch:
            if isinstance(msg, Stop):
                out.put(engine.stop())
                out.send()
                inbox.close()
                return
            engine.handle(msg)
        out.send()  # one frame of answers per batch of requests


class Outbox:
    """The detector's end of the answer pipe. ``put`` collects; ``send`` writes what was
    collected as one frame (a pickled list), once per batch of requests: the proxy reads it
    on its event loop, woken once per batch instead of once per request with findings."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._msgs: list[Outbound] = []
        self.gone = False

    def put(self, msg: Outbound) -> None:
        self._msgs.append(msg)

    def send(self) -> None:
        if not self._msgs:
            return
        msgs, self._msgs = self._msgs, []
        if self.gone:
            return
        try:
            self.conn.send_bytes(pickle.dumps(msgs, pickle.HIGHEST_PROTOCOL))
        except OSError:  # the proxy is gone: nobody reads answers any more
            self.gone = True

    def discard(self) -> None:
        self._msgs.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")


def _frame(data: bytes) -> list[bytes]:
    """``data`` framed as ``multiprocessing.connection.Connection.recv_bytes`` reads it."""
    if len(data) > 0x7FFFFFFF:
        return [_HEADER.pack(-1), _LONG_HEADER.pack(len(data)), data]
    return [_HEADER.pack(len(data)), data]


class Inbox:
    """The proxy's end of the pipe to the detector.

    ``put`` only appends to a list. With an event loop attached (mitmproxy running), the loop
    pickles the list once per ``BATCH_SECONDS`` and writes what the pipe takes without
    blocking; the rest waits for the pipe to be writable (``add_writer``). Without a loop
    (mitmproxy's test harness, before ``running``) every message is written at once,
    waiting for the pipe if it must. Called from the event loop's thread only."""

    def __init__(self, conn: Any, max_backlog: int = MAX_BACKLOG_BYTES) -> None:
        self.conn = conn
        self.max_backlog = max_backlog
        self.fd: int = conn.fileno()
        os.set_blocking(self.fd, False)
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._batch: list[Inbound] = []
        self._batch_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._out: deque[memoryview] = deque()
        self.backlog = 0  # bytes written to ``_out`` and not yet to the pipe
        self._writing = False
        self.dropped = 0  # requests not scanned: backlog full or the detector gone
        self._unreported = 0  # …of which the detector has not been told yet (``Unscanned``)
        self.closed = False

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        if self._out:
            self._pump()  # what the pipe did not take before waits for the loop now

    def put(self, msg: Inbound, size: int = 0) -> None:
        if self.closed:
            self._drop([msg])
            return
        self._batch.append(msg)
        self._batch_bytes += size
        if self.loop is None:
            self.drain(SYNC_WRITE_SECONDS)
        elif self._batch_bytes >= BATCH_BYTES:
            self.flush()
        elif self._timer is None:
            self._timer = self.loop.call_later(BATCH_SECONDS, self.flush)

    def flush(self) -> None:
        """Pickle the batch and write what the pipe takes now (the rest waits for it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if not batch:
            return
        if self.backlog > self.max_backlog:
            kept: list[Inbound] = [m for m in batch if not isinstance(m, tuple | Items)]
            self._drop(batch, len(batch) - len(kept))
            batch = kept
        if self._unreported:  # the session's coverage counts what went unscanned
            batch.append(Unscanned(self._unreported))
            self._unreported = 0
        if not batch:
            return
        for part in _frame(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)):
            self._out.append(memoryview(part))
            self.backlog += len(part)
        self._pump()

    def _pump(self) -> None:
        """Write what the pipe takes now; register for the rest (event loop) or leave it."""
        while self._out:
            try:
                n = os.writev(self.fd, list(self._out)[:64])
            except BlockingIOError:
                break
            except OSError:  # the detector is gone: nothing will read this any more
                self._gone()
                return
            self.backlog -= n
            while n:
                head = self._out[0]
                if n >= len(head):
                    n -= len(head)
                    self._out.popleft()
                else:
                    self._out[0] = head[n:]
                    n = 0
        if self.loop is not None and bool(self._out) != self._writing:
            if self._out:
                self.loop.add_writer(self.fd, self._pump)
            else:
                self.loop.remove_writer(self.fd)
            self._writing = bool(self._out)

    def drain(self, timeout: float, answers: Answers | None = None) -> bool:
        """Write everything now, waiting for the pipe up to ``timeout`` seconds (at the end,
        or without an event loop). ``answers``: read those meanwhile (the detector may be
        waiting for its answers to be read before it reads more)."""
        loop, self.loop = self.loop, None  # no timer, no writer callback: this call writes
        try:
            if self._writing and loop is not None:
                loop.remove_writer(self.fd)
                self._writing = False
            self.flush()
            deadline = time.monotonic() + timeout
            while self._out and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                reading = [answers.fd] if answers is not None and not answers.ended else []
                readable, _, _ = select.select(reading, [self.fd], [], min(left, 1.0))
                if readable and answers is not None:
                    answers.read()
                self._pump()
            return not self._out
        finally:
            self.loop = loop
            if self._out and not self.closed:
                self._pump()  # the event loop writes the rest

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing and self.loop is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_writer(self.fd)
            self._writing = False
        self.closed = True
        self.conn.close()

    def _gone(self) -> None:
        self._out.clear()
        self.backlog = 0
        self.closed = True

    def _drop(self, msgs: list[Inbound], n: int | None = None) -> None:
        n = sum(isinstance(m, tuple | Items) for m in msgs) if n is None else n
        if n and not self.dropped:
            log.error("consentscope: the detector is too far behind (or gone); requests are passed "
                      "on unscanned until it catches up")
        self.dropped += n
        self._unreported += n


class Answers:
    """The proxy's end of the answer pipe: frames of pickled lists of ``Outbound``.

    With an event loop at the start (mitmproxy calls ``configure`` on its loop) they are read
    there (``add_reader``), so the proxy's process has no second thread: a reader thread
    woken while the event loop runs must take the interpreter lock from it, and on a machine
    with every core busy the loop then waits for that thread to be scheduled (the bench saw
    milliseconds added to the slowest requests). Without a loop, a thread reads them."""

    def __init__(self, conn: Any, on_message: Callable[[Outbound], None]) -> None:
        self.conn = conn
        self.fd: int = conn.fileno()
        self.on_message = on_message
        self.stats: Stopped | None = None
        self.ended = False  # the pipe ended (Stopped read, or the detector gone)
        self._buf = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def start(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None:
            try:
                loop.add_reader(self.fd, self.read)
            except NotImplementedError:  # an event loop without readers (Windows' proactor)
                loop = None
            else:
                os.set_blocking(self.fd, False)
                self._loop = loop
        if loop is None:
            self._thread = threading.Thread(target=self._read_blocking, name="consentscope-results", daemon=True)
            self._thread.start()

    def read(self) -> None:
        """Read what the pipe holds (non-blocking) and hand over every whole frame."""
        while not self.ended:
            try:
                data = os.read(self.fd, ANSWER_READ_BYTES)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._end()
                return
            self._buf += data
            try:
                self._frames()
            except Exception:  # never raised into the event loop: the answers end here
                log.exception("consentscope: unreadable answer from the detector")
                self._end()
                return
            if len(data) < ANSWER_READ_BYTES:
                break

    def _frames(self) -> None:
        buf, at = self._buf, 0
        while not self.ended:
            if len(buf) - at < 4:
                break
            (n,) = _HEADER.unpack_from(buf, at)
            head = 4
            if n == -1:
                if len(buf) - at < 12:
                    break
                (n,) = _LONG_HEADER.unpack_from(buf, at + 4)
                head = 12
            if len(buf) - at - head < n:
                break
            msgs = pickle.loads(memoryview(buf)[at + head:at + head + n])
            at += head + n
            self._dispatch(msgs)
        del buf[:at]

    def _read_blocking(self) -> None:
        while not self.ended:
            try:
                data = self.conn.recv_bytes()
            except (EOFError, OSError):
                self._end()
                return
            self._dispatch(pickle.loads(data))

    def _dispatch(self, msgs: list[Outbound]) -> None:
        for msg in msgs:
            if isinstance(msg, Stopped):
                self.stats = msg
                self._end()
                return
            try:
                self.on_message(msg)
            except Exception:
                log.exception("consentscope: error handling a detector message")

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._detach()
        if self.stats is None:
            try:
                self.on_message(Failure("consentscope: the detector stopped unexpectedly"))
            except Exception:
                log.exception("consentscope: error handling a detector message")

    def _detach(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            self._loop = None

    def finish(self, deadline: float) -> None:
        """Read until the detector's ``Stopped`` (or the end of the pipe, or ``deadline``),
        here: the event loop is not running while its own callback waits for the end."""
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            return
        self._detach()
        while not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if select.select([self.fd], [], [], min(left, 1.0))[0]:
                self.read()

    def close(self) -> None:
        self._detach()
        if self._thread is None or not self._thread.is_alive():
            with contextlib.suppress(OSError):
                self.conn.close()


class Runner:
    """Main-process side: batch messages to the engine (``Inbox``), hand its answers to
    ``on_message`` (``Answers``: on the event loop given at the start, else from a reader
    thread). ``mode``: "process" (default) or "thread"."""

    def __init__(self, config: EngineConfig, on_message: Callable[[Outbound], None], mode: str = "process",
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.mode = mode
        self.stats = Stopped(0, 0, 0)
        if mode == "process":
            ctx = multiprocessing.get_context("spawn")
            reader, writer = ctx.Pipe(duplex=False)
            answers, answer_writer = ctx.Pipe(duplex=False)
            self.proc: Any = ctx.Process(
                target=engine_main, args=(config, reader, answer_writer, DETECTOR_NICE),
                kwargs={"own_process": True}, name="consentscope-detector", daemon=True,
            )
            # blocked while it starts: a Ctrl-C during its imports waits, then is ignored there
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            try:
                self.proc.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            # the detector's now: a write to a dead detector fails instead of waiting, and
            # its answers end when it does
            reader.close()
            answer_writer.close()
        else:
            reader, writer = multiprocessing.Pipe(duplex=False)
            answers, answer_writer = multiprocessing.Pipe(duplex=False)
            self.proc = threading.Thread(
                target=engine_main, args=(config, reader, answer_writer), name="consentscope-detector", daemon=True
            )
            self.proc.start()
        self.answers = Answers(answers, on_message)
        self.answers.start(loop)
        #: answers arrive on the event loop's thread (``on_message`` may touch flows directly)
        self.answers_on_loop = not self.answers.threaded
        self.inbox = Inbox(writer)
        self.inbox.attach(loop)

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Batch on this event loop from now on (mitmproxy's ``running``)."""
        self.inbox.flush()
        self.inbox.attach(loop)

    def send(self, msg: Inbound, size: int = 0) -> None:
        """Queue ``msg`` (``size``: bytes of body it carries, for batching). Never waits
        while an event loop is attached."""
        self.inbox.put(msg, size)

    def close(self, timeout: float = 60.0) -> Stopped:
        """Finish every queued request, store everything, stop the engine."""
        deadline = time.monotonic() + timeout
        self.inbox.put(Stop())
        self.inbox.drain(timeout, None if self.answers.threaded else self.answers)
        self.inbox.close()
        self.answers.finish(deadline)
        self.answers.close()
        self.proc.join(max(0.0, deadline - time.monotonic()))
        if self.mode == "process" and self.proc.is_alive():  # it ignores SIGTERM: end it for good
            log.error("consentscope: the detector did not stop in time; ended")
            self.proc.kill()
            self.proc.join(5)
        if self.inbox.dropped:
            log.error(f"consentscope: {self.inbox.dropped} requests were not scanned (the detector was behind)")
        if self.answers.stats is not None:
            self.stats = self.answers.stats
        return self.stats
