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
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from consentscope.errors import ConsentscopeError
from consentscope.files import DEFAULT_DB_URL

#: Bumped on every schema change; one migration step per version in ``_MIGRATIONS``.
SCHEMA_VERSION = 4


class StorageError(ConsentscopeError):
    """The database cannot be opened, read or written (the message names the URL)."""


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    __tablename__ = "cs_schema"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class SessionRow(Base):
    __tablename__ = "cs_sessions"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    label: Mapped[str] = mapped_column(String(256), default="")
    sources: Mapped[list] = mapped_column(JSON, default=list)
    app_package: Mapped[str] = mapped_column(String(256), default="")
    app_name: Mapped[str] = mapped_column(String(256), default="")
    app_type: Mapped[str] = mapped_column(String(64), default="")
    location_precision_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: when the rules last judged the session (None: a live session not yet ended or reported)
    judged: Mapped[float | None] = mapped_column(Float, nullable=True)
    started: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    anomalies: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    #: how much of the traffic could be read (``reports.json_report.coverage_json``'s shape)
    coverage: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class _RequestColumns:
    """What a request and a finding both record about the request."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("cs_sessions.id"), index=True)
    flow_id: Mapped[str] = mapped_column(String(128))
    time: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(256))
    party: Mapped[str] = mapped_column(String(32))
    sdk: Mapped[str | None] = mapped_column(String(128), nullable=True)


class _DestinationColumns:
    """Who a finding or a contact went to, beyond ``party`` and ``sdk`` (``destination.py``)."""

    registrable_domain: Mapped[str] = mapped_column(String(256), default="")
    relation: Mapped[str] = mapped_column(String(32), default="")
    vendor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RequestRow(_RequestColumns, Base):
    __tablename__ = "cs_requests"


class FindingRow(_RequestColumns, _DestinationColumns, Base):
    __tablename__ = "cs_findings"
    data_type: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[list] = mapped_column(JSON)
    location: Mapped[str] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16), default="flow")
    confidence: Mapped[str] = mapped_column(String(16), default="profile")


class EventRow(Base):
    __tablename__ = "cs_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("cs_sessions.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="")


class ContactRow(_DestinationColumns, Base):
    """A connection or lookup from a packet capture (SNI, DNS, CONNECT): no content, a destination."""

    __tablename__ = "cs_contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("cs_sessions.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    host: Mapped[str] = mapped_column(String(256))
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(32))
    tls_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flow_id: Mapped[str] = mapped_column(String(128), default="")
    party: Mapped[str] = mapped_column(String(32))
    sdk: Mapped[str | None] = mapped_column(String(128), nullable=True)
    phase: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="flow")
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decrypted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ViolationRow(Base):
    """A rule broken in a session, as the last replay or report judged it (``suppressed``
    holds the project file's reason when it was accepted)."""

    __tablename__ = "cs_violations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("cs_sessions.id"), index=True)
    rule: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(32))
    check: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[str] = mapped_column(Text)
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    data_types: Mapped[list] = mapped_column(JSON, default=list)
    destinations: Mapped[list] = mapped_column(JSON, default=list)
    flows: Mapped[list] = mapped_column(JSON, default=list)
    events: Mapped[list] = mapped_column(JSON, default=list)
    observed: Mapped[dict] = mapped_column(JSON, default=dict)
    suppressed: Mapped[str] = mapped_column(Text, default="")


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


def _migrate(s: Session, info: SchemaInfo) -> None:
    """Each step adds the columns its version brought, to the tables that lack them (a table
    that is newer than the database was just made whole by ``create_all``)."""
    existing: dict[str, set[str]] = {}
    insp = inspect(s.connection())
    while info.version < SCHEMA_VERSION:
        for table, column, ddl in _MIGRATIONS[info.version]:
            if table not in existing:
                existing[table] = {c["name"] for c in insp.get_columns(table)}
            if column not in existing[table]:
                s.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
                existing[table].add(column)
        info.version += 1
    s.commit()


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
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            info = s.get(SchemaInfo, 1)
            if info is None:
                s.add(SchemaInfo(id=1, version=SCHEMA_VERSION))
                s.commit()
            elif info.version < SCHEMA_VERSION:
                _migrate(s, info)
            elif info.version > SCHEMA_VERSION:
                raise StorageError(
                    f"{url}: database schema version {info.version} is newer than this "
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
