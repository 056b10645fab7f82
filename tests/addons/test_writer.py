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
