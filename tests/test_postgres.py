"""PostgreSQL for real: a server started by the test, the same batch stored there and in
SQLite (same rows, same summary), the schema migrated from the previous version, and a clear
line when the driver is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from consentscope.storage import (
    SCHEMA_VERSION,
    ContactRow,
    EventRow,
    FindingRow,
    RequestRow,
    SessionRow,
    ViolationRow,
    list_sessions,
    open_engine,
)
from tests.batch_fixture import audit, cli, make_batch
from tests.pgserver import Server, postgres_server, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))]

#: columns that say when or in which order rows were written, not what they hold
VOLATILE = {"id", "created", "judged"}


@pytest.fixture(scope="module")
def pg() -> Iterator[Server]:
    with postgres_server() as server:
        yield server


def rows(url: str) -> dict[str, list[tuple]]:
    engine = open_engine(url)
    out = {}
    try:
        with Session(engine) as s:
            for model in (SessionRow, RequestRow, FindingRow, EventRow, ContactRow, ViolationRow):
                cols = [c for c in model.__table__.columns if c.name not in VOLATILE]
                got = [tuple(repr(v) for v in r) for r in s.execute(select(*cols))]
                out[model.__tablename__] = sorted(got)
    finally:
        engine.dispose()
    return out


def test_the_same_batch_in_postgresql_and_sqlite(tmp_path: Path, pg: Server) -> None:
    b = make_batch(tmp_path)
    pg_url = pg.create_database("batch")
    sqlite_url = f"sqlite:///{tmp_path / 'batch.db'}"
    r = audit(b, tmp_path / "out-pg", "--db", pg_url)
    assert r.returncode == 2, r.stderr  # the corrupt capture and the missing profile
    assert audit(b, tmp_path / "out-sqlite", "--db", sqlite_url).returncode == 2
    a, c = rows(pg_url), rows(sqlite_url)
    assert a == c
    assert len(a["cs_sessions"]) == len(b.replay) + 1  # every audited capture (the corrupt one too, as replay)
    assert a["cs_findings"] and a["cs_violations"] and a["cs_requests"]
    assert (tmp_path / "out-pg" / "summary.json").read_bytes() == (tmp_path / "out-sqlite" / "summary.json").read_bytes()
    # the stored sessions report as the batch did
    listed = cli("sessions", "--db", pg_url)
    assert listed.returncode == 0 and "violations" in listed.stdout


def test_a_previous_schema_version_migrates_on_postgresql(tmp_path: Path, pg: Server) -> None:
    url = pg.create_database("old")
    import psycopg

    with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="old", autocommit=True) as con:
        con.execute("""
            CREATE TABLE cs_schema (id INTEGER PRIMARY KEY, version INTEGER);
            INSERT INTO cs_schema VALUES (1, 1);
            CREATE TABLE cs_sessions (id VARCHAR(128) PRIMARY KEY, label VARCHAR(256), sources JSON,
                app_package VARCHAR(256), started FLOAT, ended FLOAT, created FLOAT NOT NULL, requests INTEGER,
                anomalies JSON, errors JSON);
            INSERT INTO cs_sessions VALUES ('old', 'old', '["x.mitm"]', 'com.example', 1.0, 2.0, 3.0, 7, '{}', '[]');
        """)
    assert SCHEMA_VERSION >= 2
    engine = open_engine(url)
    (row,) = list_sessions(engine)
    assert (row.id, row.requests, row.app_type, row.judged) == ("old", 7, "", None)
    with engine.connect() as con:
        assert con.execute(text("select version from cs_schema")).scalar_one() == SCHEMA_VERSION
    engine.dispose()
    r = cli("report", "--db", url, "--session", "old", "--json", str(tmp_path / "old.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "old.json").read_text())["sessions"][0]["requests"] == 7


def test_a_missing_driver_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"  # as if consentscope[postgres] were not installed
            "from consentscope.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "sessions", "--db", "postgresql+psycopg://u@127.0.0.1:1/x"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "consentscope[postgres]" in r.stderr and "Traceback" not in r.stderr
