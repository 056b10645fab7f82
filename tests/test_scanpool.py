"""Parallel scanning (consentscope/scanpool.py, ``replay --jobs``): the same output as one
process, whatever the worker count; a dead worker is an error that keeps what came before;
no worker outlives the replay (Ctrl-C included)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from consentscope.detectors import RequestRecord, Scanner, ScanProfile
from consentscope.model import ConsentMarkers, SessionResult
from consentscope.profile import load_profile
from consentscope.scanpool import BATCH_RECORDS, MAX_SHIPPED_BODY, ScanPool, ScanWorkerError, default_jobs
from consentscope.session import Outputs, audit_capture, judge, write_reports
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
DEMO = CAPTURES / "demo_session.mitm"
PROFILE = CAPTURES / "demo_profile.toml"
PUBLIC = ROOT.parent / "shared" / "captures-public"
CONSENT = "/v1/privacy/consent"

sys.path.insert(0, str(CAPTURES))

IMEI = "861234567890127"
OAID = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
ANDROID_ID = "9774d56d682e549c"
HOSTS = ("ulogs.umeng.com", "tsis.jpush.cn", "mi.gdt.qq.com", "sdk.sensorsdata.cn", "api.demoshop.com.cn",
         "log.example.net")


def generated_records(n: int) -> list[RequestRecord]:
    """``n`` requests in the disguises the detectors undo (query, JSON, base64, md5, gzip,
    form), about half of them carrying a profile value, a consent request a third in."""
    md5 = hashlib.md5(IMEI.encode()).hexdigest()
    out = []
    for i in range(n):
        host = HOSTS[i % len(HOSTS)]
        t = 1_772_445_600.0 + i * 0.05
        kind = i % 7
        headers: list[tuple[str, str]] = [("Host", host), ("User-Agent", "okhttp/4.9.3")]
        path, body, method = f"/v1/log?seq={i}", b"", "POST"
        if kind == 0:
            method, path = "GET", f"/v1/log?imei={IMEI}&oaid={OAID}&seq={i}"
        elif kind == 1:
            body = json.dumps({"seq": i, "device": {"aid": ANDROID_ID, "m": md5}}).encode()
            headers.append(("Content-Type", "application/json"))
        elif kind == 2:
            body = b"d=" + base64.b64encode(json.dumps({"oaid": OAID, "n": i}).encode())
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif kind == 3:
            body = gzip.compress(json.dumps({"events": [{"id": i, "imei": IMEI}] * 3}).encode(), mtime=0)
            headers += [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        elif kind == 4:
            body = json.dumps({"seq": i, "items": list(range(i % 50))}).encode()  # nothing to find
        elif kind == 5:
            body = hashlib.sha256(str(i).encode()).digest() * 8  # opaque bytes
            headers.append(("Content-Type", "application/octet-stream"))
        else:
            method, path = "GET", f"/img/{i}.png"
        if i == n // 3:
            host, method, path, body = "api.demoshop.com.cn", "POST", CONSENT, b'{"agree":1}'
        out.append(RequestRecord(flow_id=f"g{i:06d}", time=t, method=method, scheme="https", host=host, port=443,
                                 path=path, headers=tuple(headers), body=body, sni=host, server_ip="198.51.100.7"))
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _flowbuild import write_records

    path = tmp_path_factory.mktemp("gen") / "generated.mitm"
    write_records(generated_records(4000), path)
    return path


@pytest.fixture(scope="module")
def generated_har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same requests as a HAR: read in the main process, only scanned by the workers."""
    from tests.batchkit import write_har

    return write_har(generated_records(4000), tmp_path_factory.mktemp("gen") / "generated.har")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_profile(str(PROFILE)).scan_profile())


def _audit(path: Path, scanner: Scanner, jobs: int, batch: int | None = None, **kw: object) -> SessionResult:
    profile = load_profile(str(PROFILE))
    return audit_capture(str(path), "s", profile, scanner, markers=ConsentMarkers(consent=re.compile(CONSENT)),
                         keep_requests=True, jobs=jobs, batch_records=batch, **kw)  # type: ignore[arg-type]


