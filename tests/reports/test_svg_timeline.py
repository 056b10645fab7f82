"""The inline SVG timeline (reports/svg_timeline.py)."""

from __future__ import annotations

from consentscope.reports import svg_timeline
from consentscope.reports.svg_timeline import BAND_COLOURS, MAX_ROWS, build
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
    assert [m.label for m in tl.marks] == ["app-start"]


def test_labels_are_shortened_and_empty_sessions_skipped() -> None:
    tl = build(session([(0, "a-very-long-subdomain-name.of-some-tracker.example.com", "imei")]))
    assert tl is not None and tl.lanes[0].label.endswith("…") and len(tl.lanes[0].label) == 34
    assert build(session([])) is None
