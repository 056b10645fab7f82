"""The judgement as an Excel workbook (``--xlsx``): what a reviewer filters and annotates.

Four sheets, headers in the report's language (``lang``: en or zh):

- violations: session, rule, severity, category, explanation, evidence flows and events,
  and the reason when a project file accepted it;
- findings: one row per finding (the JSON finding, the encoding chain joined with " › ");
- SDKs: per third-party SDK the data types sent, findings, and how many before consent;
- coverage: the JSON ``coverage`` (all sessions), a "total" row then one row per destination.

Captured traffic must not run in the reviewer's spreadsheet: a text cell that a spreadsheet
would read as a formula gets a leading apostrophe (as the CSV does), characters XML cannot
hold are replaced, and text longer than a cell holds is cut, saying so.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consentscope.model import AuditFinding, Coverage, Judgement, Phase, iso_time
from consentscope.reports.csv_report import FORMULA_START
from consentscope.reports.json_report import coverage_json
from consentscope.reports.redact import redact

LANGS = ("en", "zh")

#: the sheets, in order: (title en, title zh), then the header texts of each (en, zh)
SHEETS: dict[str, tuple[str, str]] = {
    "violations": ("violations", "违规"),
    "findings": ("findings", "发现"),
    "sdks": ("SDKs", "SDK"),
    "coverage": ("coverage", "覆盖率"),
}
HEADERS: dict[str, tuple[tuple[str, str], ...]] = {
    "violations": (
        ("session", "会话"), ("rule", "规则"), ("severity", "严重程度"), ("category", "类别"),
        ("explanation", "说明"), ("evidence flows", "证据请求"), ("evidence events", "证据事件"),
        ("suppressed (reason)", "已接受（理由）"),
    ),
    "findings": (
        ("time", "时间"), ("session", "会话"), ("host", "主机"), ("party", "归属方"), ("SDK", "SDK"),
        ("data type", "数据类型"), ("encoding", "编码链"), ("location", "位置"), ("phase", "阶段"),
        ("source", "来源"), ("evidence", "证据"),
    ),
    "sdks": (
        ("SDK", "SDK"), ("vendor", "厂商"), ("data types", "数据类型"), ("findings", "发现数"),
        ("before consent", "同意前"),
    ),
    "coverage": (
        ("host", "主机"), ("SDK", "SDK"), ("vendor", "厂商"), ("party", "归属方"), ("requests", "请求数"),
        ("readable", "可读"), ("opaque", "不透明"), ("truncated", "截断"), ("empty", "空"),
        ("unread connections", "未读连接"),
    ),
}
TOTAL = ("total", "合计")

#: Excel's longest cell text
MAX_CELL = 32_767
_CUT = " …[cut]"
#: characters an XML 1.0 document cannot hold (openpyxl refuses them)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def cell(value: object) -> object:
    """A value as it may go into a cell: numbers as they are, text formula-safe and bounded."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = _ILLEGAL.sub("\ufffd", str(value))
    if text.startswith(FORMULA_START):
        text = "'" + text
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - len(_CUT)] + _CUT
    return text


@dataclass(slots=True)
class _SdkRow:
    sdk: str
    vendor: str
    data_types: set[str] = field(default_factory=set)
    findings: int = 0
    before_consent: int = 0


def _sdk_rows(findings: Iterable[AuditFinding]) -> list[_SdkRow]:
    rows: dict[str, _SdkRow] = {}
    for f in findings:
        d = f.destination
        if not d.sdk or d.party == "first-party":
            continue
        row = rows.setdefault(d.sdk, _SdkRow(d.sdk, d.vendor or ""))
        row.data_types.add(f.finding.data_type)
        row.findings += 1
        row.before_consent += f.phase == Phase.BEFORE_CONSENT
    return sorted(rows.values(), key=lambda r: (-r.before_consent, -r.findings, r.sdk))


def _rows(judgement: Judgement, lang: str, redacted: bool) -> dict[str, list[Sequence[Any]]]:
    sessions = judgement.sessions
    findings = sorted((f for s in sessions for f in s.findings), key=AuditFinding.sort_key)
    zh = lang == "zh"
    violations: list[Sequence[Any]] = [
        (v.session, v.rule, v.severity, v.category, (v.explanation_zh or v.explanation) if zh else v.explanation,
         " ".join(v.flows), " ".join(v.events), v.suppressed or "")
        for s in sessions for v in s.violations
    ]
    finding_rows: list[Sequence[Any]] = [
        (iso_time(f.time), f.session, f.host, f.destination.party, f.destination.sdk or "", f.finding.data_type,
         " › ".join(f.finding.encoding), f.finding.location, f.phase, f.source,
         (redact(f.finding.evidence) or "") if redacted else f.finding.evidence)
        for f in findings
    ]
    sdk_rows: list[Sequence[Any]] = [(r.sdk, r.vendor, ", ".join(sorted(r.data_types)), r.findings, r.before_consent)
                for r in _sdk_rows(findings)]
    total = Coverage()
    for s in sessions:
        total.merge(s.coverage)
    cov = coverage_json(total)
    counts = ("requests", "readable", "opaque", "truncated", "empty", "unread_connections")
    coverage_rows: list[Sequence[Any]] = [(TOTAL[zh], "", "", "", *(cov[k] for k in counts))]
    coverage_rows += [(d["host"], d["sdk"] or "", d["vendor"] or "", d["party"], *(d[k] for k in counts))
                      for d in cov["destinations"]]
    return {"violations": violations, "findings": finding_rows, "sdks": sdk_rows, "coverage": coverage_rows}


def render_xlsx(judgement: Judgement, *, lang: str = "en", redacted: bool = False) -> bytes:
    """The workbook as bytes (``files.write_private`` writes them owner-only)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    zh = lang == "zh"
    rows = _rows(judgement, lang, redacted)
    wb = Workbook()
    first = True
    for key, titles in SHEETS.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        first = False
        ws.title = titles[zh]
        ws.append([h[zh] for h in HEADERS[key]])
        for c in ws[1]:
            c.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for row in rows[key]:
            ws.append([cell(v) for v in row])  # no text starts with "=": openpyxl makes no formula
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