def _json(result: SessionResult, tmp: Path, name: str) -> bytes:
    out = tmp / f"{name}.json"
    write_reports(judge([result], load_profile(str(PROFILE))), Outputs(json=str(out), csv=str(tmp / f"{name}.csv")))
    return out.read_bytes() + (tmp / f"{name}.csv").read_bytes()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started and still has (Linux /proc)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


# ----------------------------------------------------------------------------- same output


def test_demo_capture_same_json_with_two_workers(scanner: Scanner, tmp_path: Path) -> None:
    one = _json(_audit(DEMO, scanner, jobs=1), tmp_path, "one")
    # batches of 4: the demo's few dozen requests go through the workers in many batches
    two = _json(_audit(DEMO, scanner, jobs=2, batch=4), tmp_path, "two")
    assert one == two
    assert b'"data_type"' in one  # the demo has findings: the comparison compares something


PUBLIC_FILES = sorted(p for p in PUBLIC.glob("*/*") if p.suffix in (".mitm", ".har", ".zhar", ".pcap", ".pcapng", ".gz"))


@pytest.mark.skipif(not PUBLIC_FILES, reason="../shared/captures-public is not here (a fresh clone): "
                                              "no public capture to compare on")
def test_public_captures_same_json_with_two_workers(scanner: Scanner, tmp_path: Path) -> None:
    compared = 0
    for path in PUBLIC_FILES:
        one = _audit(path, scanner, jobs=1)
        two = _audit(path, scanner, jobs=2, batch=2)
        assert one.errors == two.errors, path.name
        assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two"), path.name
        compared += one.requests > 2
    assert compared >= 10  # most of them do go through the workers


def test_large_bodies_and_contacts_keep_their_place(scanner: Scanner, tmp_path: Path) -> None:
    """Bodies over MAX_SHIPPED_BODY are scanned by the main process in their turn, and batches
    close on bytes too: still the jobs=1 output."""
    from _flowbuild import write_records

    records = generated_records(300)
    big = json.dumps({"imei": IMEI, "pad": "x" * (MAX_SHIPPED_BODY + 10)}).encode()
    for i in (5, 6, 150, 299):
        records[i] = replace(records[i], body=big, headers=(("Content-Type", "application/json"),))
    path = tmp_path / "large.mitm"
    write_records(records, path)
    one = _audit(path, scanner, jobs=1)
    two = _audit(path, scanner, jobs=2, batch=16)
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")
    assert {"g000005", "g000150", "g000299"} <= {f.flow_id for f in two.findings}


def test_generated_file_same_outputs_through_the_cli(generated: Path, tmp_path: Path) -> None:
    """The whole replay, thousands of flows, jobs=1 against jobs=2: JSON, CSV and database."""
    outs = {}
    for jobs in ("1", "2"):
        d = tmp_path / jobs
        d.mkdir()
        r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(generated), "--profile", str(PROFILE),
                            "--consent-marker", CONSENT, "--db", f"sqlite:///{d / 'r.db'}", "--json",
                            str(d / "r.json"), "--csv", str(d / "r.csv"), "--jobs", jobs, "-q"],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        with sqlite3.connect(d / "r.db") as db:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            rows = {}
            for t in tables:  # all but when the session was stored and judged (the clock's time)
                cols = [c for (_, c, *_) in db.execute(f"PRAGMA table_info({t})") if c not in ("created", "judged")]
                quoted = ", ".join(f'"{c}"' for c in cols)
                rows[t] = db.execute(f"SELECT {quoted} FROM {t}").fetchall()
        outs[jobs] = ((d / "r.json").read_bytes(), (d / "r.csv").read_bytes(), rows)
    assert outs["1"] == outs["2"]
    doc = json.loads(outs["1"][0])
    assert doc["sessions"][0]["requests"] == 4000
    assert len(doc["findings"]) > 2000
    assert {f["phase"] for f in doc["findings"]} == {"before-consent", "after-consent"}


