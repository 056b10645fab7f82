"""The tables are declared with SQLAlchemy Core so a replay writes without importing
``sqlalchemy.orm``; they stay exactly what schema version 4 was when the ORM classes declared
them (DDL frozen in ``schema_v4.ddl`` for SQLite and PostgreSQL, plus the Python-side defaults
DDL does not show), and the ORM classes of the read path map those same tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

import consentscope.storage as storage
from consentscope.storage import SCHEMA_VERSION, schema
from consentscope.storage.rows import (
    Base,
    ContactRow,
    EventRow,
    FindingRow,
    RequestRow,
    SchemaInfo,
    SessionRow,
    ViolationRow,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def ddl(metadata: MetaData) -> str:
    """CREATE TABLE and CREATE INDEX of every table for both dialects, then each column's
    Python-side default, autoincrement and nullability (the text ``schema_v4.ddl`` holds)."""
    out = []
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        out.append(f"== {dialect.name}")
        for t in metadata.sorted_tables:
            out.append(str(CreateTable(t).compile(dialect=dialect)).strip())
            for i in sorted(t.indexes, key=lambda i: str(i.name)):
                out.append(str(CreateIndex(i).compile(dialect=dialect)).strip())
    out.append("== defaults")
    for t in metadata.sorted_tables:
        for c in t.columns:
            d = c.default
            arg = getattr(d, "arg", None)
            shown = None if d is None else getattr(arg, "__name__", None) if callable(arg) else repr(arg)
            out.append(f"{t.name} {c.name} {shown} {c.autoincrement} {c.nullable}")
    return "\n".join(line.rstrip() for line in "\n".join(out).splitlines())


def test_the_tables_are_schema_version_4_as_the_orm_declared_it() -> None:
    frozen = [line for line in (HERE / "schema_v4.ddl").read_text().splitlines() if not line.startswith("--")]
    assert SCHEMA_VERSION == 4
    assert ddl(schema.metadata).splitlines() == frozen


def test_the_orm_classes_map_the_core_tables() -> None:
    assert Base.metadata is schema.metadata
    pairs = [(SchemaInfo, schema.schema_table), (SessionRow, schema.session_table),
             (RequestRow, schema.request_table), (FindingRow, schema.finding_table), (EventRow, schema.event_table),
             (ContactRow, schema.contact_table), (ViolationRow, schema.violation_table)]
    assert {t.name for _, t in pairs} == set(schema.metadata.tables)
    for row, table in pairs:
        assert row.__table__ is table and row.__tablename__ == table.name
        assert list(row.__mapper__.columns.keys()) == list(table.c.keys())
        annotated = {k for cls in row.__mro__ for k in getattr(cls, "__annotations__", {})}
        assert annotated >= set(table.c.keys()), f"{row.__name__} lacks typed attributes"
    # the old names still come from the package, on first use
    assert storage.FindingRow is FindingRow and storage.Base is Base
    assert "load_session" in dir(storage) and callable(storage.load_session)


def test_a_replay_stores_its_session_without_the_orm(tmp_path: Path) -> None:
    """The whole replay, database write included, in a fresh interpreter: ``sqlalchemy.orm``
    is never imported (it took 0.09-0.18 s of a replay); the session is stored and reads back."""
    db = tmp_path / "r.db"
    code = (
        "import sys\n"
        "from consentscope.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print('orm' if 'sqlalchemy.orm' in sys.modules else 'core', status)\n"
    )
    args = ["replay", str(ROOT / "captures" / "demo_session.mitm"), "--profile", str(ROOT / "captures" / "demo_profile.toml"),
            "--consent-marker", "/v1/privacy/consent", "--db", f"sqlite:///{db}", "-q"]
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-2:] == ["core", "0"]
    engine = storage.open_engine(f"sqlite:///{db}")
    try:
        [row] = storage.list_sessions(engine)
        result, violations = storage.load_session(engine, row.id)
    finally:
        engine.dispose()
    assert result.findings and violations and row.judged is not None


def test_a_new_sqlite_file_holds_exactly_the_frozen_schema(tmp_path: Path) -> None:
    """What ``open_engine`` creates in one transaction is what SQLite keeps: the frozen CREATE
    statements, and the version row."""
    import sqlite3

    engine = storage.open_engine(f"sqlite:///{tmp_path / 'n.db'}")
    engine.dispose()
    frozen = (HERE / "schema_v4.ddl").read_text().split("== sqlite\n")[1].split("== postgresql")[0]
    with sqlite3.connect(tmp_path / "n.db") as con:
        made = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]
        version = con.execute("SELECT id, version FROM cs_schema").fetchall()
    def statements(text: str) -> list[str]:
        return sorted("CREATE " + part.strip() for part in text.split("CREATE ") if part.strip())

    assert statements("\n".join(line.rstrip() for line in "\n".join(made).splitlines())) == statements(frozen)
    assert len(made) == len(statements(frozen)) == 7 + 6  # tables, indexes
    assert version == [(1, SCHEMA_VERSION)]


def test_a_schema_that_cannot_be_made_whole_is_not_made_at_all(tmp_path: Path) -> None:
    """A file whose table takes the name of one of our indexes: creating the schema fails half
    way, and nothing of it is left (the tables made before the failure are rolled back)."""
    import sqlite3

    import pytest

    db = tmp_path / "clash.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE ix_cs_violations_rule (x)")
    with pytest.raises(storage.StorageError, match="ix_cs_violations_rule"):
        storage.open_engine(f"sqlite:///{db}")
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master ORDER BY name")]
    assert names == ["ix_cs_violations_rule"]
