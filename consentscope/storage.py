"""The database sink: sessions, requests, findings, contacts, timeline events and
violations (SQLAlchemy 2).

Any SQLAlchemy URL works; the default is a SQLite file next to the user. The file holds
personal data, so it is created owner-only (0600) before SQLite opens it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

#: Bumped on every schema change; one migration step per version in ``_MIGRATIONS``.
SCHEMA_VERSION = 2
DEFAULT_DB_URL = "sqlite:///consentscope.db"


class StorageError(Exception):
    pass


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
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE cs_sessions ADD COLUMN app_name VARCHAR(256) DEFAULT ''",
        "ALTER TABLE cs_sessions ADD COLUMN app_type VARCHAR(64) DEFAULT ''",
        "ALTER TABLE cs_sessions ADD COLUMN location_precision_m FLOAT",
        "ALTER TABLE cs_sessions ADD COLUMN judged FLOAT",
    ),
}


def _migrate(s: Session, info: SchemaInfo) -> None:
    while info.version < SCHEMA_VERSION:
        for statement in _MIGRATIONS[info.version]:
            s.execute(text(statement))
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


def create_owner_only(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then tighten it if ours)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass


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


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def save_session(engine: Engine, result, records: Iterable = ()) -> None:  # type: ignore[no-untyped-def]
    """Write one ``SessionResult`` (replacing a session of the same id)."""
    try:
        with Session(engine) as s, s.begin():
            for table in (FindingRow, EventRow, RequestRow, ContactRow, ViolationRow):
                s.query(table).filter(table.session_id == result.id).delete()
            s.query(SessionRow).filter(SessionRow.id == result.id).delete()
            s.add(
                SessionRow(
                    id=result.id,
                    label=result.label,
                    sources=list(result.sources),
                    app_package=result.app_package,
                    app_name=result.app_name,
                    app_type=result.app_type,
                    location_precision_m=result.location_precision_m,
                    judged=datetime.now(UTC).timestamp(),
                    started=result.started,
                    ended=result.ended,
                    created=datetime.now(UTC).timestamp(),
                    requests=result.requests,
                    anomalies=dict(result.anomalies),
                    errors=list(result.errors),
                )
            )
            s.flush()
            s.add_all(
                RequestRow(
                    session_id=result.id, flow_id=r.flow_id, time=r.time, method=r.method,
                    url=r.url, host=r.host, party=d.party, sdk=d.sdk,
                )
                for r, d in records
            )
            s.add_all(
                EventRow(session_id=result.id, time=e.time, event=e.event, detail=e.detail, source=e.source)
                for e in result.events
            )
            s.add_all(finding_row(f) for f in result.findings)
            s.add_all(_contact_row(c) for c in result.contacts)
            s.add_all(_violation_row(result.id, v) for v in result.violations)
    except SQLAlchemyError as e:
        raise StorageError(f"cannot write session {result.id}: {e.__class__.__name__}: {e}") from None


def save_violations(engine: Engine, session_id: str, violations: Iterable) -> None:  # type: ignore[type-arg]
    """Replace a stored session's violations (a report judged it again, or a live session ended)."""
    try:
        with Session(engine) as s, s.begin():
            row = s.get(SessionRow, session_id)
            if row is None:
                raise StorageError(f"no session {session_id!r}")
            s.query(ViolationRow).filter(ViolationRow.session_id == session_id).delete()
            s.add_all(_violation_row(session_id, v) for v in violations)
            row.judged = datetime.now(UTC).timestamp()
    except SQLAlchemyError as e:
        raise StorageError(f"cannot store the violations of {session_id}: {e.__class__.__name__}: {e}") from None


def _contact_row(c) -> ContactRow:  # type: ignore[no-untyped-def]
    x, d = c.contact, c.destination
    return ContactRow(
        session_id=c.session, time=x.time, host=x.host, ip=x.ip, port=x.port, via=x.via,
        tls_version=x.tls_version, flow_id=x.flow_id, registrable_domain=d.registrable_domain or "",
        party=d.party, relation=d.relation or "", sdk=d.sdk, vendor=d.vendor, category=d.category, phase=c.phase,
    )


