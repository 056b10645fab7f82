"""An inline SVG timeline per session: destinations down, time across.

Background bands show the consent phase (red before consent and after a refusal or withdrawal,
green after consent, grey when no consent event was recorded), so "before or after consent" is
visible at a glance; dashed lines mark the consent decisions; small triangles at the top mark
the other timeline events (app start, policy shown, permissions…), and every event is named in
the drawing (rows of labels above the chart; details on hover). Filled dots are requests
carrying personal data, coloured by phase; rings are bare connections to SDK hosts (packet
captures). The axis starts at the session's start and is ticked at round steps (1, 2, 5 × 10ⁿ
seconds, minutes or hours). Every label is placed so that it stays inside the drawing, judged
by an upper bound of its width (font size × characters: no glyph is wider than 1 em).

Built as numbers and strings for the template, which escapes every label; nothing from traffic
is written into the SVG unescaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from consentscope.consent import BEFORE_CONSENT, NO_CONSENT_RECORDED, PHASE_AFTER
from consentscope.model import SessionResult
from consentscope.reports.i18n import Words
from consentscope.reports.redact import redact

WIDTH, LEFT, RIGHT, ROW, BOTTOM = 960, 250, 16, 20, 34
#: font sizes of the lane and event labels, and of the tick labels
FONT, TICK_FONT = 11, 10
#: rows of event labels above the chart, their height, and the gap kept between two labels
EVENT_ROWS, EVENT_ROW, GAP = 4, 14, 6
#: destinations drawn; the rest are counted under the chart (all are in the tables)
MAX_ROWS = 25
#: longest destination label, in characters
MAX_LABEL = 34
#: events that widen the chart besides the consent decisions: where the session starts
SPAN_EVENTS = ("app-start", "policy-shown")
#: ticks aimed at across the axis (a round step gives 4 to 10)
TICKS = 6

PHASE_COLOURS: dict[str, str] = {
    BEFORE_CONSENT: "#d92d20", PHASE_AFTER["refusal"]: "#d92d20", PHASE_AFTER["withdrawal"]: "#dc6803",
    PHASE_AFTER["consent"]: "#12b76a", NO_CONSENT_RECORDED: "#98a2b3",
}
BAND_COLOURS: dict[str, str] = {
    BEFORE_CONSENT: "#fee4e2", PHASE_AFTER["refusal"]: "#fee4e2", PHASE_AFTER["withdrawal"]: "#fef0c7",
    PHASE_AFTER["consent"]: "#dcfae6", NO_CONSENT_RECORDED: "#f2f4f7",
}
#: the axis units: name, seconds, and the English and Chinese suffixes
UNITS = (("s", 1.0, "s", "秒"), ("min", 60.0, "min", "分钟"), ("h", 3600.0, "h", "小时"))


@dataclass(frozen=True, slots=True)
class Text:
    """A label in the drawing; ``anchor`` is SVG's text-anchor (start, middle, end)."""

    x: float
    y: float
    text: str
    size: int
    anchor: str = "start"
    colour: str = "#475467"
    tip: str = ""

    @property
    def width(self) -> float:
        """An upper bound of the rendered width: no glyph (CJK included) is wider than 1 em."""
        return float(self.size * len(self.text))

    def extent(self) -> tuple[float, float]:
        w = self.width
        if self.anchor == "end":
            return self.x - w, self.x
        if self.anchor == "middle":
            return self.x - w / 2, self.x + w / 2
        return self.x, self.x + w


def fit(label: Text, width: float) -> Text:
    """The label moved so that its whole width lies within 0..width (same anchor)."""
    left, right = label.extent()
    shift = width - right if right > width else -left if left < 0 else 0.0
    if not shift:
        return label
    return Text(round(label.x + shift, 1), label.y, label.text, label.size, label.anchor, label.colour, label.tip)


@dataclass(frozen=True, slots=True)
class Lane:
    y: float
    label: Text
    third_party: bool


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
    name: str


