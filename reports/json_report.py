"""The JSON document: the contract other tools rely on. Its shape lives here and only here.

Top level ``{"version", "sessions", "findings", "contacts", "timeline", "violations",
"suppressed", "verdicts", "coverage"}``; every finding has exactly the keys listed in the
README. ``verdicts``: one per MIIT category (``status`` violation / not-seen / cannot-tell /
checklist, with the ``reason``); ``coverage``: how much of the traffic could be read. ``timeline`` is every
session's events (``session``, ``time``, ``event``, ``detail``, ``source``); ``violations`` the
rules broken (``rule``, ``severity``, ``confidence``, ``explanation``, ``evidence`` with the
``flows`` and event times that prove it, and more: ``violation_json``); ``suppressed`` the
violations a project file accepted, each with its ``reason``. ``version`` is bumped whenever a
key changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from json.encoder import encode_basestring as _encode_str  # the C encoder json uses with ensure_ascii=False
from typing import TYPE_CHECKING, Any

from consentscope import JSON_FORMAT_VERSION
from consentscope.model import AuditContact, AuditFinding, Coverage, Judgement, SessionResult, iso_time
from consentscope.reports.redact import redact

if TYPE_CHECKING:
    from consentscope.rules import Verdict, Violation

_INF = float("inf")


def finding_json(f: AuditFinding) -> dict[str, Any]:
    d, x = f.destination, f.finding
    return {
        "session": f.session,
        "flow_id": f.flow_id,
        "time": iso_time(f.time),
        "method": f.method,
        "url": f.url,
        "host": f.host,
        **d.to_json(),
        "data_type": x.data_type,
        "encoding": list(x.encoding),
        "location": x.location,
        "phase": f.phase,
        "evidence": x.evidence,
        "source": f.source,
        "confidence": x.confidence,
    }


def contact_json(c: AuditContact) -> dict[str, Any]:
    x, d = c.contact, c.destination
    return {
        "session": c.session,
        "time": iso_time(x.time),
        "host": x.host,
        "ip": x.ip,
        "port": x.port,
        "via": x.via,
        "tls_version": x.tls_version,
        **d.to_json(),
        "phase": c.phase,
        "source": c.source,
        "bytes": x.size,
        "decrypted": x.decrypted,
        "reason": x.reason,
    }


def session_json(s: SessionResult) -> dict[str, Any]:
    return {
        "id": s.id,
        "label": s.label,
        "sources": list(s.sources),
        "app": s.app_package or None,
        "app_type": s.app_type or None,
        "started": iso_time(s.started) if s.started is not None else None,
        "ended": iso_time(s.ended) if s.ended is not None else None,
        "requests": s.requests,
        "findings": len(s.findings),
        "contacts": len(s.contacts),
        "events": [
            {"time": iso_time(e.time), "event": e.event, "detail": e.detail, "source": e.source} for e in s.events
        ],
        "anomalies": dict(sorted(s.anomalies.items())),
        "errors": list(s.errors),
        "coverage": coverage_json(s.coverage),
    }


def violation_json(v: Violation) -> dict[str, Any]:
    d: dict[str, Any] = {
        "session": v.session,
        "rule": v.rule,
        "category": v.category,
        "check": v.check,
        "severity": v.severity,
        "confidence": v.confidence,
        "explanation": v.explanation,
        "explanation_zh": v.explanation_zh,
        "data_types": list(v.data_types),
        "destinations": list(v.destinations),
        "evidence": {"flows": list(v.flows), "events": list(v.events), "observed": dict(v.observed)},
    }
    if v.suppressed:
        d["reason"] = v.suppressed
    return d


def coverage_json(c: Coverage) -> dict[str, Any]:
    return {
        "requests": c.requests,
        "readable": c.readable,
        "opaque": c.opaque,
        "truncated": c.truncated,
        "empty": c.empty,
        "unread_connections": c.unread_connections,
        "destinations": [
            {"host": d.host, "sdk": d.sdk, "vendor": d.vendor, "party": d.party, "requests": d.requests,
             "readable": d.readable, "opaque": d.opaque, "truncated": d.truncated, "empty": d.empty,
             "unread_connections": d.unread_connections}
            for d in sorted(c.destinations.values(), key=lambda d: d.host)
        ],
        "unscanned_requests": c.unscanned_requests,
        "unscanned": [{"flow_id": u.flow_id, "url": u.url, "part": u.part}
                      for u in sorted(c.unscanned, key=lambda u: (u.flow_id, u.url))],
        "skipped": dict(sorted(c.skipped.items())),
    }


def verdict_json(v: Verdict) -> dict[str, Any]:
    from consentscope.rules import JSON_STATUS

    return {"category": v.category.id, "status": JSON_STATUS[v.status], "detail": v.status,
            "reason": v.note_en, "reason_zh": v.note_zh, "rules": list(v.rules)}


def build_document(judgement: Judgement, *, redacted: bool = False) -> dict[str, Any]:
    sessions = judgement.sessions
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
    summaries = [session_json(s) for s in sessions]
    coverage = Coverage()
    for s in sessions:
        coverage.merge(s.coverage)
    if redacted:
        for summary in summaries:
            summary["events"] = [{**e, "detail": detail(e["detail"])} for e in summary["events"]]
    violations = [v for s in sessions for v in s.violations]
    return {
        "version": JSON_FORMAT_VERSION,
        "sessions": summaries,
        "findings": [_redacted(finding_json(f)) if redacted else finding_json(f) for f in findings],
        "contacts": [contact_json(c) for c in contacts],
        "timeline": timeline,
        "violations": [violation_json(v) for v in violations if not v.suppressed],
        "suppressed": [violation_json(v) for v in violations if v.suppressed],
        "verdicts": [verdict_json(v) for v in judgement.verdicts],
        "coverage": coverage_json(coverage),
    }


def _redacted(finding: dict[str, Any]) -> dict[str, Any]:
    return {**finding, "url": redact(finding["url"]), "evidence": redact(finding["evidence"])}


def render_json(judgement: Judgement, *, redacted: bool = False) -> str:
    return "".join(iter_json(judgement, redacted=redacted))


#: Findings (or contacts) rendered per piece ``iter_json`` yields.
_CHUNK = 2000


def iter_json(judgement: Judgement, *, redacted: bool = False) -> Iterator[str]:
    """The document in pieces, to write as they come: exactly the text of
    ``json.dumps(build_document(judgement), ensure_ascii=False, indent=2) + "\n"``, without
    holding a dict per finding (300,000 findings took 1.5 GB that way) and without the pure
    Python encoder ``json`` falls back to whenever ``indent`` is set (a tenth of a replay)."""
    sessions = judgement.sessions

    def rows(items: list[Any], encode: Callable[[Any], str]) -> Iterator[str]:
        """A top-level key's array, each item as ``encode`` writes it at nesting level 2."""
        if not items:
            yield "[]"
            return
        inner = ",\n    "
        for i in range(0, len(items), _CHUNK):
            yield ("[\n    " if i == 0 else inner) + inner.join(map(encode, items[i:i + _CHUNK]))
        yield "\n  ]"

    findings: list[AuditFinding] = [f for s in sessions for f in s.findings]
    findings.sort(key=AuditFinding.sort_key)
    contacts: list[AuditContact] = [c for s in sessions for c in s.contacts]
    contacts.sort(key=AuditContact.sort_key)
    shell = build_document(Judgement(tuple(replace(s, findings=[], contacts=[]) for s in sessions),
                                     judgement.verdicts), redacted=redacted)
    # the summaries count what was emptied for the shell
    shell["sessions"] = [{**summary, "findings": len(s.findings), "contacts": len(s.contacts)}
                         for summary, s in zip(shell["sessions"], sessions, strict=True)]
    first = True
    for key, value in shell.items():
        yield ("{\n  " if first else ",\n  ") + _encode_str(key) + ": "
        first = False
        if key == "findings":
            yield from rows(findings, (lambda f: _dumps(_redacted(finding_json(f)), 2)) if redacted
                            else _finding_encoder())
        elif key == "contacts":
            yield from rows(contacts, lambda c: _dumps(contact_json(c), 2))
        else:
            yield _dumps(value, 1)
    yield "\n}\n"