def test_har_same_output_with_two_workers(generated_har: Path, scanner: Scanner, tmp_path: Path) -> None:
    """A HAR is read here and its records scanned by the workers: still the jobs=1 output."""
    one = _audit(generated_har, scanner, jobs=1)
    two = _audit(generated_har, scanner, jobs=2, batch=64)
    assert one.requests == two.requests == 4000 and not one.errors and not two.errors
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")


# ----------------------------------------------------------------------------- the workers read the flows


def _frames(path: Path) -> list:
    from consentscope.readers.flowfile import iter_frames

    with path.open("rb") as fo:
        return list(iter_frames(str(path), fo))


def _odd_shapes_file(path: Path) -> Path:
    """Generated flows with every shape the flow reader knows between them: WebSocket,
    CONNECT, HTTPDNS (one answer undecodable: an anomaly), HTTP/2, no body, trailers, a
    flow mitmproxy must read (a TCP flow: the fast path declines it)."""
    from _flowbuild import make_flow
    from mitmproxy.io import FlowWriter

    from tests.readers.test_flowfast import fresh_flows

    odd = fresh_flows()  # a Host header of invalid UTF-8 among them (written as its escapes)
    flows = [make_flow(r) for r in generated_records(300)]
    for i, f in enumerate(odd):
        flows.insert(7 + i * 17, f)
    with path.open("wb") as fh:
        w = FlowWriter(fh)
        for f in flows:
            w.add(f)
    return path


