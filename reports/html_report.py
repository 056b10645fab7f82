"""The HTML report: one self-contained file, every captured byte escaped.

Captured traffic is hostile, so the environment autoescapes everything and the template never
marks traffic-derived text safe (no ``|safe``, no ``Markup``); a Content-Security-Policy with
no script source is a second wall. No external assets: the report opens offline.

Order: the verdict per MIIT category first, then the summary, the timeline (inline SVG, one
per session), every violation with its evidence (request line, place in the request,
decoding chain, matched text highlighted), accepted findings, the tester's checklist, the
SDK and destination tables, and every finding.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined

from consentscope import __version__
from consentscope.consent import BEFORE_CONSENT, NO_CONSENT_RECORDED
from consentscope.detectors._scan import EVIDENCE_CONTEXT
from consentscope.model import AuditContact, AuditFinding, Coverage, Judgement, SessionResult, iso_time
from consentscope.reports.i18n import LANGS, PHASES, SEVERITY, UI, Words, zone, zone_name
from consentscope.reports.redact import redact
from consentscope.reports.svg_timeline import build as build_timeline
from consentscope.rules import (
    CATEGORIES,
    CHECKLIST,
    CONTACT_CHECKS,
    Suppressions,
    Violation,
    contact_ref,
    usage,
)

#: evidence rows printed under one violation; the rest are counted (all are in the findings table)
MAX_EVIDENCE_ROWS = 20

_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=PackageLoader("consentscope.reports", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV


def highlight(evidence: str, match: tuple[int, int], redacted: bool = False) -> tuple[str, str, str]:
    """``evidence`` split around the matched text: (before, match, after), all plain text for
    the template to escape. Offsets out of range, or a redaction that changed the length, give
    no highlight rather than a wrong one."""
    text = (redact(evidence) or "") if redacted else evidence
    try:
        a, b = int(match[0]), int(match[1])
    except (TypeError, ValueError, IndexError):
        return text, "", ""
    if len(text) != len(evidence) or not 0 <= a < b <= len(text):
        return text, "", ""
    return text[:a], text[a:b], text[b:]


#: the title a caller passes when it has none of its own (``Outputs.title``'s default)
DEFAULT_TITLE = "consentscope report"


def _context_chars(text: str, nbytes: int) -> int | None:
    """How many leading characters of ``text`` are exactly ``nbytes`` of UTF-8, or None when
    that cannot be told (a replacement character stands for bytes of another length)."""
    total = 0
    for i, ch in enumerate(text):
        if total == nbytes:
            return i
        if ch in "·\ufffd":
            return None
        total += len(ch.encode("utf-8"))
        if total > nbytes:
            return None
    return len(text) if total == nbytes else None


def excerpt_match(evidence: str, context: int = EVIDENCE_CONTEXT) -> tuple[int | None, int | None]:
    """The edges of the matched text that the excerpt's own form gives: the scanner writes
    ``…`` + ``context`` bytes + match + ``context`` bytes + ``…``, each ellipsis only where the
    request went on, so a side with its ellipsis tells its edge exactly; a side without one
    (or with context that cannot be counted) is None."""
    start = end = None
    if evidence.startswith("…"):
        n = _context_chars(evidence[1:], context)
        start = None if n is None else 1 + n
    if len(evidence) > 1 and evidence.endswith("…"):
        n = _context_chars(evidence[:-1][::-1], context)
        end = None if n is None else len(evidence) - 1 - n
    return start, end


def rehighlight(findings: Sequence[AuditFinding]) -> dict[int, tuple[int, int]]:
    """Match offsets for findings read from the database, which keeps none (``id(finding)`` →
    offsets; findings that keep theirs are left out).

    Exact where the excerpt gives both edges (``excerpt_match``). Otherwise the matched text
    is found again: the texts matched for the same data type in the same form (``encoding``)
    elsewhere in these findings, when exactly one of them occurs exactly once in this evidence
    and agrees with the edge the excerpt gives, if any. No highlight rather than a guess."""
    learned: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    out: dict[int, tuple[int, int]] = {}
    pending: list[tuple[AuditFinding, int | None, int | None]] = []
    for f in findings:
        fin = f.finding
        key = (fin.data_type, fin.encoding)
        if fin.match != (0, 0):
            a, b = fin.match
            if 0 <= a < b <= len(fin.evidence):
                learned[key].add(fin.evidence[a:b])
            continue
        start, end = excerpt_match(fin.evidence)
        if start is not None and end is not None and start < end:
            out[id(f)] = (start, end)
            learned[key].add(fin.evidence[start:end])
        else:
            pending.append((f, start, end))
    for f, start, end in pending:
        fin = f.finding
        places = {
            (i, i + len(text))
            for text in learned.get((fin.data_type, fin.encoding), ())
            if fin.evidence.count(text) == 1 and (i := fin.evidence.index(text)) >= 0
            and (start is None or i == start) and (end is None or i + len(text) == end)
        }
        if len(places) == 1:
            out[id(f)] = places.pop()
    return out


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    time: str
    phase: str
    data_type: str
    party: str
    party_name: str
    who: str
    request: str
    location: str
    chain: str
    before: str
    hit: str
    after: str
    detail: str


@dataclass(frozen=True, slots=True)
class ContactRow:
    time: str
    phase: str
    via: str
    host: str
    who: str


@dataclass(frozen=True, slots=True)
class ViolationView:
    v: Violation
    name: str
    category: str
    source: str
    explanation: str
    rows: list[EvidenceRow]
    contacts: list[ContactRow]
    more: int
    events: list[tuple[str, str, str]]
    observed: list[tuple[str, str]]


def _row(f: AuditFinding, redacted: bool, w: Words, found: Mapping[int, tuple[int, int]]) -> EvidenceRow:
    fin = f.finding
    match = found.get(id(f), fin.match)
    before, hit, after = highlight(fin.evidence, match, redacted)
    url = (redact(f.url) or "") if redacted else f.url
    detail = (redact(fin.detail) or "") if redacted else fin.detail
    d = f.destination
    return EvidenceRow(
        w.time(f.time), f.phase, w.data_type(fin.data_type), d.party, w.party(d.party),
        w.sdk(d.sdk, d.vendor, d.name_zh), f"{f.method} {url}", fin.location,
        " › ".join(fin.encoding) if fin.encoding else UI[w.lang]["plain"], before, hit, after, detail,
    )


def _view(v: Violation, session: SessionResult | None, w: Words, redacted: bool,
          found: Mapping[int, tuple[int, int]]) -> ViolationView:
    lang = w.lang
    info = v.info
    rows: list[EvidenceRow] = []
    contacts: list[ContactRow] = []
    more = 0
    events: list[tuple[str, str, str]] = []
    if session is not None:
        wanted = set(v.flows)
        types = set(v.data_types)
        proof = [f for f in session.findings if f.flow_id in wanted and (not types or f.finding.data_type in types)]
        rows = [_row(f, redacted, w, found) for f in proof[:MAX_EVIDENCE_ROWS]]
        more = max(len(proof) - MAX_EVIDENCE_ROWS, 0)
        if v.check in CONTACT_CHECKS:
            cs: list[AuditContact] = [c for c in session.contacts if contact_ref(c) in wanted]
            contacts = [
                ContactRow(w.time(c.contact.time), c.phase, w.via(c.contact.via), c.contact.host or c.contact.ip or "",
                           w.sdk(c.destination.sdk, c.destination.vendor, c.destination.name_zh))
                for c in cs[:MAX_EVIDENCE_ROWS]
            ]
            more = max(len(cs) - MAX_EVIDENCE_ROWS, 0)
        times = set(v.events)
        events = [
            (w.time(e.time), w.event(e.event), (redact(e.detail) or "") if redacted else e.detail)
            for e in session.events if iso_time(e.time) in times
        ]
    return ViolationView(
        v,
        info.name_zh if lang == "zh" else info.name_en,
        CATEGORIES[info.category].name_zh if lang == "zh" else CATEGORIES[info.category].name_en,
        info.source_zh if lang == "zh" else info.source_en,
        v.explanation_zh if lang == "zh" and v.explanation_zh else v.explanation,
        rows, contacts, more, events, [(k, str(val)) for k, val in v.observed],
    )


@dataclass(slots=True, kw_only=True)
class _Tally:
    """What the destination and SDK tables count per row."""

    data_types: set[str] = field(default_factory=set)
    findings: int = 0
    before_consent: int = 0
    first_time: float = math.inf

    def add(self, f: AuditFinding) -> None:
        self.data_types.add(f.finding.data_type)
        self.findings += 1
        self.before_consent += f.phase == BEFORE_CONSENT
        self.first_time = min(self.first_time, f.time)


@dataclass(slots=True)
class DestinationRow(_Tally):
    host: str
    party: str
    relation: str | None
    sdk: str | None
    vendor: str | None
    category: str | None


def _destinations(findings: Sequence[AuditFinding]) -> list[DestinationRow]:
    rows: dict[str, DestinationRow] = {}
    for f in findings:
        d = f.destination
        row = rows.get(f.host)
        if row is None:
            row = rows[f.host] = DestinationRow(f.host, d.party, d.relation, d.sdk, d.vendor, d.category)
        row.add(f)
    return sorted(rows.values(), key=lambda r: (-r.before_consent, r.party == "first-party", r.host))


@dataclass(slots=True)
class SdkRow(_Tally):
    sdk: str
    vendor: str | None
    category: str | None
    relation: str | None


def _sdks(findings: Sequence[AuditFinding]) -> list[SdkRow]:
    rows: dict[str, SdkRow] = {}
    for f in findings:
        d = f.destination
        if not d.sdk or d.party == "first-party":
            continue
        row = rows.get(d.sdk)
        if row is None:
            row = rows[d.sdk] = SdkRow(d.sdk, d.vendor, d.category, d.relation)
        row.add(f)
    return sorted(rows.values(), key=lambda r: (-r.before_consent, r.first_time, r.sdk))


def report_title(sessions: Sequence[SessionResult], title: str | None) -> str:
    """The caller's title; without one (or with the default), the app's name as the replay
    titles its report, so that a report from the database reads like the replay's."""
    if title is not None and title != DEFAULT_TITLE:
        return title
    apps = {s.app_name or s.app_package for s in sessions}
    if len(apps) == 1 and (app := apps.pop()):
        return f"consentscope: {app}"
    return DEFAULT_TITLE


