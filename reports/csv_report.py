"""Findings as CSV (spreadsheet users): the JSON finding keys, one row per finding."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from consentscope.pipeline import AuditFinding, SessionResult
from consentscope.reports.redact import redact

COLUMNS = ("session", "flow_id", "time", "method", "url", "host", "party", "relation", "sdk", "vendor", "category",
           "data_type", "encoding", "location", "phase", "evidence")


def render_csv(sessions: Sequence[SessionResult], *, redacted: bool = False) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for f in sorted((f for s in sessions for f in s.findings), key=AuditFinding.sort_key):
        row = f.to_json()
        row["encoding"] = ">".join(row["encoding"])
        if redacted:
            row["url"], row["evidence"] = redact(row["url"]), redact(row["evidence"])
        # a cell starting with = + - @ is a formula to a spreadsheet: captured traffic must not run
        w.writerow(["'" + str(v) if isinstance(v, str) and v[:1] in "=+-@" else v for v in (row[c] for c in COLUMNS)])
    return out.getvalue()
