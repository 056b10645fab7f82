"""The HTML report (reports/html_report.py + templates/report.html.j2): order, evidence,
escaping, self-containment, --lang, --redact, suppressions. Rendered in-process from sessions
the real pipeline made out of hostile requests."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from consentscope.reports.html_report import excerpt_match, highlight, rehighlight, render_html
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
    return render_html(judge([result], prof), title="consentscope: hostile", tz="UTC")


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
    tags = parse(html).tags
    ids = {a["id"] for _, a in tags if a.get("id")}
    links = []
    for tag, attrs in tags:
        for k, v in attrs.items():
            if tag == "a" and k == "href" and v and v.startswith("#"):
                links.append(v[1:])  # the table of contents: links inside the page only
                continue
            assert k not in ("src", "href", "xlink:href", "action", "srcset"), (tag, k, v)
    assert links and set(links) <= ids
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
    assert render_html(judge([result], prof), title="consentscope: hostile", tz="UTC") == html


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


class Visible(HTMLParser):
    """The text a reader sees or hovers (SVG titles included), without the style sheet. Apart:
    the rules' words (explanations and the checklist's how-to, written by ``consentscope.rules``)
    and captured or code-like text (request lines, matched text, ``<code>``: places in the
    request, hosts, rule IDs)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.explanations: list[str] = []
        self.captured: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br", "line", "rect", "circle", "path"):
            cls = dict(attrs).get("class") or ""
            self._stack.append(
                "explanation" if cls in ("explanation", "how") else "captured" if cls in ("url", "ev") else tag
            )

    def handle_endtag(self, tag: str) -> None:
        if self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if "style" in self._stack:
            return
        if "explanation" in self._stack:
            self.explanations.append(data)
        elif "captured" in self._stack or "code" in self._stack:
            self.captured.append(data)
        else:
            self.text.append(data)


#: the report's own English words: headings, parties, relations, phases, events, data-type keys
VOCABULARY = (
    "third-party", "first-party", "same-group-sdk", "os-service", "before-consent", "after-consent",
    "no-consent-recorded", "installed_apps", "android_id", "phone_number", "imei", "oaid", "gaid",
    "app-start", "consent", "permission-denied", "permission-asked", "tls-sni", "Violation", "Violations",
    "Timeline", "Findings", "Verdict", "Summary", "Destinations", "Evidence", "Session", "Contents", "Phase",
    "Request", "Data type", "severity", "confidence", "plain", "file", "before consent", "after consent",
    "analytics", "advertising", "push", "attribution", "Umeng", "Tencent",
)


def visible(html: str) -> Visible:
    v = Visible()
    v.feed(html)
    return v


def test_chinese_everywhere(hostile) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    zh = render_html(judge([result], prof), lang="zh", tz="Asia/Shanghai")
    v = visible(zh)
    text = "\n".join(v.text)
    left = sorted({w for w in VOCABULARY if re.search(rf"(?<![\w./-]){re.escape(w)}(?![\w-])", text)})
    assert not left, left
    for term in ("第三方", "第一方", "同意前", "同意后", "IMEI(设备识别码)", "Android ID(安卓标识符)", "启动App",
                 "拒绝权限", "申请权限", "时间线", "违规项", "目录", "友盟+", "优量汇", "极光", "统计分析", "+10 秒"):
        assert term in text, term
    # the rules' explanations are the rules' words (consentscope.rules), in Chinese already
    assert v.explanations and all(re.search(r"[\u4e00-\u9fff]", e) for e in v.explanations)


def test_times_in_the_chosen_zone(hostile) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    sh = render_html(judge([result], prof), tz="Asia/Shanghai")
    text = "\n".join(visible(sh).text)
    assert "Time (Asia/Shanghai)" in text and "Times in Asia/Shanghai" in text
    assert "2026-03-02T18:00:40.000+08:00" in text  # the consent, 10:00:40Z
    assert "starts 2026-03-02T18:00:00.000+08:00" in text  # the timeline starts at the session's start
    assert not re.search(r"T\d\d:\d\d:\d\d\.\d{3}Z", text)
    utc = render_html(judge([result], prof), tz="UTC")
    assert "2026-03-02T10:00:40.000Z" in utc and "+08:00" not in utc
    with pytest.raises(ValueError, match="time zone"):
        render_html(judge([result], prof), tz="Mars/Olympus")


def test_contents_links_and_print_stylesheet(html: str) -> None:
    tags = parse(html).tags
    links = [a["href"] for t, a in tags if t == "a"]
    sections = [f"#{a['id']}" for t, a in tags if t == "section"]
    assert links == sections  # one link per section, in order
    css = html[html.index("<style>"):html.index("</style>")]
    body = css.split("@media print{", 1)[1]
    assert "position:sticky" in css.split("@media print{")[0]  # the contents bar stays on screen...
    assert "position:static !important" in body  # ...but nothing sticks on paper
    assert "break-before:page" in body and 'attr(href)' in body
    for font in ('"Noto Sans CJK SC"', '"PingFang SC"', '"Microsoft YaHei"', '"Source Han Sans SC"'):
        assert font in css.split("body{", 1)[1].split("}", 1)[0] and font in css.split("svg text{", 1)[1]


def test_title_from_the_sessions_app(hostile) -> None:  # type: ignore[no-untyped-def]
    result, prof = hostile
    j = judge([result], prof)
    assert "<title>consentscope: Consent Demo Shop</title>" in render_html(j, tz="UTC")
    assert "<title>consentscope: Consent Demo Shop</title>" in render_html(j, "consentscope report", tz="UTC")
    assert "<title>mine</title>" in render_html(j, "mine", tz="UTC")


@pytest.mark.parametrize(("evidence", "want"), [
    ("…" + "a" * 24 + "MATCH" + "b" * 24 + "…", (25, 30)),  # both edges from the excerpt's form
    ("…" + "中" * 8 + "MATCH" + "b" * 24 + "…", (9, 14)),  # context counted in UTF-8 bytes
    ("…" + "a" * 23 + "·MATCH" + "b" * 24 + "…", (None, 30)),  # a replaced byte: that side is unknown
    ("abcMATCH" + "b" * 24 + "…", (None, 8)),
    ("MATCH", (None, None)),
])
def test_excerpt_match(evidence: str, want: tuple) -> None:
    assert excerpt_match(evidence) == want


def test_stored_findings_are_highlighted_again_only_where_certain(hostile) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    result, _ = hostile
    stored = [replace(f, finding=replace(f.finding, match=(0, 0))) for f in result.findings]
    found = rehighlight(stored)
    assert found, "the excerpt with both ellipses is highlighted exactly"
    for f, orig in zip(stored, result.findings, strict=True):
        assert found.get(id(f), orig.finding.match) == orig.finding.match  # never a different highlight
    # a text learned from one finding is found again in another of the same type and form
    twin = replace(stored[0], finding=replace(stored[0].finding, evidence="x=" + ANDROID_ID + ";"))
    assert rehighlight([stored[0], twin])[id(twin)] == (2, 18)
    # ...but not where it occurs twice
    twice = replace(twin, finding=replace(twin.finding, evidence=f"{ANDROID_ID};{ANDROID_ID}"))
    assert id(twice) not in rehighlight([stored[0], twice])