@dataclass(frozen=True, slots=True)
class Mark:
    """An event: a dashed line (consent decisions) or a triangle, and its label above the chart
    (None when the label rows are full: the name stays in the hover text)."""

    x: float
    colour: str
    event: str
    tip: str
    label: Text | None


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
    ticks: list[tuple[float, Text]]
    start: str
    more: int

    def texts(self) -> list[Text]:
        """Every label in the drawing."""
        return [
            *(lane.label for lane in self.lanes),
            *(m.label for m in (*self.decisions, *self.marks) if m.label is not None),
            *(t for _, t in self.ticks),
        ]


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def round_step(raw: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ not below ``raw`` (> 0)."""
    base = 10.0 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw * (1 - 1e-9))


def ticks(span: float, lang: str = "en") -> list[tuple[float, str]]:
    """Round ticks over 0..span seconds: (seconds, label), in seconds below 3 minutes, minutes
    below 10 hours, hours beyond."""
    _, unit, en, zh = UNITS[0] if span < 180 else UNITS[1] if span < 36000 else UNITS[2]
    step = round_step(span / unit / TICKS)
    while span / unit / step < 4:  # too few: the next smaller round step (5 → 2 → 1 → 0.5)
        mantissa = step / 10 ** math.floor(math.log10(step))
        step = round_step(step / (2.5 if round(mantissa) == 5 else 2.0))
    out = []
    for k in range(int(span / unit / step + 1e-9) + 1):
        value = round(k * step, 9)
        out.append((value * unit, f"+{value:g} {zh if lang == 'zh' else en}"))
    return out


def _place(labels: list[tuple[float, str, str, str]], width: float) -> list[Text | None]:
    """Event labels (x, text, colour, tip) in rows above the chart, left to right; a label goes
    right of its line, or left of it when it would cross the drawing's right edge, in the first
    row where it meets no other label. Labels that find no row are left out (None)."""
    ends: list[float] = [-math.inf] * EVENT_ROWS
    out: list[Text | None] = []
    for x, text, colour, tip in labels:
        t = Text(round(x + 3, 1), 0, text, FONT, "start", colour, tip)
        if t.extent()[1] > width:
            t = Text(round(x - 3, 1), 0, text, FONT, "end", colour, tip)
        t = fit(t, width)
        left, right = t.extent()
        row = next((r for r in range(EVENT_ROWS) if ends[r] + GAP <= left), None)
        if row is None:
            out.append(None)
            continue
        ends[row] = right
        out.append(Text(t.x, 12 + row * EVENT_ROW, t.text, t.size, t.anchor, t.colour, t.tip))
    return out


def build(session: SessionResult, *, redacted: bool = False, words: Words | None = None) -> Timeline | None:
    """The chart for one session, or None when it has nothing to draw."""
    w = words or Words("en")

    def detail(text: str) -> str:
        return (redact(text) or "") if redacted else text

    contacts = [c for c in session.contacts if c.destination.sdk and c.destination.party != "first-party"]
    if not session.findings and not contacts:
        return None
    events = sorted(session.events, key=lambda e: e.time)
    transitions = [e for e in events if e.event in PHASE_AFTER]
    # the chart spans the session from its start, the traffic and the consent decisions;
    # other events (a re-ask a day later) are drawn only near that span, and listed in the report
    anchors = [e for e in events if e.event in PHASE_AFTER or e.event in SPAN_EVENTS]
    times = [f.time for f in session.findings] + [c.contact.time for c in contacts] + [e.time for e in anchors]
    if session.started is not None:
        times.append(session.started)
    t0, t1 = min(times), max(times)
    # events soon after the traffic (a permission asked again) widen the chart up to twice the
    # traffic's span, so they are drawn and named; later ones are only listed in the report
    later = [e.time for e in events if t1 < e.time <= t0 + 2 * max(t1 - t0, 1.0)]
    t1 = max([t1, *later])
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
        d = f.destination
        who[f.host] = w.sdk(d.sdk, d.vendor, d.name_zh) or w.party(d.party)
    for c in contacts:
        h = c.contact.host or c.contact.ip or ""
        first[h] = min(first.get(h, c.contact.time), c.contact.time)
        third.setdefault(h, True)
        who.setdefault(h, w.sdk(c.destination.sdk, c.destination.vendor, c.destination.name_zh))
    hosts = sorted(first, key=lambda h: (first[h], h))
    shown, more = hosts[:MAX_ROWS], max(len(hosts) - MAX_ROWS, 0)

    # the event labels decide how far down the chart starts
    decision_events = transitions
    other_events = [e for e in events if e.event not in PHASE_AFTER and t0 <= e.time <= t1]
    labelled = sorted(
        [(e, True) for e in decision_events] + [(e, False) for e in other_events], key=lambda p: (x(p[0].time),
                                                                                              not p[1]))
    placed = _place([(x(e.time), w.event(e.event), PHASE_COLOURS[PHASE_AFTER[e.event]] if decision else "#475467",
                      f"{w.time(e.time)} · {w.event(e.event)} · {detail(e.detail)}") for e, decision in labelled],
                    WIDTH)
    label_of = {id(e): t for (e, _), t in zip(labelled, placed, strict=True)}
    rows_used = max((int((t.y - 12) // EVENT_ROW) + 1 for t in placed if t is not None), default=0)
    top = 12 + rows_used * EVENT_ROW + 12

    y_of = {h: top + i * ROW + ROW / 2 for i, h in enumerate(shown)}
    bottom = top + len(shown) * ROW
    lanes = [
        Lane(y_of[h], Text(4, y_of[h] + 4, _label(h), FONT, "start", "#912018" if third[h] else "#085d3a",
                           f"{h} · {who[h]}"), third[h])
        for h in shown
    ]
    dots = [
        Dot(x(f.time), y_of[f.host], PHASE_COLOURS.get(f.phase, "#98a2b3"), f.phase,
            f"{w.time(f.time)} · {w.data_type(f.finding.data_type)} → {f.host} · {w.phase(f.phase)}")
        for f in session.findings if f.host in y_of
    ]
    rings = [
        Dot(x(c.contact.time), y_of[h], PHASE_COLOURS.get(c.phase, "#98a2b3"), c.phase,
            f"{w.time(c.contact.time)} · {w.via(c.contact.via)} {h} · {w.phase(c.phase)}")
        for c in contacts if (h := c.contact.host or c.contact.ip or "") in y_of
    ]
    edges = [t0, *(e.time for e in transitions), t1]
    phases = [BEFORE_CONSENT if transitions else NO_CONSENT_RECORDED, *(PHASE_AFTER[e.event] for e in transitions)]
    bands = [
        Band(x(a), round(x(b) - x(a), 1), BAND_COLOURS[p], p, w.phase(p))
        for a, b, p in zip(edges, edges[1:], phases, strict=False) if b > a
    ]
    if len(bands) == 0:
        bands = [Band(LEFT, plot, BAND_COLOURS[phases[-1]], phases[-1], w.phase(phases[-1]))]
    decisions = [
        Mark(x(e.time), PHASE_COLOURS[PHASE_AFTER[e.event]], e.event,
             f"{w.time(e.time)} · {w.event(e.event)} · {detail(e.detail)}", label_of[id(e)])
        for e in transitions
    ]
    marks = [
        Mark(x(e.time), "#475467", e.event, f"{w.time(e.time)} · {w.event(e.event)} · {detail(e.detail)}",
             label_of[id(e)])
        for e in other_events
    ]
    height = int(bottom + BOTTOM)
    tick_marks = [
        (x(t0 + s), fit(Text(x(t0 + s), height - 10, label, TICK_FONT, "middle", "#667085"), WIDTH))
        for s, label in ticks(span, w.lang)
    ]
    return Timeline(
        session.id, WIDTH, height, LEFT, top, bottom, lanes, dots, rings, bands, decisions, marks,
        tick_marks, w.time(t0), more,
    )