def render_html(
    judgement: Judgement,
    title: str | None = None,
    *,
    redacted: bool = False,
    lang: str = "en",
    suppressions: Suppressions | None = None,
    tz: str | None = None,
) -> str:
    """The report of a judgement (``consentscope.session.judge``): the sessions with their
    violations and the verdicts; the report renders them and decides nothing itself.

    ``tz``: the zone every time is shown in (an IANA name such as ``Asia/Shanghai``; None: the
    machine's local zone). Without a ``title`` the report is named after the sessions' app."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    w = Words(lang, zone(tz))
    t = dict(UI[lang])
    t["time"] = t["time"].format(tz=zone_name(w.tz))
    t["times_in"] = t["times_in"].format(tz=zone_name(w.tz))
    sessions = judgement.sessions
    coverage = Coverage()
    for s in sessions:
        coverage.merge(s.coverage)
    unread_rows = [d for d in coverage.sorted() if d.opaque or d.truncated or d.unread_connections]
    unread_sdks = sorted({w.sdk(d.sdk, d.vendor) or d.host for d in unread_rows})
    by_id = {s.id: s for s in sessions}
    findings = sorted((f for s in sessions for f in s.findings), key=AuditFinding.sort_key)
    by_phase = Counter(f.phase for f in findings)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for f in findings:
        by_type[f.finding.data_type][f.phase] += 1
    before_flows = {f.flow_id for f in findings if f.phase == BEFORE_CONSENT}
    third_before = {f.flow_id for f in findings if f.phase == BEFORE_CONSENT and f.destination.party != "first-party"}
    all_v = [v for s in sessions for v in s.violations]
    found: dict[int, tuple[int, int]] = {}
    for s in sessions:
        found.update(rehighlight(s.findings))
    views = [_view(v, by_id.get(v.session), w, redacted, found) for v in all_v if not v.suppressed]
    accepted = [_view(v, by_id.get(v.session), w, redacted, found) for v in all_v if v.suppressed]
    timelines = [tl for s in sessions if (tl := build_timeline(s, redacted=redacted, words=w)) is not None]
    destinations = _destinations(findings)
    sdks = _sdks(findings)
    entries = usage(suppressions, sessions) if suppressions else []
    toc = [(sid, t[key]) for sid, key, shown in (
        ("verdict", "verdict", True), ("summary", "summary", True), ("timeline", "timeline", bool(timelines)),
        ("violations", "violations", True), ("suppressed", "suppressed", bool(accepted or entries)),
        ("checklist", "checklist", True), ("sdks", "sdks", bool(sdks)), ("destinations", "destinations", True),
        ("data-types", "by_type", True), ("findings", "findings", True),
        ("contacts", "contacts", any(s.contacts for s in sessions)),
    ) if shown]
    return _env().get_template("report.html.j2").render(
        t=t,
        w=w,
        lang=lang,
        toc=toc,
        phase_names=PHASES[lang],
        severity_names=SEVERITY[lang],
        title=report_title(sessions, title),
        redacted=redacted,
        version=__version__,
        sessions=sessions,
        verdicts=judgement.verdicts,
        coverage=coverage,
        damaged=sum(1 for s in sessions if s.errors),
        skipped_text=", ".join(f"{name}: {n}" for name, n in sorted(coverage.skipped.items())),
        unread_rows=unread_rows[:50],
        unread_sdks=", ".join(unread_sdks[:8]) + (f" (+{len(unread_sdks) - 8})" if len(unread_sdks) > 8 else ""),
        timelines=timelines,
        violations=views,
        accepted=accepted,
        entries=entries,
        checklist=CHECKLIST,
        findings=[(f, _row(f, redacted, w, found)) for f in findings],
        contacts=sorted((c for s in sessions for c in s.contacts), key=lambda c: c.sort_key()),
        by_phase=by_phase,
        by_type=sorted(by_type.items()),
        destinations=destinations,
        sdks=sdks,
        before=len(before_flows),
        third_before=len(third_before),
        after=len({f.flow_id for f in findings if f.phase == "after-consent"}),
        no_consent=len({f.flow_id for f in findings if f.phase == NO_CONSENT_RECORDED}),
    )
