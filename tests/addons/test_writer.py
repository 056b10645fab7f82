"""The live database writer (addons/writer.py): batches stored, marks from another process
polled, a lost database spilled and recovered, the session judged when it ends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from consentscope.addons.writer import BackgroundWriter
from consentscope.profile import load_profile
from consentscope.storage import add_event, open_engine
from tests.waiting import wait_for

IMEI = "861234567890127"
T0 = 1_772_445_600.0


def finding(session: str, n: int) -> dict:
    return dict(session_id=session, flow_id=f"f{n}", time=T0 + n, method="GET", url=f"https://u.example/{n}",
                host="ulogs.umeng.com", registrable_domain="umeng.com", party="third-party", relation="third-party",
                sdk="Umeng", vendor="Umeng", category="analytics", data_type="imei", encoding=[], location="url",
                phase="before-consent", evidence=IMEI, detail="")


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_batches_marks_and_judging(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    p = tmp_path / "p.toml"
    p.write_text(f'[device]\nimei = "{IMEI}"\n')
    remote: list = []
    w = BackgroundWriter(f"sqlite:///{db}", "s1", profile=load_profile(str(p)),
                         on_remote_event=lambda *e: remote.append(e))
    w.put_request("s1", T0 + 1)
    w.put_findings("s1", [finding("s1", 1)])
    w.put_event("s1", T0 + 5, "consent", "", "device")
    wait_for(lambda: count(db, "cs_findings") == 1 and count(db, "cs_events") == 1, "the batch stored")
    add_event(open_engine(f"sqlite:///{db}"), "s1", T0 + 9, "withdrawal", "", "cli")  # `consentscope mark`
    wait_for(lambda: remote, "the mark polled from the database")
    assert remote[0][1] == "withdrawal"
    w.judge("s1")
    w.close()
    assert count(db, "cs_violations") >= 1
    assert db.stat().st_mode & 0o077 == 0


def test_a_lost_database_is_spilled_and_recovered(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    w = BackgroundWriter(f"sqlite:///{db}", "s1")
    away = tmp_path / "away.db"
    db.rename(away)
    db.mkdir()  # SQLite cannot open a directory
    w.put_findings("s1", [finding("s1", 1)])
    spill = Path(f"{db}.spill.jsonl")
    wait_for(spill.exists, "the spill file")
    assert spill.stat().st_mode & 0o077 == 0
    db.rmdir()
    away.rename(db)
    w.put_findings("s1", [finding("s1", 2)])
    wait_for(lambda: not spill.exists(), "the spill moved into the database")
    w.close()
    assert count(db, "cs_findings") == 2


def test_handing_over_does_not_wake_the_writer_each_time(tmp_path: Path) -> None:
    """The detector hands findings over request by request; the writer thread sleeps between
    its rounds (``FLUSH_SECONDS``) instead of waking, and taking the interpreter lock from the
    detector, for every one. Everything handed over is stored, in order, and a judgement
    asked for wakes it at once."""
    import sys
    import time

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("counts the writer thread's context switches in /proc (Linux)")
    db = tmp_path / "w.db"
    w = BackgroundWriter(f"sqlite:///{db}", "s1")

    def switches() -> int:
        status = Path(f"/proc/self/task/{w._thread.native_id}/status").read_text()
        return sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("voluntary_ctxt_switches"))

    wait_for(lambda: w._thread.native_id is not None, "the writer thread")
    before = switches()
    for n in range(200):  # a request every millisecond, as a busy detector hands them over
        w.put_findings("s1", [finding("s1", n)])
        time.sleep(0.001)
    wait_for(lambda: count(db, "cs_findings") == 200, "the findings stored")
    woken = switches() - before
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT flow_id FROM cs_findings ORDER BY id")] == [f"f{n}" for n in range(200)]
    assert woken < 60, f"the writer thread slept and woke {woken} times for 200 hand-overs"
    t = time.monotonic()
    w.judge("s1")
    w.close()
    assert time.monotonic() - t < 10
