"""Scan one session's requests in worker processes, the results back in request order.

``Scanner.scan`` is the largest part of a replay's work (3 of the 7.9 CPU seconds of the
bench's 21 MB flow file with the full profile, the rest spread over reading, placing,
storing and the reports), and a scan needs nothing but the record and the compiled profile:
the main process keeps reading the capture and feeding the ``Audit`` in capture order, while
``jobs`` workers, forked once the ``Scanner`` is built (so none rebuilds it), scan batches
of records. Batch ``i`` goes to worker ``i % jobs`` and its results are taken back strictly
in submission order, so what the audit sees, and every output, is what ``jobs=1`` gives.

A batch may also be framed flows of a flow file (``submit_flows``): the workers then read
them too, with the function the pool is given (``read_flows``, ``session._read_and_scan``),
and the main process only frames the file (``readers.flowfile.iter_frames``, ~30 ms for the
bench's 21 MB): reading the flows was about 1 of its 3.6 CPU seconds with ``--jobs 2``.

Bounded: at most ``in_flight`` batches (of at most ``BATCH_RECORDS`` records and
``BATCH_BYTES`` of bodies) are out at a time, and a body over ``MAX_SHIPPED_BODY`` is not
copied to a worker at all (the main process scans it when its turn comes). Never a hang: a
worker that dies is seen at once (its process sentinel), one that gives no result within
``RESULT_DEADLINE`` is given up on; either is a ``ScanWorkerError`` naming the worker and the
requests, and ``ScanPool.terminate`` (on any error, Ctrl-C included) ends every worker
within ``STOP_DEADLINE``. Workers ignore SIGINT: a Ctrl-C on the terminal reaches the whole
process group, and ending the workers is the main process's job (no worker tracebacks).

One thread in the main process writes the batches to the workers' pipes: a main thread that
waits for worker A's result while a full pipe to worker B waits for B to be read could
otherwise block both for good (B blocked writing a result nobody reads yet).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import fields
from multiprocessing.connection import Connection, wait
from operator import attrgetter
from typing import Any

from consentscope.detectors import Finding, RequestRecord, Scanner, ScanResult
from consentscope.errors import ConsentscopeError

#: Default worker count at most: the main process (reading, placing, storing, about a third
#: of a replay's work) bounds the speed-up past three or four workers, and every worker is a
#: copy of the main process's memory.
MAX_DEFAULT_JOBS = 4
#: ``--jobs`` at most: a typo such as 400 must not fork 400 copies of the process.
MAX_JOBS = 64
#: Records per batch: large enough that a batch's pipe round trip (about 0.1 ms) is lost in
#: its scan (about 0.2 s on the bench's SDK traffic), small enough to spread a few thousand
#: requests over the workers. A capture with fewer records is scanned in the main process:
#: workers start only once the first batch is full.
BATCH_RECORDS = 256
#: Body bytes per batch (copied once into the pipe, once into the worker): a batch of large
#: uploads is cut short so the memory out with the workers stays a few MB a batch.
BATCH_BYTES = 2 * 1024 * 1024
#: A body over this is scanned by the main process rather than copied to a worker (64 MB
#: flows are legal, and three copies of one are not worth a parallel scan).
MAX_SHIPPED_BODY = 1024 * 1024
#: Batches out with each worker: one being scanned, one waiting, so a worker never idles
#: while the main process takes another worker's result.
BATCHES_PER_WORKER = 2
#: Seconds a worker may take to return a batch before the replay gives up on it: far above
#: any batch measured (0.2 s typical; a batch of hostile records, each within the scan
#: limits, some seconds), so only a stuck worker meets it.
RESULT_DEADLINE = 600.0
#: Seconds a worker is given to end (after the last batch, or after SIGTERM) before SIGKILL.
STOP_DEADLINE = 5.0

_RECORD_FIELDS = attrgetter(*(f.name for f in fields(RequestRecord)))
_FINDING_FIELDS = attrgetter(*(f.name for f in fields(Finding)))
_RESULT_FIELDS = attrgetter(*(f.name for f in fields(ScanResult) if f.name != "findings"))
_STOP = b""  # the message that ends a worker


class ScanWorkerError(ConsentscopeError):
    """A scan worker died, failed or went silent: the session's remaining requests go unscanned."""


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under ``taskset``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_jobs() -> int:
    """Workers for a replay: one per usable core, capped; 1 (scan in the main process) when
    only one core is usable, or off Linux (macOS can fork, but a forked process may crash in
    system frameworks; ``--jobs N`` still asks for it)."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(usable_cores(), MAX_DEFAULT_JOBS)


def _encode_records(records: Sequence[RequestRecord]) -> bytes:
    # field tuples, not the dataclasses: a third less pickling work each way
    return pickle.dumps([_RECORD_FIELDS(r) for r in records], protocol=pickle.HIGHEST_PROTOCOL)


def scan_fields(r: ScanResult) -> tuple[Any, ...]:
    """A scan result as plain tuples (a third less pickling than the dataclasses)."""
    return (None if not r.findings else [_FINDING_FIELDS(f) for f in r.findings], *_RESULT_FIELDS(r))


def scan_from_fields(t: Sequence[Any]) -> ScanResult:
    found, *rest = t
    return ScanResult(tuple([Finding(*f) for f in found]) if found else (), *rest)


def _encode_results(results: Sequence[ScanResult]) -> bytes:
    return pickle.dumps([scan_fields(r) for r in results], protocol=pickle.HIGHEST_PROTOCOL)


def _decode_results(data: bytes | memoryview) -> list[ScanResult]:
    return [scan_from_fields(t) for t in pickle.loads(data)]


class ScanFailed(Exception):
    """Raised by a ``read_flows`` function with its own message (which request it failed on)."""


#: the first byte of a batch: records to scan, or framed flows to read and scan (``read_flows``)
_RECORDS, _FLOWS = b"S", b"F"


def _work(scanner: Scanner, read_flows: Callable[[list[Any]], Any] | None, tasks: Connection, results: Connection,
          inherited: Sequence[Connection]) -> None:
    """A worker: batches of records in, their scan results out (or framed flows in, what
    ``read_flows`` makes of them out), until told to stop or the main process is gone (its
    pipe ends close with it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked over the fork (ScanPool.start)
    for c in inherited:  # the other workers' pipe ends: held here, they would hide the main's exit
        c.close()
    while True:
        try:
            data = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        if data == _STOP:
            return
        try:
            if data[:1] == _FLOWS:
                assert read_flows is not None
                answer = read_flows(pickle.loads(memoryview(data)[1:]))
                reply = b"R" + pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                scanned = [scanner.scan(RequestRecord(*t)) for t in pickle.loads(memoryview(data)[1:])]
                reply = b"R" + _encode_results(scanned)
        except ScanFailed as e:
            reply = b"E" + str(e).encode(errors="replace")
        except Exception as e:  # a bug in a detector: reported as the worker's error, not a hang
            reply = b"E" + f"{type(e).__name__}: {e}".encode(errors="replace")
        try:
            results.send_bytes(reply)
        except (BrokenPipeError, OSError):
            return


def _ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed ({name})"
    return f"exited with status {exitcode}"


class ScanPool:
    """``jobs`` forked workers scanning batches of records for one session.

    ``submit`` hands a batch out (never blocks for long: a thread writes it), ``take`` returns
    the results of the oldest batch not yet taken; ``submit_flows``/``take_flows`` the same for
    framed flows, which each worker hands to ``read_flows`` (a function of the frames, given
    here and inherited over the fork, never pickled). Use as a context manager: a normal exit
    stops the workers, an exception (a ``ScanWorkerError``, Ctrl-C) terminates them.
    """

    def __init__(self, scanner: Scanner, jobs: int, *, in_flight: int | None = None,
                 deadline: float = RESULT_DEADLINE, read_flows: Callable[[list[Any]], Any] | None = None) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.scanner = scanner
        self.read_flows = read_flows
        self.jobs = jobs
        self.in_flight = in_flight or jobs * BATCHES_PER_WORKER
        self.deadline = deadline
        self._procs: list[Any] = []
        self._tasks: list[Connection] = []
        self._results: list[Connection] = []
        self._out: deque[tuple[int, str]] = deque()  # (worker, what the batch held) per batch out
        self._sent = 0
        self._queue: queue.SimpleQueue[tuple[Connection, bytes] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def __len__(self) -> int:
        """Batches out (submitted, results not yet taken)."""
        return len(self._out)

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent_ends: list[Connection] = []
        sys.stdout.flush()  # a forked worker flushes its copy of the buffers when it ends
        sys.stderr.flush()
        # Objects made so far are not collected in the workers, so their pages stay shared
        # with the main process (CPython's advice for fork without exec: gc.freeze()).
        gc.freeze()
        # A Ctrl-C during a fork would land in the fork hooks, where Python drops it ("Exception
        # ignored"), in the main process or in a worker not yet ignoring it: it waits until
        # the workers are made, then interrupts the main process as anywhere else.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for n in range(self.jobs):
                task_r, task_w = ctx.Pipe(duplex=False)
                result_r, result_w = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_work, name=f"consentscope-scan-{n}", daemon=True,
                                args=(self.scanner, self.read_flows, task_r, result_w,
                                      [*parent_ends, task_w, result_r]))
                p.start()
                task_r.close()
                result_w.close()
                parent_ends += [task_w, result_r]
                self._procs.append(p)
                self._tasks.append(task_w)
                self._results.append(result_r)
        finally:
            gc.unfreeze()
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._writer = threading.Thread(target=self._write, name="consentscope-scan-writer", daemon=True)
        self._writer.start()

    def _write(self) -> None:
        while (job := self._queue.get()) is not None:
            conn, data = job
            # the worker is gone (EPIPE: the main thread sees its sentinel), or, should the
            # pipe be closed under this thread at the end, its handle is (TypeError/ValueError)
            with contextlib.suppress(OSError, TypeError, ValueError):
                conn.send_bytes(data)

    def submit(self, records: Sequence[RequestRecord], what: str = "") -> None:
        """Send a batch out; ``what`` names it in errors (e.g. its flow ids)."""
        self._send(_RECORDS + _encode_records(records), what)

    def submit_flows(self, frames: Sequence[tuple[Any, ...]], what: str = "") -> None:
        """Send a batch of framed flows (``readers.flowfile.Frame``) out, for the workers'
        ``read_flows`` (given to the pool) to read and scan; ``take_flows`` returns its answer."""
        if self.read_flows is None:
            raise ValueError("this pool was made without read_flows")
        self._send(_FLOWS + pickle.dumps([tuple(f) for f in frames], protocol=pickle.HIGHEST_PROTOCOL), what)

    def _send(self, data: bytes, what: str) -> None:
        if not self._procs:
            self.start()
        worker = self._sent % self.jobs
        self._sent += 1
        self._out.append((worker, what))
        self._queue.put((self._tasks[worker], data))

    def take(self) -> list[ScanResult]:
        """The results of the oldest batch out (``submit``), in its records' order."""
        return _decode_results(self._take())

    def take_flows(self) -> Any:
        """What ``read_flows`` made of the oldest batch out (``submit_flows``)."""
        return pickle.loads(self._take())

    def _take(self) -> memoryview:
        worker, what = self._out.popleft()
        proc, conn = self._procs[worker], self._results[worker]
        ready = wait([conn, proc.sentinel], timeout=self.deadline)
        data = b""
        if conn in ready:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                data = b""
        if data[:1] == b"R":
            return memoryview(data)[1:]  # unpickled from there, not copied
        if data[:1] == b"E":
            raise ScanWorkerError(f"scan worker {proc.pid} failed scanning {what}: "
                                  f"{data[1:].decode(errors='replace')}")
        if not ready:
            raise ScanWorkerError(f"scan worker {proc.pid} gave no result for {what} "
                                  f"in {self.deadline:g} s")
        proc.join(STOP_DEADLINE)
        raise ScanWorkerError(f"scan worker {proc.pid} {_ended(proc.exitcode)} while scanning {what}")

    def close(self) -> None:
        """Stop the workers after their current batch (results not taken are dropped)."""
        if not self._procs:
            return
        for conn in self._tasks:
            self._queue.put((conn, _STOP))
        self._finish(terminate=False)

    def terminate(self) -> None:
        """End the workers now (SIGTERM, then SIGKILL after ``STOP_DEADLINE``)."""
        if not self._procs:
            return
        for p in self._procs:
            if p.is_alive():
                p.terminate()
        self._finish(terminate=True)

    def _finish(self, terminate: bool) -> None:
        self._queue.put(None)
        for p in self._procs:
            p.join(STOP_DEADLINE)
        for p in self._procs:
            if p.is_alive():  # stuck in a scan, or ignoring SIGTERM: no choice left
                p.kill()
                p.join(STOP_DEADLINE)
        # every worker has ended, so what the writer still sends fails at once (EPIPE) and it
        # reaches the None; the pipes are closed after it, never under a send
        if self._writer is not None:
            self._writer.join(STOP_DEADLINE)
        for c in (*self._tasks, *self._results):
            c.close()
        for p in self._procs:
            if p.exitcode is not None:
                p.close()
        self._procs, self._tasks, self._results = [], [], []
        self._out.clear()

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()


__all__ = ["BATCH_BYTES", "BATCH_RECORDS", "MAX_SHIPPED_BODY", "ScanFailed", "ScanPool", "ScanWorkerError",
           "default_jobs", "scan_fields", "scan_from_fields", "usable_cores"]
