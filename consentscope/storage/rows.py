"""The ORM classes of the read path, mapped onto the Core tables of ``schema``.

Only reading (``read``) and callers that want row objects import this module: it brings in
``sqlalchemy.orm`` (0.09-0.18 s), which the write path of a replay does without.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase, Mapped

from .schema import (
    contact_table,
    event_table,
    finding_table,
    metadata,
    request_table,
    schema_table,
    session_table,
    violation_table,
)


class Base(DeclarativeBase):
    metadata = metadata


class SchemaInfo(Base):
    __table__ = schema_table
    __tablename__ = schema_table.name
    id: Mapped[int]
    version: Mapped[int]


class SessionRow(Base):
    __table__ = session_table
    __tablename__ = session_table.name
    id: Mapped[str]
    label: Mapped[str]
    sources: Mapped[list]
    app_package: Mapped[str]
    app_name: Mapped[str]
    app_type: Mapped[str]
    location_precision_m: Mapped[float | None]
    judged: Mapped[float | None]
    started: Mapped[float | None]
    ended: Mapped[float | None]
    created: Mapped[float]
    requests: Mapped[int]
    anomalies: Mapped[dict]
    errors: Mapped[list]
    coverage: Mapped[dict | None]


class _RowOfSession:  # ``schema._row_of_session``'s columns
    id: Mapped[int]
    session_id: Mapped[str]


class _RequestColumns(_RowOfSession):
    flow_id: Mapped[str]
    time: Mapped[float]
    method: Mapped[str]
    url: Mapped[str]
    host: Mapped[str]
    party: Mapped[str]
    sdk: Mapped[str | None]


class _DestinationColumns:
    registrable_domain: Mapped[str]
    relation: Mapped[str]
    vendor: Mapped[str | None]
    category: Mapped[str | None]


class RequestRow(_RequestColumns, Base):
    __table__ = request_table
    __tablename__ = request_table.name


class FindingRow(_RequestColumns, _DestinationColumns, Base):
    __table__ = finding_table
    __tablename__ = finding_table.name
    data_type: Mapped[str]
    encoding: Mapped[list]
    location: Mapped[str]
    phase: Mapped[str]
    evidence: Mapped[str]
    detail: Mapped[str]
    source: Mapped[str]
    confidence: Mapped[str]


class EventRow(_RowOfSession, Base):
    __table__ = event_table
    __tablename__ = event_table.name
    time: Mapped[float]
    event: Mapped[str]
    detail: Mapped[str]
    source: Mapped[str]


class ContactRow(_RowOfSession, _DestinationColumns, Base):
    __table__ = contact_table
    __tablename__ = contact_table.name
    time: Mapped[float]
    host: Mapped[str]
    ip: Mapped[str | None]
    port: Mapped[int | None]
    via: Mapped[str]
    tls_version: Mapped[str | None]
    flow_id: Mapped[str]
    party: Mapped[str]
    sdk: Mapped[str | None]
    phase: Mapped[str]
    source: Mapped[str]
    size: Mapped[int | None]
    decrypted: Mapped[bool | None]
    reason: Mapped[str | None]


class ViolationRow(_RowOfSession, Base):
    __table__ = violation_table
    __tablename__ = violation_table.name
    rule: Mapped[str]
    category: Mapped[str]
    check: Mapped[str]
    severity: Mapped[str]
    confidence: Mapped[str]
    explanation: Mapped[str]
    explanation_zh: Mapped[str]
    data_types: Mapped[list]
    destinations: Mapped[list]
    flows: Mapped[list]
    events: Mapped[list]
    observed: Mapped[dict]
    suppressed: Mapped[str]
