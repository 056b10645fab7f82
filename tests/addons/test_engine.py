"""The detector side of the live addon (addons/engine.py): the typed protocol, the Engine in
the order requests arrive, and a real detector process behind a Runner."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest

from consentscope.addons.engine import (
    Done,
    Engine,
    EngineConfig,
    Failure,
    Items,
    Log,
    Mark,
    NewSession,
    Result,
    Runner,
    Stop,
    Stopped,
    Unscanned,
)
from consentscope.detectors import RequestRecord
from consentscope.profile import load_profile
from tests.waiting import wait_for

IMEI = "861234567890127"
T0 = 1_772_445_600.0


@pytest.fixture
def config(tmp_path: Path) -> EngineConfig:
    p = tmp_path / "p.toml"
    p.write_text(f'[app]\npackage = "com.example.app"\n[device]\nimei = "{IMEI}"\n')
    return EngineConfig(profile=load_profile(str(p)), session="s1")


def req(n: int, path: str, t: float = 0.0) -> RequestRecord:
    return RequestRecord(f"f{n}", T0 + t, "GET", "https", "ulogs.umeng.com", 443, path)


def test_messages_pickle_across_the_process_boundary(config: EngineConfig) -> None:
    for msg in (Items("f", (req(1, "/a"),)), Mark(T0, "consent", "d", "device"), NewSession("s2"), Stop(),
                Result("f", ("LEAK",), "imei"), Done(("a", "b")), Log(20, "x"), Failure("x"), Stopped(1, 2, 3),
                config):
        assert pickle.loads(pickle.dumps(msg)) == msg


def test_engine_answers_in_order(config: EngineConfig) -> None:
    out: list = []
    engine = Engine(config, out.append)
    engine.handle(Items("f1", (req(1, f"/a?imei={IMEI}"),)))
    engine.handle(Items("f2", (req(2, "/nothing"),)))
    engine.handle(Mark(T0 + 5, "consent", "tap", "device"))
    engine.handle(Items("f3", (req(3, f"/b?imei={IMEI}", 6),)))
    engine.flush()
    results = [m for m in out if isinstance(m, Result)]
    assert [r.flow_id for r in results] == ["f1", "f3"]
    assert results[0].comment == "imei (before-consent)" and results[1].comment == "imei (after-consent)"
    assert any(isinstance(m, Done) and m.flow_ids == ("f2",) for m in out)
    assert any(isinstance(m, Log) and "consent recorded" in m.text for m in out)
    assert engine.stop() == Stopped(3, 2, 0)


def test_a_new_session_starts_a_new_timeline(config: EngineConfig) -> None:
    out: list = []
    engine = Engine(config, out.append)
    engine.handle(Mark(T0, "consent", "", "device"))
    engine.handle(NewSession("s2"))
    engine.handle(Items("f1", (req(1, f"/a?imei={IMEI}", 10),)))
    [result] = [m for m in out if isinstance(m, Result)]
    assert result.comment == "imei (before-consent)"  # the consent belonged to s1


def test_a_detector_process_stores_and_judges_the_session(tmp_path: Path, config: EngineConfig) -> None:
    db = tmp_path / "live.db"
    cfg = EngineConfig(profile=config.profile, session="s1", db_url=f"sqlite:///{db}")
    seen: list = []
    runner = Runner(cfg, seen.append, mode="process")
    runner.send(Items("f1", (req(1, f"/a?imei={IMEI}"),)))
    runner.send(Mark(T0 + 5, "consent", "tap", "device"))  # the request was before it: MIIT-1.2
    wait_for(lambda: any(isinstance(m, Result) for m in seen), "the detector's answer")
    stats = runner.close()
    assert stats == Stopped(1, 1, 0)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT data_type, phase FROM cs_findings").fetchall() == [("imei", "before-consent")]
        assert conn.execute("SELECT judged IS NOT NULL FROM cs_sessions").fetchone() == (1,)
        assert "MIIT-1.2" in {r for (r,) in conn.execute("SELECT rule FROM cs_violations")}
    assert not any(isinstance(m, Failure) for m in seen)


def test_the_detector_process_yields_the_cpu_to_the_proxy(config: EngineConfig) -> None:
    """The detector process runs at nice ``DETECTOR_NICE`` and, on Linux 6.12 and later, asks
    for long turns (``DETECTOR_SLICE_NS``), so a task that wakes with work takes the CPU from it
    at once (the proxy's p99 rose by 2.6-3.7 ms without)."""
    import os

    from consentscope.addons.engine import DETECTOR_NICE, DETECTOR_SLICE_NS

    sched = Path("/proc/self/sched")
    if not sched.exists():
        pytest.skip("no /proc/<pid>/sched here (not Linux, or a kernel without scheduler statistics)")
    release = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
    custom_slices = release >= (6, 12)

    def state(pid: int) -> tuple[int, int | None]:
        stat = Path(f"/proc/{pid}/stat").read_text()
        nice = int(stat[stat.rindex(")") + 2:].split()[16])
        lines = [line for line in Path(f"/proc/{pid}/sched").read_text().splitlines() if line.startswith("se.slice")]
        return nice, int(lines[0].split(":")[1]) if lines else None

    runner = Runner(config, lambda m: None, mode="process")
    try:
        def settled() -> bool:
            nice, slice_ns = state(runner.proc.pid)
            return nice == DETECTOR_NICE and (slice_ns == DETECTOR_SLICE_NS or not custom_slices or slice_ns is None)

        wait_for(settled, f"the detector at nice {DETECTOR_NICE} with a {DETECTOR_SLICE_NS} ns slice")
        assert state(os.getpid())[0] != DETECTOR_NICE  # the detector's, not the proxy's
    finally:
        runner.close()


def test_the_inbox_never_waits_and_its_backlog_is_bounded() -> None:
    """Nobody reads the pipe (a detector far behind): puts on the event loop return at once,
    the backlog stops at its bound, requests beyond it are counted as not scanned, a mark is
    never dropped; once read, everything kept arrives whole and in order."""
    import asyncio
    import multiprocessing
    import threading
    import time

    from consentscope.addons.engine import Inbox

    reader, writer = multiprocessing.Pipe(duplex=False)
    inbox = Inbox(writer, max_backlog=4 << 20)
    loop = asyncio.new_event_loop()
    inbox.attach(loop)
    size = 100_000
    sent: list = []

    async def hook_calls() -> float:
        slowest = 0.0
        for n in range(200):  # 20 MB, far more than pipe and bound
            body = bytes([n % 256]) * size  # each its own (pickle would share one object)
            msg = Mark(T0 + n, "note", str(n), "command") if n % 50 == 0 else (f"f{n}", body)
            t = time.perf_counter()
            inbox.put(msg, size)  # type: ignore[arg-type]
            slowest = max(slowest, time.perf_counter() - t)
            sent.append(msg)
            await asyncio.sleep(0)
        deadline = time.monotonic() + 60
        while inbox._batch and time.monotonic() < deadline:  # until the batch timer has fired
            await asyncio.sleep(0.01)
        return slowest

    slowest = loop.run_until_complete(hook_calls())
    assert slowest < 0.5  # never blocked on the full pipe
    assert 0 < inbox.backlog < (4 << 20) + 2 * (1 << 20) + 200_000
    assert inbox.dropped > 0
    got: list = []
    expected = len(sent) - inbox.dropped
    dropped = inbox.dropped

    def detector() -> None:  # the other end, as the detector process reads it
        def done() -> bool:
            told = sum(m.count for m in got if isinstance(m, Unscanned))
            return sum(not isinstance(m, Unscanned) for m in got) >= expected and told >= dropped

        while not done() and reader.poll(30):
            got.extend(pickle.loads(reader.recv_bytes()))

    t = threading.Thread(target=detector)
    t.start()

    async def until_read() -> None:
        while t.is_alive():
            await asyncio.sleep(0.01)  # the loop writes the rest as the pipe empties

    loop.run_until_complete(asyncio.wait_for(until_read(), 60))
    # the detector is told how many went unscanned, so the session's coverage can say so
    assert sum(m.count for m in got if isinstance(m, Unscanned)) == inbox.dropped
    got = [m for m in got if not isinstance(m, Unscanned)]
    marks = [m for m in sent if isinstance(m, Mark)]
    assert [m for m in got if isinstance(m, Mark)] == marks
    assert got == [m for m in sent if m in got]  # in order, nothing altered
    inbox.close()
    loop.close()
    reader.close()


def test_a_detector_thread_reads_the_same_pipe(config: EngineConfig) -> None:
    """``consentscope_detector=thread``: the same batches through a pipe, read in-process."""
    from consentscope.addons.wire import pack_request
    from tests.addons.test_wire import make

    seen: list = []
    runner = Runner(config, seen.append, mode="thread")
    flow = make(path=f"/a?imei={IMEI}".encode(), headers=((b"Host", b"ulogs.umeng.com"),))
    runner.send(pack_request(flow, b"", False))
    runner.send(Items("f2", (req(2, "/nothing"),)))
    wait_for(lambda: any(isinstance(m, Result) for m in seen), "the detector's answer")
    assert runner.close() == Stopped(2, 1, 0)
    [result] = [m for m in seen if isinstance(m, Result)]
    assert result.flow_id == flow.id and result.comment == "imei (before-consent)"


def test_requests_passed_on_unscanned_make_the_verdicts_cannot_tell(config: EngineConfig) -> None:
    """What the proxy could not hand to the detector is no evidence of absence."""
    from consentscope.model import LIVE_UNSCANNED
    from consentscope.rules import verdicts

    out: list = []
    engine = Engine(config, out.append)
    engine.handle(Mark(T0, "consent", "", "device"))
    engine.handle(Items("f1", (req(1, "/nothing", 10),)))
    clean = {v.category.id: v.status for v in verdicts([engine.audit.finish()])}
    assert "not-seen" in clean.values()
    engine = Engine(config, out.append)
    engine.handle(Mark(T0, "consent", "", "device"))
    engine.handle(Items("f1", (req(1, "/nothing", 10),)))
    engine.handle(Unscanned(25))
    result = engine.audit.finish()
    assert result.coverage.skipped == {LIVE_UNSCANNED: 25} and result.anomalies[LIVE_UNSCANNED] == 25
    status = {v.category.id: v for v in verdicts([result])}
    for cat, s in clean.items():
        if s == "not-seen" and cat != "MIIT-6":
            assert status[cat].status == "cannot-tell" and f"{LIVE_UNSCANNED}: 25" in status[cat].note_en


def test_answers_are_read_on_the_event_loop_without_a_thread(config: EngineConfig) -> None:
    """With an event loop at the start (as mitmproxy configures addons), the detector's answers
    are handed over on that loop's thread and the proxy's process starts no reader thread (a
    second thread would take the interpreter lock from the event loop). Answers come in frames
    (one per batch of requests); many requests, many frames, none lost, in order."""
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    seen: list = []
    threads: set[int] = set()

    def on_message(msg: object) -> None:
        threads.add(threading.get_ident())
        seen.append(msg)

    async def run() -> Stopped:
        runner = Runner(config, on_message, mode="process", loop=loop)
        assert runner.answers_on_loop
        assert not any(t.name == "consentscope-results" for t in threading.enumerate())
        for n in range(300):
            path = f"/a?imei={IMEI}&n={n}" if n % 3 == 0 else f"/b?n={n}"
            runner.send(Items(f"f{n}", (req(n, path),)), 10)
            if n % 50 == 0:
                await asyncio.sleep(0.02)  # several batches, so several frames of answers
        while sum(isinstance(m, Result) for m in seen) < 100:
            await asyncio.sleep(0.01)
        return runner.close()

    stats = loop.run_until_complete(asyncio.wait_for(run(), 120))
    loop.close()
    assert stats == Stopped(300, 100, 0)
    assert threads == {threading.get_ident()}  # the loop ran here
    results = [m.flow_id for m in seen if isinstance(m, Result)]
    assert results == [f"f{n}" for n in range(0, 300, 3)]
    done = [f for m in seen if isinstance(m, Done) for f in m.flow_ids]
    assert sorted(done) == sorted(f"f{n}" for n in range(300) if n % 3)
    assert not any(isinstance(m, Failure) for m in seen)


def test_a_detector_that_dies_is_reported_on_the_event_loop(config: EngineConfig) -> None:
    """The end of the answer pipe without the detector's ``Stopped`` is a failure the proxy
    is told of (the pipe ends when the process does), and closing afterwards does not wait."""
    import asyncio
    import time

    loop = asyncio.new_event_loop()
    seen: list = []

    async def run() -> Stopped:
        runner = Runner(config, seen.append, mode="process", loop=loop)
        runner.send(Items("f1", (req(1, f"/a?imei={IMEI}"),)))
        while not any(isinstance(m, Result) for m in seen):
            await asyncio.sleep(0.01)
        runner.proc.kill()
        while not any(isinstance(m, Failure) for m in seen):
            await asyncio.sleep(0.01)
        t = time.monotonic()
        stats = runner.close(timeout=30)
        assert time.monotonic() - t < 10
        return stats

    stats = loop.run_until_complete(asyncio.wait_for(run(), 120))
    loop.close()
    [failure] = [m for m in seen if isinstance(m, Failure)]
    assert "stopped unexpectedly" in failure.text
    assert stats == Stopped(0, 0, 0)  # it never said how far it got


def test_answers_in_frames_split_anywhere_and_a_bad_frame_ends_them_quietly() -> None:
    """The event loop reads whatever the pipe holds: frames cut at any byte are put back
    together; a frame that does not unpickle ends the answers with a Failure, and nothing is
    raised into the event loop (mitmproxy's)."""
    import asyncio
    import multiprocessing
    import os

    from consentscope.addons.engine import Answers, _frame

    reader, writer = multiprocessing.Pipe(duplex=False)
    loop = asyncio.new_event_loop()
    raised: list = []
    loop.set_exception_handler(lambda _loop, context: raised.append(context))
    seen: list = []
    answers = Answers(reader, seen.append)
    answers.start(loop)
    frames = b"".join(b"".join(_frame(pickle.dumps([Result(f"f{n}", ("LEAK",), "imei"), Done((f"d{n}",))])))
                      for n in range(50))
    frames += b"".join(_frame(b"not a pickle"))

    async def feed() -> None:
        for at in range(0, len(frames), 37):  # cut across headers and payloads alike
            os.write(writer.fileno(), frames[at:at + 37])
            await asyncio.sleep(0.001)
        while not answers.ended:
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(feed(), 60))
    assert [m.flow_id for m in seen if isinstance(m, Result)] == [f"f{n}" for n in range(50)]
    assert [m.flow_ids for m in seen if isinstance(m, Done)] == [(f"d{n}",) for n in range(50)]
    assert isinstance(seen[-1], Failure) and "stopped unexpectedly" in seen[-1].text
    assert raised == []
    answers.close()
    writer.close()
    loop.close()
