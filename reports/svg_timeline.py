"""An inline SVG timeline: destinations down, time across, consent events as lines.

Red dots are transmissions before consent (or after a refusal or withdrawal), green after
consent, grey where no consent was recorded. Built as data for the template, which
escapes every label; nothing from traffic is written into the SVG unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consentscope.pipeline import AuditFinding, SessionResult

WIDTH, LEFT, ROW, TOP = 900, 260, 22, 30
MAX_ROWS = 20
_COLOURS = {"before-consent": "#d92d20", "after-refusal": "#d92d20", "after-withdrawal": "#d92d20",
            "after-consent": "#12b76a", "no-consent-recorded": "#98a2b3"}
_EVENT_COLOURS = {"consent": "#12b76a", "refusal": "#d92d20", "withdrawal": "#f79009"}


@dataclass(frozen=True, slots=True)
class Timeline:
    width: int
    height: int
    rows: list[tuple[float, str, str]]  # y, label, party
    dots: list[tuple[float, float, str, str]]  # x, y, colour, tooltip
    events: list[tuple[float, str, str]]  # x, colour, label
    ticks: list[tuple[float, str]]


def build(sessions: Sequence[SessionResult]) -> Timeline | None:
    findings: list[AuditFinding] = [f for s in sessions for f in s.findings]
    if not findings:
        return None
    events = [e for s in sessions for e in s.events if e.event in _EVENT_COLOURS]
    times = [f.time for f in findings] + [e.time for e in events]
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1.0)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.host] = counts.get(f.host, 0) + 1
    hosts = sorted(counts, key=lambda h: (-counts[h], h))[:MAX_ROWS]
    party = {f.host: f.destination.sdk or f.destination.party for f in findings}
    y_of = {h: TOP + i * ROW + ROW / 2 for i, h in enumerate(hosts)}

    def x(t: float) -> float:
        return round(LEFT + (WIDTH - LEFT - 20) * (t - t0) / span, 1)

    dots = [
        (x(f.time), y_of[f.host], _COLOURS.get(f.phase, "#98a2b3"), f"{f.finding.data_type} · {f.phase}")
        for f in findings if f.host in y_of
    ]
    height = TOP + len(hosts) * ROW + 30
    ticks = [(x(t0 + span * i / 4), f"+{span * i / 4:.0f}s") for i in range(5)]
    return Timeline(
        WIDTH, int(height), [(y_of[h], h, party[h]) for h in hosts], dots,
        [(x(e.time), _EVENT_COLOURS[e.event], e.event) for e in events], ticks,
    )
