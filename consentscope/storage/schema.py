"""The database schema: tables, ``SCHEMA_VERSION`` and one migration step per version
(SQLAlchemy 2). Sessions, requests, findings, contacts, timeline events and violations.

Any SQLAlchemy URL works; the default is a SQLite file next to the user. The file holds
personal data, so it is created owner-only (0600) before SQLite opens it.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from consentscope.errors import ConsentscopeError
from consentscope.files import DEFAULT_DB_URL

#: Bumped on every schema change; one migration step per version in ``_MIGRATIONS``.
SCHEMA_VERSION = 4


class StorageError(ConsentscopeError):
    """The database cannot be opened, read or written (the message names the URL)."""


#: The tables as SQLAlchemy Core objects. The write path needs no more (importing
#: ``sqlalchemy.orm`` cost a replay 0.09-0.18 s); the ORM classes of the read path (``rows``) are
#: mapped onto these same tables. Columns are listed in the order the ORM classes, with their
#: mixins, once declared them, so the tables are what they were (``tests/storage/test_schema.py``).
metadata = MetaData()


def _row_of_session() -> list[Column[Any]]:
    """The first columns of every table of a session's rows: its own id, and the session's."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("session_id", ForeignKey("cs_sessions.id"), index=True, nullable=False),
    ]


def _request_columns() -> list[Column[Any]]:
    """What a request and a finding both record about the request."""
    return [
        *_row_of_session(),
        Column("flow_id", String(128), nullable=False),
        Column("time", Float, nullable=False),
        Column("method", String(16), nullable=False),
        Column("url", Text, nullable=False),
        Column("host", String(256), nullable=False),
        Column("party", String(32), nullable=False),
        Column("sdk", String(128), nullable=True),
    ]


def _destination_columns() -> list[Column[Any]]:
    """Who a finding or a contact went to, beyond ``party`` and ``sdk`` (``destination.py``)."""
    return [
        Column("registrable_domain", String(256), default="", nullable=False),
        Column("relation", String(32), default="", nullable=False),
        Column("vendor", String(128), nullable=True),
        Column("category", String(64), nullable=True),
    ]