#: a finding's keys after the request's and destination's, in ``finding_json``'s order
_TAIL_KEYS = ("data_type", "encoding", "location", "phase", "evidence", "source", "confidence")
_FIELD = ",\n      "


def _finding_encoder() -> Callable[[AuditFinding], str]:
    """A finding as ``_dumps(finding_json(f), 2)`` writes it, cheaper: a request's findings
    share their first twelve keys (session, request, destination), written once per request
    (the last request's only: its findings come one after another, and a replay may hold
    300,000),
    and a finding's own string fields are written with no dict in between. Anything but a
    string or None in those fields takes the general path."""
    last: list[Any] = [None, ""]  # the last request's key and head: its findings come together
    encodings: dict[tuple[str, ...], str] = {}

    def encode(f: AuditFinding) -> str:
        x = f.finding
        tail = (x.data_type, x.location, f.phase, x.evidence, f.source, x.confidence)
        if not all(v is None or isinstance(v, str) for v in tail):  # str enums (phase, source) are strings
            return _dumps(finding_json(f), 2)
        key = (f.session, f.flow_id, f.time, f.method, f.url, f.host, id(f.destination))
        if key != last[0]:
            whole = _dumps({**finding_json(f), **dict.fromkeys(_TAIL_KEYS)}, 2)
            last[:] = key, whole[: whole.index(',\n      "data_type": ')]
        head = last[1]
        enc = encodings.get(x.encoding)
        if enc is None:
            enc = encodings[x.encoding] = _dumps(list(x.encoding), 3)
        return "".join((head, _FIELD, '"data_type": ', _str_or_null(x.data_type), _FIELD, '"encoding": ', enc,
                        _FIELD, '"location": ', _str_or_null(x.location), _FIELD, '"phase": ',
                        _str_or_null(f.phase), _FIELD, '"evidence": ', _str_or_null(x.evidence), _FIELD,
                        '"source": ', _str_or_null(f.source), _FIELD, '"confidence": ',
                        _str_or_null(x.confidence), "\n    }"))

    return encode


