"""The write path stores, row for row and id for id, what it stored when every INSERT went
through SQLAlchemy Core's ``conn.execute(insert(table), rows)`` and sessions, events and
verdicts were ORM objects (commit 8193e2a): on SQLite and on a real PostgreSQL server.

Both ways run the same steps: a live session's batches (rows of an older shape among them),
a mark, whole replayed sessions crossing INSERT batch boundaries, stored twice, and a new
verdict. Only the time a row was written (``created``, ``judged``) may differ."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from consentscope.model import RequestSummary
from consentscope.session import judge
from consentscope.storage import (
    EventRow,
    SessionRow,
    StorageError,
    ViolationRow,
    add_event,
    ensure_session,
    open_engine,
    save_session,
    save_violations,
    write,
    write_batch,
)
from consentscope.storage.write import _violation_columns
from tests.pgserver import Server, postgres_server, unavailable
from tests.reports.sessions import hostile_session
from tests.storage.test_write_batch import BATCHES, T0, contact, finding

TABLES = ("cs_sessions", "cs_requests", "cs_findings", "cs_events", "cs_contacts", "cs_violations")


# ------------------------------------------------------------------ the reference: commit 8193e2a


def core_insert_all(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    stmt = insert(table)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= write.INSERT_BATCH:
            conn.execute(stmt, batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)


def orm_ensure_session(engine: Engine, session_id: str, label: str = "", app_package: str = "",
                       sources: Sequence[str] = (), app: dict[str, Any] | None = None) -> None:
    with Session(engine) as s, s.begin():
        if s.get(SessionRow, session_id) is None:
            now = datetime.now(UTC).timestamp()
            s.add(SessionRow(id=session_id, label=label or session_id, sources=list(sources),
                             app_package=app_package, started=None, ended=None, created=now,
                             requests=0, anomalies={}, errors=[], **(app or {})))


def orm_add_event(engine: Engine, session_id: str, time: float, event_name: str, detail: str = "",
                  source: str = "cli") -> int:
    with Session(engine) as s, s.begin():
        row = EventRow(session_id=session_id, time=time, event=event_name, detail=detail, source=source)
        s.add(row)
        s.flush()
        return row.id


def orm_save_violations(engine: Engine, session_id: str, violations: Iterable[Any]) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(SessionRow, session_id)
        if row is None:
            raise StorageError(f"no session {session_id!r}")
        s.query(ViolationRow).filter(ViolationRow.session_id == session_id).delete()
        s.add_all(ViolationRow(**_violation_columns(session_id, v)) for v in violations)
        row.judged = datetime.now(UTC).timestamp()


# ------------------------------------------------------------------ the steps


#: more rows than one INSERT batch holds, in every table a replay fills
SMALL_BATCH = 4


def sessions() -> list[Any]:
    result, _ = hostile_session()
    base = result.findings
    result.findings = [replace(base[i % len(base)], flow_id=f"f{i:03d}", time=T0 + i) for i in range(3 * SMALL_BATCH + 1)]
    # a time that is an int: the column's type makes it a float, as Core did
    result.findings.append(replace(base[0], flow_id="int-time", time=int(T0)))
    result.contacts = [*result.contacts, *(replace(c, session=result.id) for c in result.contacts)]
    result.request_log = [RequestSummary(f"r{i}", T0 + i, "GET", f"https://h.example/{i}?q=\u4e2d", "h.example",
                                         "third-party", None if i % 2 else "Umeng") for i in range(2 * SMALL_BATCH)]
    other, _ = hostile_session()
    other.id = "other"
    other.findings = [replace(f, session="other") for f in other.findings]
    other.contacts = [replace(c, session="other") for c in other.contacts]
    judge([result, other])
    assert len(result.violations) > SMALL_BATCH and result.contacts and result.request_log
    return [result, other]


#: live batches beyond ``test_write_batch``'s: an int time, a contact that was decrypted
MORE = dict(findings=[finding(20, time=int(T0) + 20)], contacts=[dict(contact(21), decrypted=True, tls_version="TLSv1.2")],
            events=[{"time": int(T0) + 22, "event": "mark", "detail": "中文 \u2028", "source": "device"}])


def run(engine: Engine, reference: bool) -> None:
    ensure = orm_ensure_session if reference else ensure_session
    mark = orm_add_event if reference else add_event
    verdict = orm_save_violations if reference else save_violations
    ensure(engine, "s1", "phone", "com.example.app", sources=["live"],
           app=dict(app_name="Demo", app_type="shopping", location_precision_m=None))
    ensure(engine, "s1", "again")  # exists: left alone
    for batch in [*BATCHES, MORE]:
        write_batch(engine, "s1", **batch)
    assert mark(engine, "s1", T0 + 30, "mark", "by hand") > 0
    replayed = sessions()
    for r in replayed:
        save_session(engine, r)
    save_session(engine, replayed[0])  # replaced, not doubled
    verdict(engine, "s1", replayed[0].violations[:2])
    verdict(engine, "other", [])


def stored(url: str, reference: bool, monkeypatch: pytest.MonkeyPatch) -> Engine:
    with monkeypatch.context() as m:
        m.setattr(write, "INSERT_BATCH", SMALL_BATCH)
        if reference:
            m.setattr(write, "_insert_all", core_insert_all)
        engine = open_engine(url)
        run(engine, reference)
    return engine


# ------------------------------------------------------------------ SQLite


def sqlite_rows(db: Path) -> dict[str, list[dict[str, tuple[str, Any]]]]:
    """Every column of every row as SQLite holds it, with its type (5 and 5.0 differ)."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("UPDATE cs_sessions SET created = 0, judged = CASE WHEN judged IS NULL THEN NULL ELSE 0 END")
        return {t: [{k: (type(v).__name__, v) for k, v in zip(r.keys(), r, strict=True)}
                    for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")]
                for t in TABLES}


def test_the_same_rows_as_core_and_the_orm_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = {}
    for name, reference in (("new", False), ("old", True)):
        stored(f"sqlite:///{tmp_path / name}.db", reference, monkeypatch).dispose()
        got[name] = sqlite_rows(tmp_path / f"{name}.db")
    assert got["new"] == got["old"]
    counts = {t: len(rows) for t, rows in got["new"].items()}
    assert counts["cs_sessions"] == 3 and counts["cs_findings"] > 3 * SMALL_BATCH and counts["cs_violations"] > 2
    assert counts["cs_contacts"] > 3 and counts["cs_requests"] > 1
    # the rows of the session stored again come last, in the session's order
    findings = [r for r in got["new"]["cs_findings"] if r["session_id"][1] == "hostile"]
    assert [r["flow_id"][1] for r in findings] == [f"f{i:03d}" for i in range(3 * SMALL_BATCH + 1)] + ["int-time"]
    assert findings[-1]["time"] == ("float", T0)
    assert [r["decrypted"] for r in got["new"]["cs_contacts"] if r["session_id"][1] == "s1"] == [
        ("int", 0), ("int", 0), ("int", 0), ("int", 1)]


def test_no_column_a_row_does_not_take(tmp_path: Path) -> None:
    """A key no column takes fails the live batch (Core would drop it silently)."""
    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_session(engine, "live")
    with pytest.raises(StorageError, match="cs_contacts: no column bogus"):
        write_batch(engine, "live", contacts=[dict(contact(1), bogus=1)])
    engine.dispose()


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="module")
def pg() -> Iterator[Server]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


