"""The JSON document (reports/json_report.py): keys, violations and suppressed, redaction."""

from __future__ import annotations

import json

from consentscope import JSON_FORMAT_VERSION
from consentscope.reports.json_report import build_document, render_json
from consentscope.rules import parse_suppressions
from consentscope.session import judge
from tests.reports.sessions import IMEI, SCRIPT, hostile_session

FINDING_KEYS = {"session", "flow_id", "time", "method", "url", "host", "party", "relation", "sdk", "vendor",
                "category", "data_type", "encoding", "location", "phase", "evidence", "source",
                "confidence"}


def test_keys_timeline_and_violations() -> None:
    result, _ = hostile_session()
    doc = build_document(judge([result]))
    assert set(doc) == {"version", "sessions", "findings", "contacts", "timeline", "violations", "suppressed",
                        "verdicts", "coverage"}
    assert doc["version"] == JSON_FORMAT_VERSION == 8
    assert all(set(f) == FINDING_KEYS for f in doc["findings"])  # version 6 added "source"
    assert {f["source"] for f in doc["findings"]} == {"flow"}
    assert [v["category"] for v in doc["verdicts"]] == [f"MIIT-{i}" for i in range(1, 9)]
    assert {v["status"] for v in doc["verdicts"]} <= {"violation", "not-seen", "cannot-tell", "checklist"}
    assert doc["coverage"]["requests"] == 5 and doc["coverage"]["unread_connections"] == 1
    assert [e["event"] for e in doc["timeline"]] == ["app-start", "consent", "permission-denied", "permission-asked"]
    assert set(doc["timeline"][0]) == {"session", "time", "event", "detail", "source"}
    v = doc["violations"][0]
    assert {"rule", "severity", "confidence", "explanation", "evidence"} <= set(v)
    assert v["rule"] == "MIIT-1.2" and v["evidence"]["flows"] == ["flow-1", "flow-2", "flow-3"]
    assert v["evidence"]["events"] == ["2026-03-02T10:00:40.000Z"] and doc["suppressed"] == []


def test_suppressed_are_separate_with_their_reason() -> None:
    s = parse_suppressions({"accept": [{"sdk": "AppsFlyer", "reason": "declared"}]})
    result, _ = hostile_session(s)
    doc = build_document(judge([result], None, s))
    assert {v["rule"] for v in doc["suppressed"]} == {"PIPL-23", "CAC-NPI-5"}
    assert all(v["reason"] == "declared" for v in doc["suppressed"])
    assert "PIPL-23" not in {v["rule"] for v in doc["violations"]}


def test_redacted_masks_urls_evidence_and_event_details() -> None:
    result, _ = hostile_session()
    text = render_json(judge([result]), redacted=True)
    assert IMEI not in text and "9774d56d682e549c" not in text
    doc = json.loads(text)
    assert doc["timeline"][0]["detail"] == doc["sessions"][0]["events"][0]["detail"]
    plain = json.loads(render_json(judge([result])))
    assert SCRIPT in plain["timeline"][0]["detail"] and plain["findings"][0]["url"].startswith("https://")
