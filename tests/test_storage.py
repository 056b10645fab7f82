"""The database keeps a session whole: contacts, the verdict and what the rules need of the profile."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from consentscope.session import load as load_session
from consentscope.storage import SCHEMA_VERSION, list_sessions, open_engine

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
PUBLIC = ROOT.parent / "shared" / "captures-public"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True, timeout=300)


def replay_demo(tmp: Path, *extra: str) -> tuple[str, dict]:
    db = f"sqlite:///{tmp / 'a.db'}"
    r = cli("replay", str(CAPTURES / "demo_session.mitm"), "--profile", str(CAPTURES / "demo_profile.toml"),
            "--consent-marker", "/v1/privacy/consent", "--json", str(tmp / "replay.json"), "--db", db, "-q", *extra)
    assert r.returncode == 0, r.stderr
    return db, json.loads((tmp / "replay.json").read_text())


def test_violations_are_stored_and_listed(tmp_path: Path) -> None:
    db, doc = replay_demo(tmp_path)
    con = sqlite3.connect(tmp_path / "a.db")
    stored = con.execute('select rule, severity, "check", flows, suppressed from cs_violations order by id').fetchall()
    con.close()
    want = [(v["rule"], v["severity"], v["check"], json.dumps(v["evidence"]["flows"]), "") for v in doc["violations"]]
    assert [(r, s, c, json.dumps(json.loads(f)), x) for r, s, c, f, x in stored] == want
    r = cli("sessions", "--db", db)
    assert r.returncode == 0 and f"{len(doc['violations'])} violations" in r.stdout


def test_report_with_a_project_file_stores_the_new_verdict(tmp_path: Path) -> None:
    db, doc = replay_demo(tmp_path)
    assert "PIPL-23" in {v["rule"] for v in doc["violations"]}
    project = tmp_path / "consentscope.toml"
    project.write_text('[[accept]]\nrules = ["PIPL-23"]\nreason = "listed in the SDK list; separate consent screen"\n')
    r = cli("report", "--db", db, "--suppressions", str(project), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    got = json.loads((tmp_path / "r.json").read_text())
    assert [v["rule"] for v in got["suppressed"]] == ["PIPL-23"]
    assert got["suppressed"][0]["reason"].startswith("listed in the SDK list")
    assert "PIPL-23" not in {v["rule"] for v in got["violations"]}
    engine = open_engine(db)
    stored = load_session(engine, "demo_session").violations
    assert {v.rule for v in stored if v.suppressed} == {"PIPL-23"}
    assert len(stored) == len(got["violations"]) + len(got["suppressed"])
    r = cli("sessions", "--db", db)
    assert f"{len(got['violations'])} violations" in r.stdout


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE cs_schema (id INTEGER PRIMARY KEY, version INTEGER);
        INSERT INTO cs_schema VALUES (1, 1);
        CREATE TABLE cs_sessions (id VARCHAR(128) PRIMARY KEY, label VARCHAR(256), sources JSON,
            app_package VARCHAR(256), started FLOAT, ended FLOAT, created FLOAT NOT NULL, requests INTEGER,
            anomalies JSON, errors JSON);
        INSERT INTO cs_sessions VALUES ('old', 'old', '["x.mitm"]', 'com.example', 1.0, 2.0, 3.0, 7, '{}', '[]');
    """)
    con.close()
    engine = open_engine(f"sqlite:///{path}")
    (row,) = list_sessions(engine)
    assert (row.id, row.requests, row.app_type, row.judged) == ("old", 7, "", None)
    con = sqlite3.connect(path)
    assert con.execute("select version from cs_schema").fetchall() == [(SCHEMA_VERSION,)]
    con.close()
    r = cli("sessions", "--db", f"sqlite:///{path}")
    assert "not judged yet" in r.stdout
    r = cli("report", "--db", f"sqlite:///{path}", "--json", str(tmp_path / "old.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "old.json").read_text())["sessions"][0]["requests"] == 7


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_engine(f"sqlite:///{path}").dispose()
    con = sqlite3.connect(path)
    con.execute("update cs_schema set version = ?", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    r = cli("sessions", "--db", f"sqlite:///{path}")
    assert r.returncode == 2 and "newer than this consentscope" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not (PUBLIC / "ndpi" / "1kxun.pcap").exists(),
                    reason="../shared/captures-public is not here (a fresh clone): no public pcap to store")
def test_packet_capture_contacts_survive_the_database(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[app]\npackage = "com.kxun.app"\n[device]\nandroid_id = "0123456789abcdef"\n')
    db = f"sqlite:///{tmp_path / 'p.db'}"
    r = cli("replay", str(PUBLIC / "ndpi" / "1kxun.pcap"), "--profile", str(profile), "--consent-at",
            "2100-01-01T00:00:00Z", "--json", str(tmp_path / "a.json"), "--db", db, "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["contacts"], "1kxun.pcap has TLS and DNS contacts"
    contact_rules = [v for v in doc["violations"] if v["check"] == "contact-only"]
    assert contact_rules, "third-party SDK hosts contacted before consent make a contact-only MIIT-3"
    r = cli("report", "--db", db, "--json", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["contacts"] == doc["contacts"]
    assert again["violations"] == doc["violations"]


def test_report_from_a_read_only_database_still_renders(tmp_path: Path) -> None:
    _, doc = replay_demo(tmp_path)
    read_only = f"sqlite:///file:{tmp_path / 'a.db'}?mode=ro&uri=true"  # read-only even for root
    r = cli("report", "--db", read_only, "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert "verdict not stored" in r.stderr and "Traceback" not in r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["violations"] == doc["violations"]


# --- owner-only, always (issue 16) ---


def _loose_database(path: Path) -> None:
    """A database another tool created with the usual umask (0644)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    path.chmod(0o644)


def test_an_existing_world_readable_database_is_tightened_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shared.db"
    _loose_database(db)
    open_engine(f"sqlite:///{db}").dispose()
    assert db.stat().st_mode & 0o777 == 0o600
    err = capsys.readouterr().err
    assert err.count(f"tightened permissions of {db} to 0600") == 1
    open_engine(f"sqlite:///{db}").dispose()  # already tight: nothing more to say
    assert "tightened" not in capsys.readouterr().err
    assert db.stat().st_mode & 0o777 == 0o600


def test_a_new_database_is_owner_only_without_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "new.db"
    open_engine(f"sqlite:///{db}").dispose()
    assert db.stat().st_mode & 0o777 == 0o600
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_loose_database_owned_by_someone_else_is_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "theirs.db"
    _loose_database(db)
    os.chown(db, 65534, 65534)
    for _ in range(2):
        open_engine(f"sqlite:///{db}").dispose()
    err = capsys.readouterr().err
    assert err.count(f"{db} is mode 0644") == 1 and "could not be tightened" in err
    assert db.stat().st_mode & 0o777 == 0o644  # not ours: left as it is, but said


def test_a_report_written_over_a_world_readable_file_ends_owner_only(tmp_path: Path) -> None:
    from consentscope.files import write_private

    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(str(target), '{"new": true}')
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_text() == '{"new": true}'


def test_a_large_session_is_stored_whole_in_order_and_replaced(tmp_path: Path) -> None:
    """Core bulk inserts (``save_session``): more findings than one INSERT batch all arrive,
    their ids in the session's order, the columns as ``finding_columns`` makes them; storing
    the same session again replaces every row of it and leaves another session alone."""
    from dataclasses import replace

    from consentscope.session import judge, store
    from consentscope.storage.write import INSERT_BATCH, finding_columns
    from tests.reports.sessions import hostile_session

    result, _ = hostile_session()
    base = result.findings
    result.findings = [replace(base[i % len(base)], flow_id=f"f{i:06d}", time=1_772_445_600.0 + i)
                       for i in range(INSERT_BATCH * 2 + 7)]
    other, _ = hostile_session()
    other.id = "other"
    other.findings = [replace(f, session="other") for f in other.findings]
    other.contacts = [replace(c, session="other") for c in other.contacts]
    judge([result, other])
    engine = open_engine(f"sqlite:///{tmp_path / 'big.db'}")
    store(engine, [other, result])
    store(engine, [result])  # again: replaced, not doubled
    con = sqlite3.connect(tmp_path / "big.db")
    rows = con.execute("select session_id, flow_id, data_type, encoding, location, evidence, phase, confidence "
                       "from cs_findings where session_id = ? order by id", (result.id,)).fetchall()
    counts = dict(con.execute("select session_id, count(*) from cs_findings group by session_id").fetchall())
    violations = con.execute("select count(*) from cs_violations where session_id = ?", (result.id,)).fetchone()[0]
    con.close()
    want = [finding_columns(f) for f in result.findings]
    assert [(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows] == [
        (w["session_id"], w["flow_id"], w["data_type"], w["encoding"], w["location"], w["evidence"], w["phase"],
         w["confidence"]) for w in want]
    assert counts == {result.id: len(result.findings), "other": len(other.findings)}
    assert violations == len(result.violations) > 0
    loaded = load_session(engine, result.id)
    assert [f.flow_id for f in loaded.findings] == [f.flow_id for f in sorted(result.findings, key=lambda f: f.time)]