def _violation_row(session_id: str, v) -> ViolationRow:  # type: ignore[no-untyped-def]
    return ViolationRow(
        session_id=session_id, rule=v.rule, category=v.category, check=v.check, severity=v.severity,
        confidence=v.confidence, explanation=v.explanation, explanation_zh=v.explanation_zh,
        data_types=list(v.data_types), destinations=list(v.destinations), flows=list(v.flows),
        events=list(v.events), observed=dict(v.observed), suppressed=v.suppressed,
    )


def finding_columns(f) -> dict:  # type: ignore[no-untyped-def]
    """An AuditFinding as plain column values (also the spill-file line format)."""
    d, x = f.destination, f.finding
    return dict(
        session_id=f.session, flow_id=f.flow_id, time=f.time, method=f.method, url=f.url,
        host=f.host, registrable_domain=d.registrable_domain or "", party=d.party,
        relation=d.relation or "", sdk=d.sdk, vendor=d.vendor, category=d.category,
        data_type=x.data_type, encoding=list(x.encoding), location=x.location, phase=f.phase,
        evidence=x.evidence, detail=x.detail,
    )


def finding_row(f) -> FindingRow:  # type: ignore[no-untyped-def]
    return FindingRow(**finding_columns(f))


def app_columns(profile) -> dict:  # type: ignore[no-untyped-def]
    """What the rules need of a profile, as session columns (see ``consentscope.judging``)."""
    return dict(app_name=profile.app.name, app_type=profile.app.app_type,
                location_precision_m=profile.location.precision_m if profile.location else None)


def ensure_session(engine: Engine, session_id: str, label: str = "", app_package: str = "",
                   sources: Sequence[str] = (), app: dict | None = None) -> None:  # type: ignore[type-arg]
    """Create a live session row if it does not exist yet. ``app``: ``app_name``,
    ``app_type``, ``location_precision_m`` (what the rules need of the profile)."""
    with Session(engine) as s, s.begin():
        if s.get(SessionRow, session_id) is None:
            now = datetime.now(UTC).timestamp()
            s.add(SessionRow(id=session_id, label=label or session_id, sources=list(sources),
                             app_package=app_package, started=None, ended=None, created=now,
                             requests=0, anomalies={}, errors=[], **(app or {})))


def write_batch(engine: Engine, session_id: str, findings: Sequence[dict] = (), events: Sequence[dict] = (),
                requests: int = 0, span: tuple[float, float] | None = None,
                anomalies: dict[str, int] | None = None) -> None:  # type: ignore[type-arg]
    """Append live results in one transaction: all of the batch or none of it."""
    with Session(engine) as s, s.begin():
        row = s.get(SessionRow, session_id)
        if row is None:
            raise StorageError(f"no session {session_id!r}")
        s.add_all(FindingRow(**cols) for cols in findings)
        s.add_all(EventRow(session_id=session_id, **cols) for cols in events)
        row.requests = (row.requests or 0) + requests
        if span is not None:
            row.started = span[0] if row.started is None else min(row.started, span[0])
            row.ended = span[1] if row.ended is None else max(row.ended, span[1])
        if anomalies:
            merged = dict(row.anomalies or {})
            for k, v in anomalies.items():
                merged[k] = merged.get(k, 0) + v
            row.anomalies = merged


def events_since(engine: Engine, session_id: str, after_id: int) -> list[tuple[int, float, str, str, str]]:
    """Timeline events added (e.g. by `consentscope mark`) after row id ``after_id``."""
    with Session(engine) as s:
        q = (select(EventRow.id, EventRow.time, EventRow.event, EventRow.detail, EventRow.source)
             .where(EventRow.session_id == session_id, EventRow.id > after_id).order_by(EventRow.id))
        return [tuple(r) for r in s.execute(q)]  # type: ignore[misc]


def add_event(engine: Engine, session_id: str, time: float, event_name: str, detail: str = "",
              source: str = "cli") -> int:
    with Session(engine) as s, s.begin():
        row = EventRow(session_id=session_id, time=time, event=event_name, detail=detail, source=source)
        s.add(row)
        s.flush()
        return row.id


def list_sessions(engine: Engine) -> Sequence[SessionRow]:
    with Session(engine) as s:
        rows = s.scalars(select(SessionRow).order_by(SessionRow.created, SessionRow.id)).all()
        s.expunge_all()
        return rows


def finding_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        q = select(FindingRow.session_id, func.count()).group_by(FindingRow.session_id)
        return {sid: n for sid, n in s.execute(q)}


