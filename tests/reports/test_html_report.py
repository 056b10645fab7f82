"""The HTML report (reports/html_report.py + templates/report.html.j2): order, evidence,
escaping, self-containment, --lang, --redact, suppressions. Rendered in-process from sessions
the real pipeline made out of hostile requests."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from consentscope.reports.html_report import highlight, render_html
from consentscope.rules import parse_suppressions
from consentscope.session import judge
from tests.reports.sessions import ANDROID_ID, IMEI, hostile_session


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def hostile():  # type: ignore[no-untyped-def]
    return hostile_session()


@pytest.fixture(scope="module")
def html(hostile) -> str:  # type: ignore[no-untyped-def]
    result, prof = hostile
    return render_html(judge([result], prof), title="consentscope: hostile")


def test_verdict_comes_first_then_timeline_and_violations(html: str) -> None:
    at = [html.index(f'id="{s}"') for s in ("verdict", "summary", "timeline", "violations", "checklist", "sdks",
                                            "findings")]
    assert at == sorted(at)
    rows = {a["data-category"]: a["data-status"] for t, a in parse(html).tags if t == "tr" and "data-category" in a}
    # MIIT-4: the session's TLS connection to tsis.jpush.cn was not read, so it cannot tell
    assert rows == {"MIIT-1": "violation", "MIIT-2": "violation", "MIIT-3": "violation", "MIIT-4": "cannot-tell",
                    "MIIT-5": "checklist", "MIIT-6": "suspected", "MIIT-7": "checklist", "MIIT-8": "checklist"}


def test_every_violation_is_shown_with_its_evidence(hostile, html: str) -> None:  # type: ignore[no-untyped-def]
    result, _ = hostile
    shown = [a["data-rule"] for t, a in parse(html).tags if t == "div" and "data-rule" in a]
    assert shown == [v.rule for v in result.violations]
    section = html[html.index('id="violations"'):html.index('id="checklist"')]
    assert "POST https://ulogs.umeng.com/unify_logs?imei=" in section  # the request line
    assert "body.json:$.info" in section and "url.query:oaid" in section  # where in the request
    assert f"<mark>{ANDROID_ID}</mark>&lt;img src=x" in section  # matched text highlighted, neighbours escaped
    assert "tls-sni" in section and "tsis.jpush.cn" in section  # the contact-only evidence
    assert "permission-denied</b> 2026-03-02T10:00:50.000Z" in section  # MIIT-6 rests on events


def test_hostile_text_is_text(html: str) -> None:
    tags = parse(html)
    assert {t for t, _ in tags.tags}.isdisjoint({"script", "img", "iframe", "object", "embed", "foreignobject"})
    assert not [(t, k) for t, a in tags.tags for k in a if k.startswith("on")]
    assert [t for t, a in tags.tags if t == "svg"] == ["svg"]  # the planted </svg><svg onload> stayed text
    text = "".join(tags.text)
    assert "<script>document.title='pwned'" in text and "onerror=" in text


def test_self_contained(html: str) -> None:
    for tag, attrs in parse(html).tags:
        for k, v in attrs.items():
            assert k not in ("src", "href", "xlink:href", "action", "srcset"), (tag, k, v)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html  # and a CSP without any script source


def test_chinese(hostile) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    zh = render_html(judge([result], prof), lang="zh")
    assert '<html lang="zh-CN">' in zh
    for term in ("私自收集个人信息", "私自共享给第三方", "频繁申请权限", "为账号注销设置障碍", "发现问题", "需人工核查",
                 "人工核查清单", "用户同意隐私政策前", "同意前"):
        assert term in zh, term
    assert "Verdict by MIIT problem type" not in zh and "Check by hand" not in zh
    with pytest.raises(ValueError, match="lang"):
        render_html(judge([result]), lang="fr")


def test_redacted_keeps_the_highlight_but_not_the_values(hostile) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    html = render_html(judge([result], prof), redacted=True)
    for value in (IMEI, ANDROID_ID, "13812345678", "张伟", "0c5a0e5c-7f2b"):
        assert value not in html, value
    assert "<mark>97************9c</mark>" in html and "(--redact)" in html


def test_suppressions_are_shown_with_reasons_and_unused_entries() -> None:
    s = parse_suppressions({"accept": [
        {"sdk": "AppsFlyer", "rules": ["PIPL-23"], "reason": "attribution is declared in the policy"},
        {"vendor": "Nobody Ltd", "reason": "left over"},
    ]})
    result, prof = hostile_session(s)
    html = render_html(judge([result], prof, s), suppressions=s)
    section = html[html.index('id="suppressed"'):html.index('id="checklist"')]
    assert 'data-rule="PIPL-23"' in section and "attribution is declared in the policy" in section
    assert "matched nothing in this report" in section and "vendor=nobody ltd" in section
    main = html[html.index('id="violations"'):html.index('id="suppressed"')]
    assert 'data-rule="PIPL-23"' not in main


@pytest.mark.parametrize(("evidence", "match", "want"), [
    ("abc123def", (3, 6), ("abc", "123", "def")),
    ("abc", (0, 0), ("abc", "", "")),
    ("abc", (2, 9), ("abc", "", "")),
    ("abc", (-1, 2), ("abc", "", "")),
    ("abc", ("x", 2), ("abc", "", "")),
    ("<b>", (0, 3), ("", "<b>", "")),  # plain text: the template escapes each part
])
def test_highlight(evidence: str, match: tuple, want: tuple[str, str, str]) -> None:
    assert highlight(evidence, match) == want


def test_deterministic(hostile, html: str) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    assert render_html(judge([result], prof), title="consentscope: hostile") == html


def test_undeclared_recipients_show_their_requests_and_connections() -> None:
    s = parse_suppressions({"declared": {"data_types": ["imei", "phone_number", "real_name"],
                                         "sdk": [{"name": "Umeng"}, {"name": "AppsFlyer"}]}})
    result, prof = hostile_session(s)
    checks = {(v.rule, v.check) for v in result.violations}
    assert {("MIIT-3", "undeclared-recipient"), ("MIIT-3", "undeclared-contact")} <= checks
    html = render_html(judge([result], prof, s), suppressions=s)
    blocks = html[html.index('id="violations"'):html.index('id="checklist"')].split('data-rule="')
    recipient = next(b for b in blocks if "privacy policy&#39;s SDK list does not name (Tencent" in b)
    assert "POST https://mi.gdt.qq.com/gdt_mview.fcg?oaid=" in recipient  # the request that went there
    contact = next(b for b in blocks if "connected to 1 SDK host" in b)
    assert "tls-sni" in contact and "tsis.jpush.cn" in contact  # the connection that shows it
