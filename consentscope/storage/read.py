"""Reading sessions back: the session list, counts, new marks, and one session whole.

Rows come back as the model's types exactly as stored; placing findings on the timeline and
turning violation rows into rule objects is ``consentscope.session.load``'s business.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from consentscope.destination import Destination
from consentscope.detectors import Finding
from consentscope.model import (
    AuditContact,
    AuditFinding,
    Contact,
    Coverage,
    DestinationCoverage,
    SessionResult,
    TimelineEvent,
    UnscannedPart,
)

from .rows import ContactRow, EventRow, FindingRow, SessionRow, ViolationRow
from .schema import StorageError, _sqlite_path


def events_since(engine: Engine, session_id: str, after_id: int) -> list[tuple[int, float, str, str, str]]:
    """Timeline events added (e.g. by `consentscope mark`) after row id ``after_id``."""
    with Session(engine) as s:
        q = (select(EventRow.id, EventRow.time, EventRow.event, EventRow.detail, EventRow.source)
             .where(EventRow.session_id == session_id, EventRow.id > after_id).order_by(EventRow.id))
        return [(r[0], r[1], r[2], r[3], r[4]) for r in s.execute(q)]


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


def _finding(f: FindingRow) -> Finding:
    """A finding row as the detectors' ``Finding``, which (compiled) refuses a field of another
    type: SQLite stores any value in any column, and a database may come from elsewhere."""
    try:
        return Finding(f.data_type, tuple(f.encoding), f.location, f.evidence, f.detail,
                       confidence=f.confidence or "profile")
    except (TypeError, ValueError) as e:
        raise StorageError(f"session {f.session_id!r}, finding row {f.id}: {e}") from None


def load_session(engine: Engine, session_id: str) -> tuple[SessionResult, list[dict[str, Any]]]:
    """A stored session as a ``SessionResult`` (findings and contacts with their stored
    phases) and its stored violations as column dicts."""
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
                session=f.session_id, flow_id=f.flow_id, time=f.time, method=f.method, url=f.url, host=f.host,
                destination=_destination(f),
                finding=_finding(f),
                phase=f.phase,
                source=f.source or "flow",
            )
            for f in s.scalars(select(FindingRow).where(FindingRow.session_id == session_id))
        ]
        contacts = [
            AuditContact(
                session=c.session_id,
                contact=Contact(c.time, c.host, c.ip, c.port, c.via, c.tls_version, c.flow_id, c.size,
                                c.decrypted, c.reason),
                destination=_destination(c),
                phase=c.phase,
                source=c.source or "flow",
            )
            for c in s.scalars(select(ContactRow).where(ContactRow.session_id == session_id))
        ]
        violations = [
            dict(rule=v.rule, severity=v.severity, confidence=v.confidence, explanation=v.explanation,
                 explanation_zh=v.explanation_zh, check=v.check, flows=list(v.flows), events=list(v.events),
                 data_types=list(v.data_types), destinations=list(v.destinations), observed=dict(v.observed),
                 suppressed=v.suppressed)
            for v in s.scalars(select(ViolationRow).where(ViolationRow.session_id == session_id)
                               .order_by(ViolationRow.id))
        ]
        result = SessionResult(
            id=row.id, label=row.label, sources=tuple(row.sources), app_package=row.app_package,
            findings=findings, events=events, requests=row.requests, contacts=contacts,
            anomalies=Counter(row.anomalies), errors=list(row.errors), started=row.started,
            ended=row.ended, app_name=row.app_name or "", app_type=row.app_type or "",
            location_precision_m=row.location_precision_m, coverage=coverage_from_json(row.coverage),
        )
        return result, violations


def coverage_from_json(doc: dict[str, Any] | None) -> Coverage:
    """A stored coverage document back as ``Coverage`` (an older session has none: empty)."""
    c = Coverage()
    if not doc:
        return c
    for name in ("requests", "readable", "opaque", "truncated", "empty", "unread_connections"):
        setattr(c, name, int(doc.get(name) or 0))
    for d in doc.get("destinations") or ():
        row = DestinationCoverage(str(d.get("host", "")), d.get("sdk"), d.get("vendor"), str(d.get("party") or ""))
        for name in ("requests", "readable", "opaque", "truncated", "empty", "unread_connections"):
            setattr(row, name, int(d.get(name) or 0))
        c.destinations[row.host] = row
    c.unscanned_requests = int(doc.get("unscanned_requests") or 0)  # JSON format 8 on
    c.unscanned = [UnscannedPart(str(u.get("flow_id", "")), str(u.get("url", "")), str(u.get("part", "")))
                   for u in doc.get("unscanned") or ()]
    c.skipped = {str(k): int(v) for k, v in (doc.get("skipped") or {}).items()}
    return c


def _destination(row: FindingRow | ContactRow) -> Destination:
    return Destination(
        host=row.host, registrable_domain=row.registrable_domain, party=row.party, relation=row.relation or None,
        sdk=row.sdk, vendor=row.vendor, group=None, category=row.category, country=None,
    )


def spill_path_for(url: str) -> str:
    """Where the live writer spills batches it could not store: beside a SQLite file,
    else in the working directory."""
    path = _sqlite_path(url)
    return f"{path}.spill.jsonl" if path else os.path.abspath("consentscope-spill.jsonl")


def read_spill(path: str) -> list[dict[str, Any]]:
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
