"""An inline SVG timeline per session: destinations down, time across.

Background bands show the consent phase (red before consent and after a refusal or withdrawal,
green after consent, grey when no consent event was recorded), so "before or after consent" is
visible at a glance; dashed lines mark the consent decisions; small triangles at the top mark
the other timeline events (app start, policy shown, permissions…). Filled dots are requests
carrying personal data, coloured by phase; rings are bare connections to SDK hosts (packet
captures). Built as numbers and strings for the template, which escapes every label; nothing
from traffic is written into the SVG unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentscope.consent import BEFORE_CONSENT, NO_CONSENT_RECORDED, PHASE_AFTER
from consentscope.model import SessionResult, iso_time
from consentscope.reports.redact import redact

WIDTH, LEFT, RIGHT, ROW, TOP, BOTTOM = 960, 250, 16, 20, 44, 34
#: destinations drawn; the rest are counted under the chart (all are in the tables)
MAX_ROWS = 25
#: longest destination label, in characters
MAX_LABEL = 34
#: events that widen the chart besides the consent decisions: where the session starts
SPAN_EVENTS = ("app-start", "policy-shown")

PHASE_COLOURS: dict[str, str] = {
    BEFORE_CONSENT: "#d92d20", PHASE_AFTER["refusal"]: "#d92d20", PHASE_AFTER["withdrawal"]: "#dc6803",
    PHASE_AFTER["consent"]: "#12b76a", NO_CONSENT_RECORDED: "#98a2b3",
}
BAND_COLOURS: dict[str, str] = {
    BEFORE_CONSENT: "#fee4e2", PHASE_AFTER["refusal"]: "#fee4e2", PHASE_AFTER["withdrawal"]: "#fef0c7",
    PHASE_AFTER["consent"]: "#dcfae6", NO_CONSENT_RECORDED: "#f2f4f7",
}


@dataclass(frozen=True, slots=True)
class Lane:
    y: float
    label: str
    third_party: bool
    tip: str


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    colour: str
    phase: str
    tip: str


@dataclass(frozen=True, slots=True)
class Band:
    x: float
    width: float
    colour: str
    phase: str


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    colour: str
    label: str
    tip: str


@dataclass(frozen=True, slots=True)
class Timeline:
    session: str
    width: int
    height: int
    left: int
    top: int
    bottom: float
    lanes: list[Lane]
    dots: list[Dot]
    rings: list[Dot]
    bands: list[Band]
    decisions: list[Mark]
    marks: list[Mark]
    ticks: list[tuple[float, str]]
    start: str
    more: int


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _tick(seconds: float, span: float) -> str:
    if span >= 7200:
        return f"+{seconds / 3600:.1f} h"
    if span >= 600:
        return f"+{seconds / 60:.0f} min"
    return f"+{seconds:.0f} s"


def build(session: SessionResult, *, redacted: bool = False) -> Timeline | None:
    """The chart for one session, or None when it has nothing to draw."""

    def detail(text: str) -> str:
        return (redact(text) or "") if redacted else text

    contacts = [c for c in session.contacts if c.destination.sdk and c.destination.party != "first-party"]
    if not session.findings and not contacts:
        return None
    events = sorted(session.events, key=lambda e: e.time)
    transitions = [e for e in events if e.event in PHASE_AFTER]
    # the chart spans the traffic, the consent decisions and the start of the session; other
    # events (a re-ask a day later) are drawn only inside that span, and listed in the report
    anchors = [e for e in events if e.event in PHASE_AFTER or e.event in SPAN_EVENTS]
    times = [f.time for f in session.findings] + [c.contact.time for c in contacts] + [e.time for e in anchors]
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1.0)
    plot = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + plot * (t - t0) / span, 1)

    first: dict[str, float] = {}
    third: dict[str, bool] = {}
    who: dict[str, str] = {}
    for f in session.findings:
        first[f.host] = min(first.get(f.host, f.time), f.time)
        third[f.host] = f.destination.party != "first-party"
        who[f.host] = f.destination.sdk or f.destination.party
    for c in contacts:
        h = c.contact.host or c.contact.ip or ""
        first[h] = min(first.get(h, c.contact.time), c.contact.time)
        third.setdefault(h, True)
        who.setdefault(h, c.destination.sdk or "")
    hosts = sorted(first, key=lambda h: (first[h], h))
    shown, more = hosts[:MAX_ROWS], max(len(hosts) - MAX_ROWS, 0)
    y_of = {h: TOP + i * ROW + ROW / 2 for i, h in enumerate(shown)}
    bottom = TOP + len(shown) * ROW
    lanes = [Lane(y_of[h], _label(h), third[h], f"{h} · {who[h]}") for h in shown]
    dots = [
        Dot(x(f.time), y_of[f.host], PHASE_COLOURS.get(f.phase, "#98a2b3"), f.phase,
            f"{iso_time(f.time)} · {f.finding.data_type} → {f.host} · {f.phase}")
        for f in session.findings if f.host in y_of
    ]
    rings = [
        Dot(x(c.contact.time), y_of[h], PHASE_COLOURS.get(c.phase, "#98a2b3"), c.phase,
            f"{iso_time(c.contact.time)} · {c.contact.via} {h} · {c.phase}")
        for c in contacts if (h := c.contact.host or c.contact.ip or "") in y_of
    ]
    edges = [t0, *(e.time for e in transitions), t1]
    phases = [BEFORE_CONSENT if transitions else NO_CONSENT_RECORDED, *(PHASE_AFTER[e.event] for e in transitions)]
    bands = [
        Band(x(a), round(x(b) - x(a), 1), BAND_COLOURS[p], p)
        for a, b, p in zip(edges, edges[1:], phases, strict=False) if b > a
    ]
    if len(bands) == 0:
        bands = [Band(LEFT, plot, BAND_COLOURS[phases[-1]], phases[-1])]
    decisions = [
        Mark(x(e.time), PHASE_COLOURS[PHASE_AFTER[e.event]], e.event,
             f"{iso_time(e.time)} · {e.event} · {detail(e.detail)}")
        for e in transitions
    ]
    marks = [
        Mark(x(e.time), "#475467", e.event, f"{iso_time(e.time)} · {e.event} · {detail(e.detail)}")
        for e in events if e.event not in PHASE_AFTER and t0 <= e.time <= t1
    ]
    ticks = [(x(t0 + span * i / 4), _tick(span * i / 4, span)) for i in range(5)]
    return Timeline(
        session.id, WIDTH, int(bottom + BOTTOM), LEFT, TOP, bottom, lanes, dots, rings, bands, decisions, marks,
        ticks, iso_time(t0), more,
    )
