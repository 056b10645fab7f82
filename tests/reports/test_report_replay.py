"""``consentscope report`` (a session loaded from the database) renders the same HTML report as
the replay that stored it: the same title, sections and visible text. The one difference:
stored findings keep no match offsets, so the matched text is highlighted again from the
evidence (``html_report.rehighlight``) where the excerpt shows where it stands."""

from __future__ import annotations

import re
from pathlib import Path

from consentscope.cli import main
from consentscope.reports.html_report import render_html
from consentscope.session import Outputs, judge, write_reports
from tests.reports.sessions import PROFILE_PATH, ROOT, hostile_session
from tests.reports.test_html_report import parse, visible


def sections(html: str) -> list[str]:
    return [a["id"] or "" for t, a in parse(html).tags if t == "section"]


def title(html: str) -> str:
    return html[html.index("<title>") + 7:html.index("</title>")]


def test_report_from_the_database_reads_like_the_replay(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    replay, report = tmp_path / "replay.html", tmp_path / "report.html"
    assert main(["replay", str(ROOT / "captures" / "demo_session.mitm"), "--profile", str(PROFILE_PATH),
                 "--consent-marker", "/v1/privacy/consent", "--db", db, "-q", "--html", str(replay),
                 "--lang", "zh"]) == 0
    assert main(["report", "--db", db, "--html", str(report), "--lang", "zh"]) == 0
    a, b = replay.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")
    assert title(a) == title(b) == "consentscope: Consent Demo Shop"
    assert sections(a) == sections(b) and "timeline" in sections(a)
    va, vb = visible(a), visible(b)
    assert va.text == vb.text and va.explanations == vb.explanations
    # the same words; the highlight came back wherever the evidence shows where the match stands,
    # and is never a different one: each cell is the replay's, or the replay's without the <mark>
    assert "".join(va.captured) == "".join(vb.captured)
    cells_a = re.findall(r'<td class="ev">(.*?)</td>', a)
    cells_b = re.findall(r'<td class="ev">(.*?)</td>', b)
    assert len(cells_a) == len(cells_b) > 50
    for x, y in zip(cells_a, cells_b, strict=True):
        assert y in (x, x.replace("<mark>", "").replace("</mark>", "")), (x, y)
    assert a.count("<mark>") > 50 and b.count("<mark>") >= 15


def test_outputs_carry_the_zone_to_the_html(tmp_path: Path) -> None:
    result, prof = hostile_session()
    out = tmp_path / "r.html"
    write_reports(judge([result], prof), Outputs(html=str(out), tz="Asia/Shanghai", title="t"))
    html = out.read_text(encoding="utf-8")
    assert "2026-03-02T18:00:40.000+08:00" in html
    assert html == render_html(judge([result], prof), "t", tz="Asia/Shanghai")
