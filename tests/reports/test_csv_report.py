"""Findings as CSV (reports/csv_report.py): columns, formula injection, redaction."""

from __future__ import annotations

import csv
import io

from consentscope.detectors import Finding
from consentscope.model import AuditFinding
from consentscope.reports.csv_report import COLUMNS, render_csv
from tests.reports.sessions import IMEI, hostile_session
from tests.rules.builders import CLASSIFIER, session_of, timeline


def test_columns_and_rows() -> None:
    result, _ = hostile_session()
    rows = list(csv.DictReader(io.StringIO(render_csv([result]))))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(result.findings)
    assert rows[0]["encoding"] == ">".join(result.findings[0].finding.encoding)


def test_formulas_do_not_run_in_a_spreadsheet() -> None:
    tl = timeline([])
    evil = [AuditFinding("s", f"f{i}", i, "GET", f"https://x.example/?q={i}", "x.example",
                         CLASSIFIER.classify("x.example"), Finding("imei", (), "url.query:q", ev), tl.phase_at(i))
            for i, ev in enumerate(["=HYPERLINK(\"http://evil\")", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "ok"])]
    rows = list(csv.reader(io.StringIO(render_csv([session_of(evil)]), newline="")))[1:]
    evidence = [r[COLUMNS.index("evidence")] for r in rows]
    assert all(e.startswith("'") for e in evidence[:-1]) and evidence[-1] == "ok"


def test_redacted() -> None:
    result, _ = hostile_session()
    assert IMEI in render_csv([result]) and IMEI not in render_csv([result], redacted=True)


def test_line_breaks_in_captured_text_stay_inside_their_cell() -> None:
    tl = timeline([])
    evil = [AuditFinding("s", f"f{i}", i, "GET", "https://x.example/", "x.example", CLASSIFIER.classify("x.example"),
                         Finding("imei", (), "body", ev), tl.phase_at(i))
            for i, ev in enumerate(["a\rb", "c\nd", "e\r\nf"])]
    rows = list(csv.reader(io.StringIO(render_csv([session_of(evil)]), newline="")))
    assert len(rows) == 4 and [r[COLUMNS.index("evidence")] for r in rows[1:]] == ["a\rb", "c\nd", "e\r\nf"]
