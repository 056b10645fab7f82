"""``consentscope audit``: a batch is what ``replay`` gives per file, resumable without
doing a task twice, the same in one process, a process pool and a real Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consentscope.batch import JOURNAL_NAME, SUMMARY_FORMAT_VERSION, Journal
from tests.batch_fixture import audit, cli, load, make_batch

pytestmark = pytest.mark.slow


def _without_session(findings: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if k != "session"} for f in findings]


def test_batch_gives_what_replay_gives_for_each_file_alone(tmp_path: Path) -> None:
    b = make_batch(tmp_path)
    out = tmp_path / "out"
    r = audit(b, out, "--workers", "2")
    assert r.returncode == 2, r.stderr  # the corrupt capture and the missing profile failed
    assert "Traceback" not in r.stderr
    summary = load(out / "summary.json")
    assert summary["version"] == SUMMARY_FORMAT_VERSION
    by_capture = {s["capture"]: s for s in summary["sessions"]}
    assert set(by_capture) == {*b.replay, b.corrupt, b.missing_profile}
    for capture, args in b.replay.items():
        s = by_capture[capture]
        assert s["status"] == "ok" and s["error"] == "", s
        alone = tmp_path / "alone.json"
        rr = cli("replay", capture, *args, "--db", "", "--json", str(alone), "-q")
        assert rr.returncode == 0, rr.stderr
        want = load(alone)
        got = load(out / "sessions" / f"{s['id']}.json")
        assert _without_session(got["findings"]) == _without_session(want["findings"]), capture
        assert [v["rule"] for v in got["violations"]] == [v["rule"] for v in want["violations"]]
        assert [v["rule"] for v in got["suppressed"]] == [v["rule"] for v in want["suppressed"]]
        assert s["findings"] == len(want["findings"]) and s["requests"] == want["sessions"][0]["requests"]
        assert s["violations"] == sorted({v["rule"] for v in want["violations"]})
        assert (out / "sessions" / f"{s['id']}.html").exists()
    assert sum(s["findings"] for s in summary["sessions"]) > 0
    assert any(s["violations"] for s in summary["sessions"])
    # the sidecar gave its own profile (another app), label and project file
    side = by_capture[str(b.root / "in" / "sidecar.mitm")]
    assert (side["app_package"], side["label"]) == ("com.example.other", "with sidecar")
    # the corrupt capture and the missing profile are errors with their message; the rest went on
    corrupt = by_capture[b.corrupt]
    assert corrupt["status"] == "error" and "not a mitmproxy flow file" in corrupt["error"]
    missing = by_capture[b.missing_profile]
    assert missing["status"] == "error" and "no-such-profile.toml" in missing["error"]
    assert {e["capture"] for e in summary["errors"]} == {b.corrupt, b.missing_profile}
    # SDKs across apps
    assert summary["sdks"] and all(set(x) == {"sdk", "vendor", "apps", "apps_before_consent",
                                              "data_types_before_consent"} for x in summary["sdks"])
    # csv and html: one row per session, links to each report
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(summary["sessions"])
    html = (out / "summary.html").read_text()
    assert all(f'href="sessions/{s["id"]}.html"' in html for s in summary["sessions"] if s["capture"] in b.replay)
    # evidence: every input capture and every output file, hashes that check
    check = subprocess.run(["sha256sum", "-c", "--quiet", "manifest.sha256"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split("  ", 1)[1] for line in (out / "manifest.sha256").read_text().splitlines()}
    assert {os.path.abspath(c) for c in b.replay} <= listed
    assert {"summary.json", "summary.csv", "summary.html"} <= listed
    # everything written is owner-only
    for p in out.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o077 == 0, (p, oct(mode))
    # a rerun does nothing again and gives the same bytes
    before = (out / "summary.json").read_bytes()
    r2 = audit(b, out, "--workers", "2")
    assert r2.returncode == 2
    assert (out / "summary.json").read_bytes() == before
    keys = Journal(str(out)).keys_in_order()
    assert len(keys) == len(set(keys)) == len(summary["sessions"])


def test_bad_input_is_one_line_naming_file_and_row(tmp_path: Path) -> None:
    r = cli("audit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "nowhere: no such folder" in r.stderr and "Traceback" not in r.stderr
    manifest = tmp_path / "m.csv"
    manifest.write_text("capture,consent_at\na.mitm,yesterday\n")
    r = cli("audit", str(manifest), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and f"{manifest} row 2: consent_at" in r.stderr and "Traceback" not in r.stderr
    manifest.write_text("capture,colour\na.mitm,red\n")
    r = cli("audit", str(manifest), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "unknown column 'colour'" in r.stderr
    manifest.write_text("capture,profile\n,p.toml\n")
    r = cli("audit", str(manifest), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and f"{manifest} row 2: capture: empty" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _wait(cond, deadline_s: float, what: str, proc: subprocess.Popen | None = None) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended first (exit {proc.returncode})")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _lines(out: Path) -> int:
    try:
        return sum(1 for line in (out / JOURNAL_NAME).read_text().splitlines() if line.endswith("}"))
    except FileNotFoundError:
        return 0


def test_resume_after_sigint_and_sigkill_does_no_task_twice(tmp_path: Path) -> None:
    b = make_batch(tmp_path, sessions=8)  # enough tasks that a signal lands before the last one
    full = tmp_path / "full"
    assert audit(b, full, "--workers", "1").returncode == 2
    total = len(load(full / "summary.json")["sessions"])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "consentscope", "audit", *b.inputs, "--out", str(out), *b.args, "-q",
           "--workers", "1"]
    nothing = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr
    # Ctrl-C part way: what is done is written, exit 130
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait(lambda: _lines(out) >= 3, 120, "3 finished tasks", p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    first = _lines(out)
    assert 3 <= first < total
    partial = load(out / "summary.json")
    assert len(partial["sessions"]) == first
    # SIGKILL part way: nothing written after the kill, nothing finished is lost
    cmd.append("--resume")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: _lines(out) >= first + 2, 120, "2 more finished tasks", p)
    p.kill()
    p.wait(timeout=30)
    second = _lines(out)
    assert second < total, "the batch finished before it could be killed"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, r.stderr
    keys = Journal(str(out)).keys_in_order()
    assert len(keys) == len(set(keys)) == total, "each task finished exactly once"
    assert load(out / "summary.json") == load(full / "summary.json")
    assert (out / "summary.csv").read_bytes() == (full / "summary.csv").read_bytes()
    assert (out / "summary.html").read_bytes() == (full / "summary.html").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_real_dask_cluster_gives_the_same_summary_as_one_worker(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    b = make_batch(tmp_path)
    one = tmp_path / "one"
    assert audit(b, one, "--workers", "1").returncode == 2
    port, dash = _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address",
                               f"127.0.0.1:{dash}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)]
    try:
        _wait(lambda: _port_open(port), 60, "the Dask scheduler", procs[0])
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env))
        from distributed import Client

        with Client(address, timeout=30) as client:
            _wait(lambda: len(client.scheduler_info()["workers"]) == 2, 90, "two Dask workers")
        cluster = tmp_path / "cluster"
        r = audit(b, cluster, "--scheduler", address)
        assert r.returncode == 2, r.stderr
        assert (cluster / "summary.json").read_bytes() == (one / "summary.json").read_bytes()
        assert (cluster / "summary.html").read_bytes() == (one / "summary.html").read_bytes()
        for s in load(one / "summary.json")["sessions"]:
            if s["status"] == "ok":
                a = json.loads((one / "sessions" / f"{s['id']}.json").read_text())
                c = json.loads((cluster / "sessions" / f"{s['id']}.json").read_text())
                assert a == c
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


DEMO = ("captures/demo_session.mitm", "--profile", "captures/demo_profile.toml",
        "--consent-marker", "/v1/privacy/consent", "--suppressions", "captures/demo_project.toml")


def test_lang_zh_and_fail_on(tmp_path: Path) -> None:
    """``--lang zh`` renders the summary and each session's report in Chinese; ``--fail-on``
    gates on the rules the sessions break (exit 1, each named), and a typo in it is an
    error before any task runs."""
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "consentscope", "audit", *DEMO, "--workers", "1", "-q"]
    typo = subprocess.run([*cmd, "--out", str(tmp_path / "typo"), "--fail-on", "MIIT-99"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert typo.returncode == 2 and "--fail-on" in typo.stderr and not (tmp_path / "typo").exists()
    out = tmp_path / "zh"
    r = subprocess.run([*cmd, "--out", str(out), "--lang", "zh", "--fail-on", "MIIT-1"], cwd=root,
                       capture_output=True, text=True, timeout=600)
    summary = load(out / "summary.json")
    [s] = summary["sessions"]
    assert s["status"] == "ok" and any(v.startswith("MIIT-1") for v in s["violations"]), s
    assert r.returncode == 1 and f"{s['id']}: MIIT-1" in r.stderr and "Traceback" not in r.stderr
    page = (out / "summary.html").read_text()
    assert 'lang="zh-CN"' in page and "各App结论" in page and "联系过的SDK" in page
    assert "Verdict per app" not in page and "发现问题" in page  # the verdict names too
    assert "友盟" in page  # SDK names as Chinese privacy policies write them
    session_page = (out / "sessions" / f"{s['id']}.html").read_text()
    assert 'lang="zh' in session_page
    assert summary == load(out / "summary.json")  # the summary JSON does not depend on the language
    again = subprocess.run([*cmd, "--out", str(tmp_path / "en"), "--fail-on", "PIPL-99.9,MIIT-8"], cwd=root,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode in (0, 1, 2) and "Traceback" not in again.stderr
