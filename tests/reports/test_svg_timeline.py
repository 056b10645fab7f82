"""The inline SVG timeline (reports/svg_timeline.py)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from consentscope.model import EVENTS
from consentscope.reports import svg_timeline
from consentscope.reports.i18n import Words, zone
from consentscope.reports.svg_timeline import BAND_COLOURS, MAX_ROWS, WIDTH, Text, build, fit, ticks
from tests.rules.builders import session


def test_phase_bands_meet_at_the_consent_line() -> None:
    tl = build(session([(0, "ulogs.umeng.com", "imei"), (100, "ulogs.umeng.com", "imei")], [(50, "consent")]))
    assert tl is not None
    assert [b.phase for b in tl.bands] == ["before-consent", "after-consent"]
    [line] = tl.decisions
    assert tl.bands[0].x + tl.bands[0].width == line.x == tl.bands[1].x
    assert [d.colour for d in tl.dots] == [svg_timeline.PHASE_COLOURS["before-consent"],
                                           svg_timeline.PHASE_COLOURS["after-consent"]]
    assert tl.dots[0].x < line.x < tl.dots[1].x


def test_no_consent_is_one_grey_band() -> None:
    tl = build(session([(0, "ulogs.umeng.com", "imei"), (9, "api.demoshop.com.cn", "email")]))
    assert tl is not None and [b.colour for b in tl.bands] == [BAND_COLOURS["no-consent-recorded"]]
    assert [lane.third_party for lane in tl.lanes] == [True, False]


def test_rows_are_capped_and_counted() -> None:
    items = [(i, f"h{i}.example-{i}.com", "imei") for i in range(MAX_ROWS + 3)]
    tl = build(session(items))
    assert tl is not None and len(tl.lanes) == MAX_ROWS and tl.more == 3 and len(tl.dots) == MAX_ROWS


def test_contacts_are_rings_and_other_events_marks() -> None:
    tl = build(session([(10, "ulogs.umeng.com", "imei")], [(0, "app-start"), (20, "consent")],
                       contacts=[(5, "tsis.jpush.cn"), (6, "api.demoshop.com.cn")]))
    assert tl is not None
    assert len(tl.rings) == 1 and tl.rings[0].phase == "before-consent"  # first-party contacts are not drawn
    assert [m.event for m in tl.marks] == ["app-start"]
    assert [m.label.text for m in (*tl.decisions, *tl.marks) if m.label] == ["consent", "app-start"]


def test_labels_are_shortened_and_empty_sessions_skipped() -> None:
    tl = build(session([(0, "a-very-long-subdomain-name.of-some-tracker.example.com", "imei")]))
    assert tl is not None and tl.lanes[0].label.text.endswith("…") and len(tl.lanes[0].label.text) == 34
    assert build(session([])) is None


@pytest.mark.parametrize("span", [1, 3, 7, 42, 59, 119, 150, 600, 3599, 7300, 40000, 3 * 86400])
def test_ticks_are_round_steps(span: float) -> None:
    marks = ticks(span)
    assert 4 <= len(marks) <= 11 and marks[0][0] == 0 and marks[-1][0] <= span + 1e-6
    unit = 1 if span < 180 else 60 if span < 36000 else 3600
    step = (marks[1][0] - marks[0][0]) / unit
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5)), step
    assert all(math.isclose(s / unit, k * step) for k, (s, _) in enumerate(marks))
    assert marks[1][1].startswith("+") and marks[1][1].endswith(("s", "min", "h"))
    assert ticks(span, "zh")[1][1].endswith(("秒", "分钟", "小时"))


def test_fit_moves_a_label_inside() -> None:
    assert fit(Text(950, 0, "+50 min", 10, "middle"), WIDTH).extent()[1] <= WIDTH
    assert fit(Text(2, 0, "+0 s", 10, "middle"), WIDTH).extent()[0] >= 0
    inside = Text(100, 0, "ok", 10)
    assert fit(inside, WIDTH) is inside


def crowded(lang: str):  # type: ignore[no-untyped-def]
    """Every event name, several at the same moment and at the right edge, long hosts."""
    events = [(i * 3 % 100, e) for i, e in enumerate(EVENTS) if e not in ("refusal", "withdrawal")]
    events += [(100, "withdrawal"), (100, "personalization-off"), (99.5, "note")]
    items = [(i * 7 % 101, f"host-{i}.a-very-long-subdomain.example-tracker-{i}.com", "installed_apps")
             for i in range(30)]
    return build(session(items, events, contacts=[(100, "tsis.jpush.cn")]), words=Words(lang))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_label_stays_inside_the_drawing(lang: str) -> None:
    tl = crowded(lang)
    assert tl is not None
    texts = tl.texts()
    assert len(texts) > MAX_ROWS + 5
    for t in texts:
        left, right = t.extent()  # font size x characters: an upper bound of the width
        assert left >= 0 and right <= tl.width, t
        assert 0 < t.y <= tl.height, t
    # event labels sit above the chart, in rows that do not overlap
    labels = [m.label for m in (*tl.decisions, *tl.marks) if m.label is not None]
    assert len(labels) >= 8
    rows: dict[float, list[tuple[float, float]]] = {}
    for t in labels:
        assert t.y < tl.top
        rows.setdefault(t.y, []).append(t.extent())
    for spans in rows.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_events_are_named_in_the_drawing_in_the_reports_language() -> None:
    s = session([(40, "ulogs.umeng.com", "imei")], [(0, "app-start"), (20, "consent"), (30, "permission-denied")])
    tl = build(s, words=Words("zh"))
    assert tl is not None
    assert {m.label.text for m in (*tl.decisions, *tl.marks) if m.label} == {"启动App", "同意", "拒绝权限"}
    assert all("+" in t.text and t.text.endswith("秒") for _, t in tl.ticks)
    assert "IMEI(设备识别码)" in tl.dots[0].tip and "同意后" in tl.dots[0].tip


def test_the_axis_starts_at_the_session_start_in_the_reports_zone() -> None:
    s = replace(session([(100, "ulogs.umeng.com", "imei"), (160, "ulogs.umeng.com", "imei")]), started=40.0)
    tl = build(s, words=Words("en", zone("Asia/Shanghai")))
    assert tl is not None
    assert tl.start == "1970-01-01T08:00:40.000+08:00"
    assert tl.dots[0].x > tl.left + 200  # a minute of nothing drawn before the first request
    assert [t.text for _, t in tl.ticks] == ["+0 s", "+20 s", "+40 s", "+60 s", "+80 s", "+100 s", "+120 s"]


def test_events_soon_after_the_traffic_are_drawn_and_far_ones_are_not() -> None:
    tl = build(session([(0, "ulogs.umeng.com", "imei"), (40, "ulogs.umeng.com", "imei")],
                       [(20, "consent"), (55, "permission-asked"), (86400, "permission-asked")]))
    assert tl is not None
    assert [m.event for m in tl.marks] == ["permission-asked"]  # the one at +55 s; not the one a day later
    assert tl.marks[0].x <= tl.width - svg_timeline.RIGHT and tl.dots[-1].x < tl.marks[0].x
