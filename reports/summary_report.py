"""The batch summary: ``summary.json`` (a contract, its shape lives here and only here),
``summary.csv`` and ``summary.html``.

``summary.json``::

    {"version": 1,
     "sessions": [{"id", "capture", "sha256", "app_package", "label", "status": "ok"|"error", "error",
                   "requests", "findings", "violations": [rule IDs], "verdicts": {category: status}}],
     "sdks": [{"sdk", "vendor", "apps", "apps_before_consent", "data_types_before_consent"}],
     "errors": [{"id", "capture", "error"}]}

Sessions are in input order; SDKs by the number of apps (most first), then name. Nothing in
it depends on timing or on the order tasks finished in: the same input gives the same bytes.
A session's entry is made once, when its task finishes (``session_entry``); the summary is
built from entries only, so a resumed batch and an uninterrupted one give the same summary.
``version`` is bumped whenever a key changes (``consentscope.batch.SUMMARY_FORMAT_VERSION``).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from consentscope.consent import BEFORE_CONSENT
from consentscope.reports.csv_report import _cell

if TYPE_CHECKING:
    from consentscope.batch import Task, TaskOutcome

SESSION_KEYS = ("id", "capture", "sha256", "app_package", "label", "status", "error", "requests", "findings",
                "violations", "verdicts")
CSV_COLUMNS = (*SESSION_KEYS[:-1], "verdicts")


def session_entry(task: Task, outcome: TaskOutcome) -> dict[str, Any]:
    """One finished task as the summary needs it (plus its key and, for the SDK table, which
    SDKs got which data types): what the journal keeps."""
    r = outcome.result
    judgement = outcome.judgement
    sdk_use: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {"types": set(), "before": set()})
    if r is not None:
        for f in r.findings:
            d = f.destination
            if d.sdk:
                use = sdk_use[(d.sdk, d.vendor or "")]
                use["types"].add(f.finding.data_type)
                if f.phase == BEFORE_CONSENT:
                    use["before"].add(f.finding.data_type)
        for c in r.contacts:
            if c.destination.sdk:
                sdk_use[(c.destination.sdk, c.destination.vendor or "")]  # contacted, no data seen
    return {
        "key": task.key,
        "id": task.session_id,
        "capture": task.shown,
        "sha256": task.sha256,
        "app_package": (r.app_package if r is not None else task.app_package) or "",
        "label": (r.label if r is not None else task.label) or "",
        "status": outcome.status,
        "error": outcome.error,
        "requests": r.requests if r is not None else 0,
        "findings": len(r.findings) if r is not None else 0,
        "violations": sorted({v.rule for v in r.violations if not v.suppressed}) if r is not None else [],
        "verdicts": {v.category.id: v.status for v in judgement.verdicts} if judgement is not None else {},
        "report": r is not None,
        "sdk_use": [{"sdk": s, "vendor": v, "types": sorted(u["types"]), "before": sorted(u["before"])}
                    for (s, v), u in sorted(sdk_use.items())],
    }


def _app(entry: dict[str, Any]) -> str:
    return entry["app_package"] or entry["label"] or entry["id"]


def build_summary(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from consentscope.batch import SUMMARY_FORMAT_VERSION

    sdks: dict[str, dict[str, Any]] = {}
    for e in entries:
        for u in e.get("sdk_use", ()):
            s = sdks.setdefault(u["sdk"], {"sdk": u["sdk"], "vendor": u["vendor"], "apps": set(), "before": set(),
                                           "types": set()})
            s["apps"].add(_app(e))
            s["types"].update(u["types"])
            if u["before"]:
                s["before"].add(_app(e))
            s.setdefault("before_types", set()).update(u["before"])
    sdk_rows = [
        {"sdk": s["sdk"], "vendor": s["vendor"], "apps": len(s["apps"]), "apps_before_consent": len(s["before"]),
         "data_types_before_consent": sorted(s.get("before_types", ()))}
        for s in sdks.values()
    ]
    sdk_rows.sort(key=lambda r: (-r["apps"], -r["apps_before_consent"], r["sdk"]))
    return {
        "version": SUMMARY_FORMAT_VERSION,
        "sessions": [{k: e[k] for k in SESSION_KEYS} for e in entries],
        "sdks": sdk_rows,
        "errors": [{"id": e["id"], "capture": e["capture"], "error": e["error"]} for e in entries
                   if e["status"] == "error"],
    }


def render_summary_csv(summary: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for s in summary["sessions"]:
        row = {**s, "violations": " ".join(s["violations"]),
               "verdicts": " ".join(f"{k}={v}" for k, v in s["verdicts"].items())}
        w.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(loader=PackageLoader("consentscope.reports", "templates"), autoescape=True,
                           undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return _ENV


#: The summary page's words (``--lang``); SDK, vendor, data-type and verdict names come from
#: ``reports.i18n.Words`` and ``rules.STATUS`` like the session reports'.
SUMMARY_UI: dict[str, dict[str, str]] = {
    "en": {
        "title": "consentscope batch summary",
        "sessions_line": "{n} sessions: {ok} audited, {failed} failed · format version {version}",
        "verdict_per_app": "Verdict per app", "session": "session", "app": "app", "label": "label",
        "status": "status", "requests": "requests", "findings": "findings", "violations": "violations",
        "ok": "ok", "error": "error",
        "matrix": "SDK × data type across apps",
        "matrix_note": "Each cell: apps that sent this data type to this SDK (red: how many of them before consent).",
        "sdk": "SDK", "vendor": "vendor", "apps": "apps", "before_consent": "before consent",
        "no_sdk_data": "No data sent to a known SDK.", "sdks": "SDKs contacted",
        "apps_before": "apps before consent", "types_before": "data types before consent",
        "errors": "Errors", "capture": "capture",
    },
    "zh": {
        "title": "consentscope 批量审计汇总",
        "sessions_line": "共 {n} 个会话：{ok} 个已审计，{failed} 个失败 · 格式版本 {version}",
        "verdict_per_app": "各App结论", "session": "会话", "app": "App", "label": "标签",
        "status": "状态", "requests": "请求数", "findings": "发现数", "violations": "违规规则",
        "ok": "完成", "error": "出错",
        "matrix": "各App中SDK × 数据类型",
        "matrix_note": "每格：向该SDK发送该类数据的App数（红色：其中在同意前发送的App数）。",
        "sdk": "SDK", "vendor": "厂商", "apps": "App数", "before_consent": "同意前",
        "no_sdk_data": "未发现发往已知SDK的数据。", "sdks": "联系过的SDK",
        "apps_before": "同意前发送的App数", "types_before": "同意前发送的数据类型",
        "errors": "错误", "capture": "抓包文件",
    },
}


def render_summary_html(summary: dict[str, Any], entries: Sequence[dict[str, Any]] | None = None,
                        title: str | None = None, lang: str = "en") -> str:
    """A per-app verdict table, the SDK × data-type matrix across apps (cells: apps sending
    that type to that SDK, and how many of them before consent), links to each session's report.
    ``lang``: ``en`` or ``zh`` (names of SDKs, vendors, data types and verdicts too)."""
    from consentscope.reports.i18n import LANGS, Words
    from consentscope.rules import CATEGORIES, STATUS

    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    ui = SUMMARY_UI[lang]

    matrix: dict[str, dict[str, list[set[str]]]] = defaultdict(lambda: defaultdict(lambda: [set(), set()]))
    for e in entries or ():
        for u in e.get("sdk_use", ()):
            for t in u["types"]:
                cell = matrix[u["sdk"]][t]
                cell[0].add(_app(e))
                if t in u["before"]:
                    cell[1].add(_app(e))
    types = sorted({t for row in matrix.values() for t in row})
    sdk_order = [s["sdk"] for s in summary["sdks"] if s["sdk"] in matrix]
    cells = {sdk: {t: (len(matrix[sdk][t][0]), len(matrix[sdk][t][1])) if t in matrix[sdk] else None for t in types}
             for sdk in sdk_order}
    reports = {e["id"]: e.get("report", True) for e in entries or ()}
    statuses = {k: (zh if lang == "zh" else en) for k, (en, zh) in STATUS.items()}
    return _env().get_template("summary.html.j2").render(
        title=title or ui["title"], summary=summary, categories=list(CATEGORIES.values()), types=types,
        sdk_order=sdk_order, cells=cells, reports=reports, t=ui, w=Words(lang), lang=lang, statuses=statuses,
        ok=sum(s["status"] == "ok" for s in summary["sessions"]),
        failed=sum(s["status"] == "error" for s in summary["sessions"]),
    )


__all__ = ["SESSION_KEYS", "build_summary", "render_summary_csv", "render_summary_html", "session_entry"]