def violation_counts(engine: Engine) -> dict[str, int]:
    """Violations per session, not counting those a project file accepted."""
    with Session(engine) as s:
        q = (select(ViolationRow.session_id, func.count())
             .where(ViolationRow.suppressed == "").group_by(ViolationRow.session_id))
        return {sid: n for sid, n in s.execute(q)}


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def load_session(engine: Engine, session_id: str):  # type: ignore[no-untyped-def]
    """A stored session as a ``SessionResult``, for reports identical to a replay's."""
    from collections import Counter

    from consentscope.consent import TimelineEvent
    from consentscope.detectors import Finding
    from consentscope.pipeline import AuditContact, AuditFinding, SessionResult
    from consentscope.readers import Contact
    from consentscope.rules import RULES_INFO, Violation

    with Session(engine) as s:
        row = s.get(SessionRow, session_id)
        if row is None:
            raise StorageError(f"no session {session_id!r}")
        events = tuple(
            TimelineEvent(e.time, e.event, e.detail, e.source)
            for e in s.scalars(
                select(EventRow).where(EventRow.session_id == session_id).order_by(EventRow.time, EventRow.id)
            )
        )
        findings = [
            AuditFinding(
                session=f.session_id, flow_id=f.flow_id, time=f.time, method=f.method, url=f.url,
                host=f.host,
                destination=_destination(f),
                finding=Finding(f.data_type, tuple(f.encoding), f.location, f.evidence, f.detail),
                phase=f.phase,
            )
            for f in s.scalars(select(FindingRow).where(FindingRow.session_id == session_id))
        ]
        contacts = [
            AuditContact(
                session=c.session_id,
                contact=Contact(c.time, c.host, c.ip, c.port, c.via, c.tls_version, c.flow_id),
                destination=_destination(c),
                phase=c.phase,
            )
            for c in s.scalars(select(ContactRow).where(ContactRow.session_id == session_id))
        ]
        violations = [
            Violation(
                rule=v.rule, severity=v.severity, confidence=v.confidence, explanation=v.explanation,
                flows=tuple(v.flows), events=tuple(v.events), session=v.session_id,
                data_types=tuple(v.data_types), explanation_zh=v.explanation_zh, check=v.check,
                destinations=tuple(v.destinations), observed=tuple(sorted(v.observed.items())),
                suppressed=v.suppressed,
            )
            for v in s.scalars(select(ViolationRow).where(ViolationRow.session_id == session_id)
                               .order_by(ViolationRow.id))
            if v.rule in RULES_INFO  # a rule a newer consentscope knows is left out, not a crash
        ]
        # Phases follow the complete timeline: an event marked from the laptop a moment
        # after a request still decides that request's phase in the report.
        from consentscope.consent import ConsentTimeline

        timeline = ConsentTimeline(events)
        findings = [replace(f, phase=timeline.phase_at(f.time)) for f in findings]
        findings.sort(key=AuditFinding.sort_key)
        contacts = [replace(c, phase=timeline.phase_at(c.contact.time)) for c in contacts]
        contacts.sort(key=AuditContact.sort_key)
        return SessionResult(
            id=row.id, label=row.label, sources=tuple(row.sources), app_package=row.app_package,
            findings=findings, events=events, requests=row.requests, contacts=contacts,
            anomalies=Counter(row.anomalies), errors=list(row.errors), started=row.started,
            ended=row.ended, violations=violations, app_name=row.app_name or "",
            app_type=row.app_type or "", location_precision_m=row.location_precision_m,
        )


def _destination(row: FindingRow | ContactRow):  # type: ignore[no-untyped-def]
    from consentscope.destination import Destination

    return Destination(
        host=row.host, registrable_domain=row.registrable_domain, party=row.party, relation=row.relation or None,
        sdk=row.sdk, vendor=row.vendor, group=None, category=row.category, country=None,
    )


def spill_path_for(url: str) -> str:
    """Where the live writer spills batches it could not store: beside a SQLite file,
    else in the working directory."""
    path = _sqlite_path(url)
    return f"{path}.spill.jsonl" if path else os.path.abspath("consentscope-spill.jsonl")


def read_spill(path: str) -> list[dict]:
    """Batches spilled by the live writer (one JSON object per line; a torn last line is
    skipped: it was never acknowledged)."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return out
