"""``write_batch`` (the live writer's and the spill file's path into the database) writes the
rows the ORM version wrote: same columns, same defaults for rows of an older shape, same
order, same session totals, all or nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from consentscope.storage import (
    ContactRow,
    EventRow,
    FindingRow,
    SessionRow,
    StorageError,
    ensure_session,
    open_engine,
    write_batch,
)

T0 = 1_772_445_600.0


def orm_write_batch(engine: Engine, session_id: str, findings: Sequence[dict[str, Any]] = (),
                    events: Sequence[dict[str, Any]] = (), requests: int = 0,
                    span: tuple[float, float] | None = None, anomalies: dict[str, int] | None = None,
                    contacts: Sequence[dict[str, Any]] = (), coverage: dict[str, Any] | None = None) -> None:
    """``write_batch`` as it was with ORM objects (commit 5ea08a4), the reference."""
    with Session(engine) as s, s.begin():
        row = s.get(SessionRow, session_id)
        if row is None:
            raise StorageError(f"no session {session_id!r}")
        s.add_all(FindingRow(**cols) for cols in findings)
        s.add_all(ContactRow(**cols) for cols in contacts)
        s.add_all(EventRow(session_id=session_id, **cols) for cols in events)
        if coverage:
            row.coverage = coverage
        row.requests = (row.requests or 0) + requests
        if span is not None:
            row.started = span[0] if row.started is None else min(row.started, span[0])
            row.ended = span[1] if row.ended is None else max(row.ended, span[1])
        if anomalies:
            merged = dict(row.anomalies or {})
            for k, v in anomalies.items():
                merged[k] = merged.get(k, 0) + v
            row.anomalies = merged


def finding(n: int, **changes: Any) -> dict[str, Any]:
    cols = dict(session_id="s1", flow_id=f"f{n}", time=T0 + n, method="POST", url=f"https://u.example/{n}?a=1",
                host="ulogs.umeng.com", registrable_domain="umeng.com", party="third-party",
                relation="third-party", sdk="Umeng", vendor="Umeng", category="analytics",
                data_type="imei", encoding=["json", "md5"], location="body.json:$.imei",
                phase="before-consent", evidence="…861234567890127…", detail="", source="live",
                confidence="profile")
    cols.update(changes)
    return cols


def old_shape(n: int) -> dict[str, Any]:
    """A spill-file line of an older consentscope: no source, confidence nor destination columns."""
    cols = finding(n)
    for key in ("source", "confidence", "registrable_domain", "relation", "vendor", "category"):
        del cols[key]
    return cols


def contact(n: int) -> dict[str, Any]:
    return dict(session_id="s1", time=T0 + n, host="open.e.kuaishou.com", ip="203.0.113.9", port=443,
                via="tls-sni", tls_version=None, flow_id=f"c{n}", registrable_domain="kuaishou.com",
                party="third-party", relation="third-party", sdk=None, vendor="Kuaishou", category="ads",
                phase="after-consent", source="live", size=1400, decrypted=False, reason=None)


#: batches as the live writer and a spill file hand them over, in order
BATCHES: list[dict[str, Any]] = [
    dict(findings=[finding(1), finding(2, encoding=[], sdk=None, vendor=None)], requests=5, span=(T0 + 1, T0 + 3),
         anomalies={"gzip-bad": 1}),
    dict(),  # an empty interval
    dict(events=[{"time": T0 + 4, "event": "consent", "detail": "", "source": "device"}],
         contacts=[contact(4)], coverage={"requests": 5, "destinations": [{"host": "ulogs.umeng.com"}]}),
    dict(findings=[finding(5), old_shape(6), old_shape(7), finding(8, detail="x" * 3000)], requests=3,
         span=(T0 + 0.5, T0 + 9), anomalies={"gzip-bad": 2, "json-bad": 1}),
    dict(events=[{"time": T0 + 10, "event": "withdrawal", "detail": "settings", "source": "cli"},
                 {"time": T0 + 11, "event": "mark", "detail": "", "source": "device"}],
         contacts=[contact(12), contact(13)], requests=1, span=(T0 + 12, T0 + 12),
         coverage={"requests": 9, "destinations": []}),
]


def rows(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every stored column of every row, as SQLite holds it (JSON as its text), but the
    session's creation time."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {t: [{k: v for k, v in zip(r.keys(), r, strict=True) if k != "created"}
                    for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")]
                for t in ("cs_findings", "cs_contacts", "cs_events", "cs_sessions")}


def stored_with(write: Callable[..., None], db: Path) -> dict[str, list[dict[str, Any]]]:
    engine = open_engine(f"sqlite:///{db}", fresh_connections=True)
    ensure_session(engine, "s1", "phone", "com.example.app", sources=["live"])
    for batch in BATCHES:
        write(engine, "s1", **batch)
    return rows(db)


def test_core_rows_equal_the_orm_rows(tmp_path: Path) -> None:
    core = stored_with(write_batch, tmp_path / "core.db")
    orm = stored_with(orm_write_batch, tmp_path / "orm.db")
    assert core == orm
    assert [len(core[t]) for t in ("cs_findings", "cs_contacts", "cs_events")] == [6, 3, 3]
    # the older rows got the column defaults, in the order they came
    assert [r["flow_id"] for r in core["cs_findings"]] == ["f1", "f2", "f5", "f6", "f7", "f8"]
    assert [(r["source"], r["confidence"], r["registrable_domain"]) for r in core["cs_findings"][3:5]] == [
        ("flow", "profile", "")] * 2


def test_the_session_totals_add_up(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_session(engine, "s1")
    for batch in BATCHES:
        write_batch(engine, "s1", **batch)
    with Session(engine) as s:
        row = s.get(SessionRow, "s1")
        assert row is not None
        assert (row.requests, row.started, row.ended) == (9, T0 + 0.5, T0 + 12)
        assert row.anomalies == {"gzip-bad": 3, "json-bad": 1}
        assert row.coverage == {"requests": 9, "destinations": []}  # the latest one


def test_a_batch_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    engine = open_engine(f"sqlite:///{db}")
    ensure_session(engine, "s1")
    with pytest.raises(StorageError, match="no session 'gone'"):
        write_batch(engine, "gone", findings=[finding(1)], requests=1)
    with pytest.raises(StorageError, match="cs_findings: no column nonsense"):  # a row no column takes: the batch fails
        write_batch(engine, "s1", findings=[finding(2), finding(3, nonsense=1)], requests=2, span=(T0, T0))
    assert rows(db)["cs_findings"] == []
    assert rows(db)["cs_sessions"][0]["requests"] == 0
