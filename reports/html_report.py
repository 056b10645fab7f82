"""The HTML report: one self-contained file, every captured byte escaped.

Captured traffic is hostile, so the environment autoescapes everything and the template
never marks traffic-derived text safe. No external assets: the report opens offline.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined

from consentscope import __version__
from consentscope.consent import BEFORE_CONSENT, NO_CONSENT_RECORDED
from consentscope.pipeline import AuditFinding, SessionResult, iso_time
from consentscope.reports.redact import redact
from consentscope.reports.svg_timeline import build as build_timeline

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
        _ENV.filters["iso"] = iso_time
        _ENV.filters["redact"] = redact
    return _ENV


@dataclass(slots=True)
class DestinationRow:
    host: str
    party: str
    relation: str | None
    sdk: str | None
    vendor: str | None
    category: str | None
    data_types: set[str] = field(default_factory=set)
    findings: int = 0
    before_consent: int = 0
    first_time: float = 0.0


def _destinations(findings: Sequence[AuditFinding]) -> list[DestinationRow]:
    rows: dict[str, DestinationRow] = {}
    for f in findings:
        d = f.destination
        row = rows.get(f.host)
        if row is None:
            row = rows[f.host] = DestinationRow(
                f.host, d.party, d.relation, d.sdk, d.vendor, d.category, first_time=f.time
            )
        row.data_types.add(f.finding.data_type)
        row.findings += 1
        row.before_consent += f.phase == BEFORE_CONSENT
        row.first_time = min(row.first_time, f.time)
    return sorted(rows.values(), key=lambda r: (-r.before_consent, r.party == "first-party", r.host))


@dataclass(slots=True)
class SdkRow:
    sdk: str
    vendor: str | None
    category: str | None
    data_types: set[str] = field(default_factory=set)
    first_time: float = 0.0
    before_consent: int = 0
    findings: int = 0


def _sdks(findings: Sequence[AuditFinding]) -> list[SdkRow]:
    rows: dict[str, SdkRow] = {}
    for f in findings:
        d = f.destination
        if not d.sdk:
            continue
        row = rows.setdefault(d.sdk, SdkRow(d.sdk, d.vendor, d.category, first_time=f.time))
        row.data_types.add(f.finding.data_type)
        row.first_time = min(row.first_time, f.time)
        row.before_consent += f.phase == BEFORE_CONSENT
        row.findings += 1
    return sorted(rows.values(), key=lambda r: (-r.before_consent, r.first_time, r.sdk))


def render_html(
    sessions: Sequence[SessionResult], title: str = "consentscope report", *, redacted: bool = False
) -> str:
    findings = sorted((f for s in sessions for f in s.findings), key=AuditFinding.sort_key)
    by_phase = Counter(f.phase for f in findings)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for f in findings:
        by_type[f.finding.data_type][f.phase] += 1
    third_before = sum(
        1 for f in findings if f.phase == BEFORE_CONSENT and f.destination.party == "third-party"
    )
    return _env().get_template("report.html.j2").render(
        title=title,
        redacted=redacted,
        timeline=build_timeline(sessions),
        version=__version__,
        sessions=sessions,
        findings=findings,
        violations=[v for s in sessions for v in s.violations],
        contacts=sorted((c for s in sessions for c in s.contacts), key=lambda c: c.sort_key()),
        by_phase=by_phase,
        by_type=sorted(by_type.items()),
        destinations=_destinations(findings),
        sdks=_sdks(findings),
        third_before=third_before,
        before=by_phase.get(BEFORE_CONSENT, 0),
        no_consent=by_phase.get(NO_CONSENT_RECORDED, 0),
    )