def test_flows_of_every_shape_read_by_the_workers_same_output(scanner: Scanner, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The main process only frames the file (it reads the first flow, to see the fast
    path takes the file, and what the fast path declines, through mitmproxy, in its turn);
    the outputs, the anomalies and the errors are those of jobs=1."""
    from consentscope.readers import flowfile

    path = _odd_shapes_file(tmp_path / "odd.mitm")
    one = _audit(path, scanner, jobs=1)
    calls: list[int] = []
    real = flowfile.fast_records

    def counted(*a: object, **kw: object) -> object:
        calls.append(1)  # in this process: a worker counts in its own copy
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(flowfile, "fast_records", counted)
    two = _audit(path, scanner, jobs=2, batch=7)
    assert len(calls) == 1  # starts_fast: every other flow was read by a worker
    assert one.errors == two.errors == []
    assert one.anomalies == two.anomalies and one.anomalies["httpdns-response-undecodable"] == 1
    assert list(one.anomalies) == list(two.anomalies)
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")
    assert any(r.host.startswith("caf\\udce9.example.net") for r in two.request_log)  # its byte 0xe9, escaped
    kinds = {c.contact.via for c in two.contacts}
    assert {"http-connect", "httpdns"} <= kinds
    assert one.requests == two.requests > 300


def test_a_file_mitmproxy_must_migrate_is_read_here(scanner: Scanner, tmp_path: Path) -> None:
    """An older format version (mitmproxy's migrations keep state across the flows of a
    process): read in the main process, as with jobs=1; only scanned by the workers."""
    from consentscope.readers.flowfile import starts_fast

    old = sorted(p for p in PUBLIC.glob("mitmproxy/*.mitm") if not starts_fast(str(p)))
    if not old:
        pytest.skip("../shared/captures-public is not here: no flow file of an older version")
    assert starts_fast(str(DEMO))
    for path in old:
        one, two = _audit(path, scanner, jobs=1), _audit(path, scanner, jobs=2, batch=1)
        assert one.errors == two.errors, path.name
        assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two"), path.name


def _cut(generated: Path, tmp_path: Path, flow: int, into: int = 100) -> tuple[Path, int]:
    """The generated file cut ``into`` bytes into flow #``flow`` + 1: (file, that flow's offset)."""
    at = _frames(generated)[flow].offset
    path = tmp_path / "cut.mitm"
    path.write_bytes(generated.read_bytes()[:at + into])
    return path, at


def test_truncated_flow_file_read_by_the_workers(generated: Path, scanner: Scanner, tmp_path: Path) -> None:
    path, at = _cut(generated, tmp_path, 3000)
    one = _audit(path, scanner, jobs=1)
    two = _audit(path, scanner, jobs=2, batch=64)
    assert one.errors == two.errors == [f"{path} at byte {at}: flow #3001 is cut short (the file ends inside it); "
                                        "3000 complete flows before it were read"]
    assert two.requests == 3000
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("bad", [b"5:hello,", b"9:2:ab,1:c,}"])
def test_unreadable_flow_read_by_the_workers(bad: bytes, generated: Path, scanner: Scanner, tmp_path: Path) -> None:
    """A flow neither reader reads (the fast path declines it, mitmproxy refuses it) ends the
    session there, whatever comes after it (here a cut, which framing meets first)."""
    frames = _frames(generated)
    at = frames[2500].offset
    data = generated.read_bytes()
    path = tmp_path / "bad.mitm"
    path.write_bytes(data[:at] + bad + data[at:frames[3500].offset + 50])
    one = _audit(path, scanner, jobs=1)
    two = _audit(path, scanner, jobs=2, batch=64)
    [error] = two.errors
    assert one.errors == two.errors
    assert error.startswith(f"{path} at byte {at}: flow #2501 ")
    assert error.endswith("; 2500 complete flows before it were read")
    assert two.requests == 2500
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")
    assert multiprocessing.active_children() == []


def test_compressed_flow_file_with_a_flow_over_the_limit_read_by_the_workers(generated: Path, scanner: Scanner,
                                                                            tmp_path: Path) -> None:
    """gzip: the main process decompresses as it frames; a flow over MAX_FLOW_BYTES is read
    past there and counted (in its worker, in its turn) as with jobs=1."""
    from consentscope.readers.flowfile import FLOW_TOO_LARGE, MAX_FLOW_BYTES
    from tests.readers.test_bombs import Big, flow_state, tnetstring_chunks, write_compressed

    data, at = generated.read_bytes(), _frames(generated)[1000].offset
    path = tmp_path / "bomb.mitm.gz"
    write_compressed("gzip", path, [data[:at], *tnetstring_chunks(flow_state("bomb.example.net",
                                                                             Big(MAX_FLOW_BYTES + 1))), data[at:]])
    one = _audit(path, scanner, jobs=1)
    two = _audit(path, scanner, jobs=2, batch=64)
    assert one.errors == two.errors == []
    assert one.requests == two.requests == 4000
    assert one.anomalies == two.anomalies and two.anomalies[FLOW_TOO_LARGE] == 1
    assert _json(one, tmp_path, "one") == _json(two, tmp_path, "two")


def test_cli_truncated_flow_file_with_workers_exits_2_keeping_the_findings(generated: Path, tmp_path: Path) -> None:
    path, at = _cut(generated, tmp_path, 3000)
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(path), "--profile", str(PROFILE),
                        "--consent-marker", CONSENT, "--db", "", "--json", str(out), "--jobs", "2", "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2
    assert r.stderr == (f"consentscope: error: {path} at byte {at}: flow #3001 is cut short (the file ends inside "
                        "it); 3000 complete flows before it were read\n")
    doc = json.loads(out.read_text())
    assert doc["sessions"][0]["requests"] == 3000 and len(doc["findings"]) > 1000


# ----------------------------------------------------------------------------- when workers start


def test_small_capture_starts_no_worker(scanner: Scanner) -> None:
    seen: list[int] = []
    _audit(DEMO, scanner, jobs=2, progress=lambda audit, found: seen.append(len(multiprocessing.active_children())))
    assert seen and max(seen) == 0  # fewer records than a batch: scanned in this process


def test_workers_start_after_the_first_full_batch(generated: Path, scanner: Scanner) -> None:
    seen: list[tuple[int, int]] = []
    result = _audit(generated, scanner, jobs=2,
                    progress=lambda audit, found: seen.append((audit.requests, len(multiprocessing.active_children()))))
    assert not result.errors
    assert max(n for _, n in seen) == 2
    assert multiprocessing.active_children() == []  # all joined at the end
    # nothing was fed before a first batch was full and out
    assert seen[0][0] == 1 and seen[0][1] == 2 and BATCH_RECORDS < 4000


def test_pool_results_come_back_in_order(scanner: Scanner) -> None:
    records = generated_records(60)
    with ScanPool(scanner, 3, in_flight=6) as pool:
        for i in range(0, 60, 10):
            pool.submit(records[i:i + 10], f"batch {i}")
        assert len(pool) == 6
        got = [r for _ in range(6) for r in pool.take()]
    assert got == [scanner.scan(r) for r in records]
    assert multiprocessing.active_children() == []


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("capture", "batch_named"), [("generated", "flows #"), ("generated_har", "requests g")])
def test_killed_worker_ends_the_session_with_the_findings_before_it(capture: str, batch_named: str, scanner: Scanner,
                                                                   request: pytest.FixtureRequest) -> None:
    """A flow file's flows are read by the workers (batches named by flow number), a HAR's
    records only scanned there (named by request)."""
    generated = request.getfixturevalue(capture)
    whole = _audit(generated, scanner, jobs=1)
    killed: list[int] = []

    def kill_once(audit: object, found: int) -> None:
        if not killed and found > 0:  # some findings fed already, many batches still to come
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
            killed.append(victim.pid)  # type: ignore[arg-type]

    part = _audit(generated, scanner, jobs=2, batch=64, progress=kill_once)
    assert killed
    [error] = part.errors
    assert f"scan worker {killed[0]} was killed (SIGKILL) while scanning {batch_named}" in error
    assert error.startswith(str(generated))
    assert 0 < part.requests < whole.requests
    fed = {f"g{i:06d}" for i in range(part.requests)}
    assert part.findings  # what came before the crash is kept, exactly
    # the phases differ (the partial session never reaches the consent request); all else is equal
    assert [replace(f, phase="") for f in part.findings] == \
        [replace(f, phase="") for f in whole.findings if f.flow_id in fed]
    wait_for(lambda: multiprocessing.active_children() == [], "the other worker to be gone", timeout=30)


