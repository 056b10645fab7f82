"""Findings as CSV (spreadsheet users): the JSON finding keys, one row per finding."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from consentscope.model import AuditFinding, SessionResult
from consentscope.reports.json_report import finding_json
from consentscope.reports.redact import redact

COLUMNS = ("session", "flow_id", "time", "method", "url", "host", "party", "relation", "sdk", "vendor", "category",
           "data_type", "encoding", "location", "phase", "evidence")


#: a cell starting with one of these is a formula (or becomes one) to a spreadsheet (OWASP CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Captured traffic must not run in the tester's spreadsheet: quote would-be formulas."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


#: first character of the file with ``bom``: Excel reads a CSV without it in the system's
#: code page (GBK on Chinese Windows), which garbles every non-ASCII character
BOM = "\ufeff"


def render_csv(sessions: Sequence[SessionResult], *, redacted: bool = False, bom: bool = False) -> str:
    out = io.StringIO()
    if bom:
        out.write(BOM)
    # RFC 4180 line ends: the writer quotes a field holding any line-terminator character, so
    # a CR or LF inside captured text cannot split a row (with "\n" alone a bare CR went unquoted)
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for f in sorted((f for s in sessions for f in s.findings), key=AuditFinding.sort_key):
        row = finding_json(f)
        row["encoding"] = ">".join(row["encoding"])
        if redacted:
            row["url"], row["evidence"] = redact(row["url"]), redact(row["evidence"])
        w.writerow([_cell(row[c]) for c in COLUMNS])
    return out.getvalue()