schema_table = Table(
    "cs_schema", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

session_table = Table(
    "cs_sessions", metadata,
    Column("id", String(128), primary_key=True),
    Column("label", String(256), default="", nullable=False),
    Column("sources", JSON, default=list, nullable=False),
    Column("app_package", String(256), default="", nullable=False),
    Column("app_name", String(256), default="", nullable=False),
    Column("app_type", String(64), default="", nullable=False),
    Column("location_precision_m", Float, nullable=True),
    #: when the rules last judged the session (None: a live session not yet ended or reported)
    Column("judged", Float, nullable=True),
    Column("started", Float, nullable=True),
    Column("ended", Float, nullable=True),
    Column("created", Float, nullable=False),
    Column("requests", Integer, default=0, nullable=False),
    Column("anomalies", JSON, default=dict, nullable=False),
    Column("errors", JSON, default=list, nullable=False),
    #: how much of the traffic could be read (``reports.json_report.coverage_json``'s shape)
    Column("coverage", JSON, nullable=True),
)

request_table = Table("cs_requests", metadata, *_request_columns())

finding_table = Table(
    "cs_findings", metadata,
    Column("data_type", String(64), nullable=False),
    Column("encoding", JSON, nullable=False),
    Column("location", Text, nullable=False),
    Column("phase", String(32), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("detail", Text, default="", nullable=False),
    Column("source", String(16), default="flow", nullable=False),
    Column("confidence", String(16), default="profile", nullable=False),
    *_request_columns(),
    *_destination_columns(),
)

event_table = Table(
    "cs_events", metadata,
    *_row_of_session(),
    Column("time", Float, nullable=False),
    Column("event", String(32), nullable=False),
    Column("detail", Text, default="", nullable=False),
    Column("source", String(32), default="", nullable=False),
)

#: A connection or lookup from a packet capture (SNI, DNS, CONNECT): no content, a destination.
contact_table = Table(
    "cs_contacts", metadata,
    *_row_of_session(),
    Column("time", Float, nullable=False),
    Column("host", String(256), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("port", Integer, nullable=True),
    Column("via", String(32), nullable=False),
    Column("tls_version", String(32), nullable=True),
    Column("flow_id", String(128), default="", nullable=False),
    Column("party", String(32), nullable=False),
    Column("sdk", String(128), nullable=True),
    Column("phase", String(32), nullable=False),
    Column("source", String(16), default="flow", nullable=False),
    Column("size", Integer, nullable=True),
    Column("decrypted", Boolean, nullable=True),
    Column("reason", String(32), nullable=True),
    *_destination_columns(),
)

#: A rule broken in a session, as the last replay or report judged it (``suppressed`` holds
#: the project file's reason when it was accepted).
violation_table = Table(
    "cs_violations", metadata,
    *_row_of_session(),
    Column("rule", String(32), index=True, nullable=False),
    Column("category", String(32), nullable=False),
    Column("check", String(64), default="", nullable=False),
    Column("severity", String(16), nullable=False),
    Column("confidence", String(16), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("explanation_zh", Text, default="", nullable=False),
    Column("data_types", JSON, default=list, nullable=False),
    Column("destinations", JSON, default=list, nullable=False),
    Column("flows", JSON, default=list, nullable=False),
    Column("events", JSON, default=list, nullable=False),
    Column("observed", JSON, default=dict, nullable=False),
    Column("suppressed", Text, default="", nullable=False),
)


#: Schema steps from version N to N+1 (tables that are new in a version are made by
#: ``create_all``; these add what it cannot: columns of existing tables).
_MIGRATIONS: dict[int, tuple[tuple[str, str, str], ...]] = {
    1: (
        ("cs_sessions", "app_name", "VARCHAR(256) DEFAULT ''"),
        ("cs_sessions", "app_type", "VARCHAR(64) DEFAULT ''"),
        ("cs_sessions", "location_precision_m", "FLOAT"),
        ("cs_sessions", "judged", "FLOAT"),
    ),
    2: (
        ("cs_sessions", "coverage", "JSON"),
        ("cs_findings", "source", "VARCHAR(16) DEFAULT 'flow'"),
        ("cs_contacts", "source", "VARCHAR(16) DEFAULT 'flow'"),
        ("cs_contacts", "size", "INTEGER"),
        ("cs_contacts", "decrypted", "BOOLEAN"),
        ("cs_contacts", "reason", "VARCHAR(32)"),
    ),
    3: (("cs_findings", "confidence", "VARCHAR(16) DEFAULT 'profile'"),),
}


def _migrate(conn: Connection, version: int) -> None:
    """Each step adds the columns its version brought, to the tables that lack them (a table
    that is newer than the database was just made whole by ``create_all``)."""
    existing: dict[str, set[str]] = {}
    insp = inspect(conn)
    while version < SCHEMA_VERSION:
        for table, column, ddl in _MIGRATIONS[version]:
            if table not in existing:
                existing[table] = {c["name"] for c in insp.get_columns(table)}
            if column not in existing[table]:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
                existing[table].add(column)
        version += 1
    conn.execute(update(schema_table).where(schema_table.c.id == 1).values(version=version))


def _sqlite_path(url: str) -> str | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return db


#: Paths already warned about (they could not be tightened): said once per process.
_warned_loose: set[str] = set()


def create_owner_only(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; an existing file that group or
    others may read (a database someone created 0644) is tightened to 0600 when it is ours,
    and stderr says so in one line; when it is not ours, or chmod fails, one line warns."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        return
    except FileExistsError:
        pass
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
        return
    try:
        if st.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "owned by another user")
        os.chmod(path, 0o600)
    except OSError as e:
        if path not in _warned_loose:
            _warned_loose.add(path)
            print(f"consentscope: warning: {path} is mode {stat.S_IMODE(st.st_mode):04o} (others may read it) "
                  f"and could not be tightened: {e.strerror or e}", file=sys.stderr)
        return
    print(f"consentscope: tightened permissions of {path} to 0600", file=sys.stderr)


def open_engine(url: str = DEFAULT_DB_URL, *, fresh_connections: bool = False) -> Engine:
    """Engine with the schema created and its version checked.

    ``fresh_connections`` opens a new connection per transaction (the live writer uses it
    so a database that went away and came back is noticed, not written through a stale
    file handle)."""
    try:
        path = _sqlite_path(url)
        if path is not None:
            create_owner_only(path)
        kw = {"poolclass": NullPool} if fresh_connections else {}
        engine = create_engine(url, future=True, **kw)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                # pysqlite runs DDL outside any transaction: each CREATE of a new file's schema
                # was a commit of its own, with its fsyncs (0.25 s; 0.03 s in one transaction,
                # and a crash leaves no half-made schema or half-done migration).
                conn.exec_driver_sql("BEGIN")
            metadata.create_all(conn)
            version = conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
            if version is None:
                conn.execute(insert(schema_table).values(id=1, version=SCHEMA_VERSION))
            elif version < SCHEMA_VERSION:
                _migrate(conn, version)
            elif version > SCHEMA_VERSION:
                raise StorageError(
                    f"{url}: database schema version {version} is newer than this "
                    f"consentscope ({SCHEMA_VERSION}); upgrade consentscope"
                )
        return engine
    except SQLAlchemyError as e:
        raise StorageError(f"{url}: {e.__class__.__name__}: {e.args[0] if e.args else e}") from None
    except OSError as e:
        raise StorageError(f"{url}: {e.strerror or e}") from None
    except ImportError as e:  # create_engine imports the driver the URL names
        hint = " (install consentscope[postgres])" if url.startswith("postgresql") else ""
        raise StorageError(f"{url}: database driver {e.name or e} is not installed{hint}") from None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