class _FailingScanner:
    """A detector bug on one request (the real scanner has none we know of to trigger). It
    holds a scanner: a compiled ``Scanner`` cannot be subclassed by an interpreted class."""

    def __init__(self, profile: ScanProfile) -> None:
        self.scanner = Scanner(profile)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.scanner, name)

    def scan(self, record: RequestRecord):  # type: ignore[no-untyped-def]
        if record.flow_id == "g000300":
            raise RuntimeError("detector bug")
        return self.scanner.scan(record)


@pytest.mark.parametrize(("capture", "message"), [
    ("generated", "failed scanning flows #301 to #400: RuntimeError: detector bug (request g000300)"),
    ("generated_har", "failed scanning requests g000300 to g000399: RuntimeError: detector bug"),
])
def test_worker_exception_is_an_error_naming_it(capture: str, message: str, request: pytest.FixtureRequest) -> None:
    broken = _FailingScanner(load_profile(str(PROFILE)).scan_profile())
    result = _audit(request.getfixturevalue(capture), broken, jobs=2, batch=100)
    [error] = result.errors
    assert message in error
    assert result.requests == 300  # the batches before the bad one, fed
    assert multiprocessing.active_children() == []


def _start_replay(capture: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """A replay with two workers, in a process group of its own (as a shell runs a command)."""
    return subprocess.Popen(
        [sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(PROFILE), "--consent-marker",
         CONSENT, "--db", "", "--json", str(out), "--jobs", "2", "-q", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture(scope="module")
def long_capture(tmp_path_factory: pytest.TempPathFactory, generated: Path) -> Iterator[Path]:
    """A capture that keeps two workers busy for a while: the generated file, several times."""
    path = tmp_path_factory.mktemp("long") / "long.mitm"
    data = generated.read_bytes()
    path.write_bytes(data * 6)
    yield path


@pytest.mark.slow
def test_cli_killed_worker_exits_2_with_the_error_and_a_report(long_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    p = _start_replay(long_capture, out)
    workers = wait_for(lambda: len(kids := _children(p.pid)) == 2 and kids, "two scan workers")
    os.kill(workers[1], signal.SIGKILL)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2, err
    assert f"consentscope: error: {long_capture}: scan worker {workers[1]} was killed (SIGKILL)" in err
    doc = json.loads(out.read_text())  # the report of what was audited is written
    assert doc["sessions"][0]["requests"] < 6 * 4000
    wait_for(lambda: all(_gone(w) for w in workers), "the workers to be gone", timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("to", ["replay", "terminal"])
def test_ctrl_c_leaves_no_worker(to: str, long_capture: Path, tmp_path: Path) -> None:
    """SIGINT to the replay alone, or to its whole process group as a terminal's Ctrl-C sends it."""
    p = _start_replay(long_capture, tmp_path / "r.json")
    workers = wait_for(lambda: len(kids := _children(p.pid)) == 2 and kids, "two scan workers")
    if to == "replay":
        os.kill(p.pid, signal.SIGINT)
    else:
        os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "consentscope: interrupted" in err
    assert "Traceback" not in err
    wait_for(lambda: all(_gone(w) for w in workers), "the workers to be gone", timeout=30)


# ----------------------------------------------------------------------------- how many


def test_one_usable_core_means_no_workers() -> None:
    code = "from consentscope.scanpool import default_jobs; print(default_jobs())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    assert r.stdout.strip() == "1"
    assert 1 <= default_jobs() <= 4


@pytest.mark.parametrize("bad", ["0", "65", "two"])
def test_cli_rejects_bad_job_counts(bad: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(DEMO), "--profile", str(PROFILE),
                        "--jobs", bad, "--db", ""], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--jobs" in r.stderr


def test_pool_that_cannot_get_a_result_in_time_says_so(scanner: Scanner) -> None:
    pool = ScanPool(scanner, 1, deadline=0.0)
    with pytest.raises(ScanWorkerError, match="gave no result for big batch in 0 s"), pool:
        pool.submit(generated_records(2000), "big batch")
        pool.take()
    assert multiprocessing.active_children() == []


def test_last_batches_of_a_flow_file_get_smaller(generated: Path, scanner: Scanner,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Guided batches: once workers run, a batch of an uncompressed flow file closes at a
    share of the bytes left, so the workers end together; the findings are jobs=1's."""
    from consentscope import session

    sizes: list[int] = []
    real = ScanPool.submit_flows

    def submit_flows(self: ScanPool, frames: list, what: str = "") -> None:  # type: ignore[type-arg]
        sizes.append(len(frames))
        real(self, frames, what)

    monkeypatch.setattr(ScanPool, "submit_flows", submit_flows)
    result = _audit(generated, scanner, jobs=2, batch=400)
    assert sizes[0] == 400 and len(sizes) > 4000 // 400 + 2
    assert sizes[-2] < sizes[len(sizes) // 2] <= 400 and min(sizes[:-1]) >= session.GUIDED_MIN_RECORDS
    assert sum(sizes) == 4000
    assert [(f.flow_id, f.finding) for f in result.findings] == \
        [(f.flow_id, f.finding) for f in _audit(generated, scanner, jobs=1).findings]


def test_a_deferred_scanner_is_compiled_by_the_workers_not_here(generated: Path, scanner: Scanner) -> None:
    """``replay`` gives the audit a ``DeferredScanner``: with workers reading the flow file,
    each compiles its own and this process none; the findings are a compiled scanner's."""
    from consentscope.detectors import DeferredScanner

    profile = load_profile(str(PROFILE))
    deferred = DeferredScanner(profile.scan_profile())
    result = _audit(generated, deferred, jobs=2)
    assert deferred.scanner is None  # never compiled in this process
    assert [(f.flow_id, f.finding) for f in result.findings] == \
        [(f.flow_id, f.finding) for f in _audit(generated, scanner, jobs=1).findings]
    alone = DeferredScanner(profile.scan_profile())
    assert alone.automaton_size == scanner.automaton_size and alone.scanner is not None  # first use compiles
    record = generated_records(1)[0]
    assert alone.scan(record) == scanner.scan(record)