def _str_or_null(v: str | None) -> str:
    return "null" if v is None else _encode_str(v)


def _floatstr(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _key(k: object) -> str:
    if isinstance(k, str):
        return _encode_str(k)
    if isinstance(k, float):
        return _encode_str(_floatstr(k))
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, int):
        return _encode_str(int.__repr__(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")


def _dumps(o: object, level: int) -> str:
    """``o`` as ``json.dumps(o, ensure_ascii=False, indent=2)`` writes it at nesting ``level``
    (the same checks in the same order: a str subclass is a string, a bool is no int)."""
    if isinstance(o, str):
        return _encode_str(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _floatstr(o)
    if isinstance(o, list | tuple):
        if not o:
            return "[]"
        inner = "\n" + "  " * (level + 1)
        return "[" + inner + ("," + inner).join([_dumps(v, level + 1) for v in o]) + "\n" + "  " * level + "]"
    if isinstance(o, dict):
        if not o:
            return "{}"
        inner = "\n" + "  " * (level + 1)
        parts = []
        for k, v in o.items():  # most values of a finding are plain strings: no call for those
            key = _encode_str(k) if k.__class__ is str else _key(k)
            if v.__class__ is str:
                parts.append(key + ": " + _encode_str(v))
            elif v is None:
                parts.append(key + ": null")
            else:
                parts.append(key + ": " + _dumps(v, level + 1))
        return "{" + inner + ("," + inner).join(parts) + "\n" + "  " * level + "}"
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")
