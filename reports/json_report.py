"""The JSON document: the contract other tools rely on.

Top level ``{"version", "sessions", "findings", "contacts", "timeline", "violations",
"suppressed"}``; every finding has exactly the keys listed in the README. ``timeline`` is every
session's events (``session``, ``time``, ``event``, ``detail``, ``source``); ``violations`` the
rules broken (``rule``, ``severity``, ``confidence``, ``explanation``, ``evidence`` with the
``flows`` and event times that prove it, and more: ``Violation.to_json``); ``suppressed`` the
violations a project file accepted, each with its ``reason``. ``version`` is bumped whenever a
key changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from consentscope import JSON_FORMAT_VERSION
from consentscope.pipeline import AuditContact, AuditFinding, SessionResult, iso_time
from consentscope.reports.redact import redact


def build_document(sessions: Sequence[SessionResult], *, redacted: bool = False) -> dict:
    findings: list[AuditFinding] = [f for s in sessions for f in s.findings]
    findings.sort(key=AuditFinding.sort_key)
    contacts: list[AuditContact] = [c for s in sessions for c in s.contacts]
    contacts.sort(key=AuditContact.sort_key)

    def detail(text: str) -> str:
        return (redact(text) or "") if redacted else text

    timeline = [
        {"session": s.id, "time": iso_time(e.time), "event": e.event, "detail": detail(e.detail), "source": e.source}
        for s in sessions
        for e in s.events
    ]
    timeline.sort(key=lambda e: (e["time"], e["session"], e["event"]))
    summaries = [s.summary() for s in sessions]
    if redacted:
        for summary in summaries:
            summary["events"] = [{**e, "detail": detail(e["detail"])} for e in summary["events"]]
    violations = [v for s in sessions for v in s.violations]
    return {
        "version": JSON_FORMAT_VERSION,
        "sessions": summaries,
        "findings": [_redacted(f.to_json()) if redacted else f.to_json() for f in findings],
        "contacts": [c.to_json() for c in contacts],
        "timeline": timeline,
        "violations": [v.to_json() for v in violations if not v.suppressed],
        "suppressed": [v.to_json() for v in violations if v.suppressed],
    }


def _redacted(finding: dict) -> dict:
    return {**finding, "url": redact(finding["url"]), "evidence": redact(finding["evidence"])}


def render_json(sessions: Sequence[SessionResult], *, redacted: bool = False) -> str:
    return json.dumps(build_document(sessions, redacted=redacted), ensure_ascii=False, indent=2) + "\n"