def pg_rows(engine: Engine) -> dict[str, list[str]]:
    """Every row as PostgreSQL prints it (JSON as its stored text, floats as floats)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE cs_sessions SET created = 0, judged = CASE WHEN judged IS NULL THEN NULL ELSE 0 END")
        return {t: [r[0] for r in conn.exec_driver_sql(f"SELECT t::text FROM {t} t ORDER BY id")] for t in TABLES}


@pytest.mark.slow
def test_the_same_rows_as_core_and_the_orm_on_postgresql(pg: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    got = {}
    for name, reference in (("new", False), ("old", True)):
        engine = stored(pg.create_database(f"insert_{name}"), reference, monkeypatch)
        try:
            got[name] = pg_rows(engine)
        finally:
            engine.dispose()
    assert got["new"] == got["old"]
    assert len(got["new"]["cs_findings"]) > 3 * SMALL_BATCH and len(got["new"]["cs_violations"]) > 2


# ------------------------------------------------------------------ JSON serialised once per distinct list


def test_a_remembered_json_value_is_what_the_column_type_makes() -> None:
    """Lists of plain strings are serialised once each (at most ``JSON_MEMO`` of them); every
    value, remembered or not, comes out as the type's own processor makes it."""
    from enum import StrEnum

    from sqlalchemy import JSON
    from sqlalchemy.dialects import sqlite

    class Kind(StrEnum):
        MD5 = "md5"

    dialect = sqlite.dialect()
    process = JSON().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    memoised = write._json_memo(process)
    values: list[Any] = [["json", "md5"], [], ["中文", "\u2028"], [1, "a"], [{"x": 1}], ("a",), None, {"k": ["v"]},
                         [Kind.MD5], ["md5"], ["json", "md5"], [["a"]], [None]]
    values += [[f"v{i}"] for i in range(write.JSON_MEMO + 50)] * 2
    assert [memoised(v) for v in values] == [process(v) for v in values]


def test_an_insert_is_compiled_once_per_engine_table_and_shape(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A live writer stores a batch every few hundred milliseconds and a batch audit every
    table of every session: the INSERT of a row shape is compiled once per engine (0.5 ms
    each time), and a row of another shape (a spilled row of an older one) gets its own."""
    from sqlalchemy.sql.dml import Insert

    compiles: list[str] = []

    original = Insert.compile

    def counting(self: Insert, *a: Any, **kw: Any) -> Any:
        compiles.append(self.table.name)  # type: ignore[attr-defined]
        return original(self, *a, **kw)

    monkeypatch.setattr(Insert, "compile", counting)
    engine = open_engine(f"sqlite:///{tmp_path / 'a.db'}")
    ensure_session(engine, "s1", "s1", "com.example.app", sources=["live"])
    write_batch(engine, "s1", findings=[finding(1), finding(2)])
    write_batch(engine, "s1", findings=[finding(3)], contacts=[contact(3)])
    write_batch(engine, "s1", findings=[finding(4), finding(5)], contacts=[contact(5)])
    assert sorted(compiles) == ["cs_contacts", "cs_findings"]
    older = {k: v for k, v in finding(6).items() if k != "confidence"}  # a spilled row of an older shape
    write_batch(engine, "s1", findings=[older])
    assert sorted(compiles) == ["cs_contacts", "cs_findings", "cs_findings"]
    other = open_engine(f"sqlite:///{tmp_path / 'b.db'}")  # another engine: its own dialect, its own plans
    ensure_session(other, "s1", "s1", "com.example.app", sources=["live"])
    write_batch(other, "s1", findings=[finding(7)])
    assert compiles.count("cs_findings") == 3
    with sqlite3.connect(tmp_path / "a.db") as conn:
        rows = conn.execute("SELECT flow_id, confidence FROM cs_findings ORDER BY id").fetchall()
    assert rows == [("f1", "profile"), ("f2", "profile"), ("f3", "profile"), ("f4", "profile"), ("f5", "profile"),
                    ("f6", "profile")]
    engine.dispose()
    other.dispose()
