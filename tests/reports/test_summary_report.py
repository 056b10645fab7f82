"""The batch summary renders from journal entries: hostile text escaped, formulas quoted,
SDKs counted per app and ordered the same way every time."""

from __future__ import annotations

from consentscope.reports.summary_report import build_summary, render_summary_csv, render_summary_html


def entry(i: int, app: str, uses: list[dict], status: str = "ok", error: str = "") -> dict:
    return {"key": f"k{i}", "id": f"s{i}", "capture": f"c{i}.mitm", "sha256": "0" * 64, "app_package": app,
            "label": f"<b>label {i}</b>", "status": status, "error": error, "requests": 3, "findings": 2,
            "violations": ["MIIT-1.2"], "verdicts": {"MIIT-1": "violation"}, "report": True, "sdk_use": uses}


ENTRIES = [
    entry(1, "com.a", [{"sdk": "Umeng", "vendor": "Umeng", "types": ["imei", "oaid"], "before": ["imei"]}]),
    entry(2, "com.b", [{"sdk": "Umeng", "vendor": "Umeng", "types": ["oaid"], "before": []},
                       {"sdk": "JPush", "vendor": "Aurora", "types": ["android_id"], "before": ["android_id"]}]),
    entry(3, "com.a", [{"sdk": "JPush", "vendor": "Aurora", "types": [], "before": []}], "error", "=cmd|' /C calc'!A0"),
]


def test_sdks_are_counted_per_app() -> None:
    s = build_summary(ENTRIES)
    assert s["sdks"] == [
        {"sdk": "JPush", "vendor": "Aurora", "apps": 2, "apps_before_consent": 1,
         "data_types_before_consent": ["android_id"]},
        {"sdk": "Umeng", "vendor": "Umeng", "apps": 2, "apps_before_consent": 1, "data_types_before_consent": ["imei"]},
    ]
    assert s["errors"] == [{"id": "s3", "capture": "c3.mitm", "error": "=cmd|' /C calc'!A0"}]
    assert "sdk_use" not in s["sessions"][0] and "key" not in s["sessions"][0]
    assert build_summary(list(ENTRIES)) == s


def test_csv_quotes_formulas_and_html_escapes() -> None:
    s = build_summary(ENTRIES)
    assert "'=cmd" in render_summary_csv(s)
    html = render_summary_html(s, ENTRIES)
    assert "<b>label" not in html and "&lt;b&gt;label 1&lt;/b&gt;" in html
    assert 'href="sessions/s1.html"' in html
    assert html.count("<tr>") >= 1 + len(ENTRIES)
