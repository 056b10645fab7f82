"""Timeline files: JSON, JSON Lines (hook logs), CSV; errors name file and line (timeline_file.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentscope.consent import ConsentTimeline
from consentscope.model import SessionResult
from consentscope.rules import evaluate
from consentscope.timeline_file import TimelineFileError, parse_timeline, read_timeline
from tests.rules.builders import SHOP

DATA = Path(__file__).parent / "data"


def test_frida_hook_log_as_json_lines_with_milliseconds() -> None:
    events = read_timeline(DATA / "frida_hook_log.jsonl")
    assert [e.event for e in events][:4] == ["app-start", "note", "note", "policy-shown"]
    assert events[0].time == pytest.approx(1772445600.120) and all(e.source == "file" for e in events)
    consent = next(e for e in events if e.event == "consent")
    assert consent.detail == "PrivacyDialog agree button onClick" and consent.time == pytest.approx(1772445641.9)
    # the log alone feeds the timeline checks: permission asked before consent, re-asked after a denial
    tl = ConsentTimeline(events)
    r = SessionResult("hook", "hook", (), "", [], tl.events, 0, [], {}, [], None, None)  # type: ignore[arg-type]
    assert {v.rule for v in evaluate(r, SHOP)} == {"IDM-3.1", "MIIT-6"}


def test_tester_csv_with_offsets_quotes_blank_lines_and_extra_columns() -> None:
    events = read_timeline(DATA / "tester_log.csv")
    assert [e.event for e in events] == ["app-start", "policy-shown", "consent", "permission-denied", "note"]
    assert events[1].time - events[0].time == 3  # +08:00 is converted
    assert events[2].detail == 'tapped Agree, then "OK"' and events[4].detail == ""


def test_json_list_and_sorting(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"time": "2026-03-02T10:01:00Z", "event": "withdraw"},
                             {"time": 1772445630, "event": "agree", "detail": "tap"},
                             {"time": "2026-03-02T10:00:00", "event": "start"}], indent=1))
    assert [(e.event, e.time) for e in read_timeline(p)] == [
        ("app-start", 1772445600.0), ("consent", 1772445630.0), ("withdrawal", 1772445660.0)]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.json", '[\n {"time": 1, "event": "consent"},\n\n {"time": 2, "event": "maybe"}\n]',
     r"a\.json: line 4: unknown event 'maybe'"),
    ("b.json", '[\n {"time": 1, "event": "consent"}\n {"time": 2}\n]', r"b\.json: line 3: expected ',' or ']'"),
    ("c.json", '[\n {"time": 1, "event": "consent"},\n "consent"\n]', r"c\.json: line 3: expected an object"),
    ("d.json", '[{"time": 1, "event": "consent"}] x', r"d\.json: line 1: text after the list"),
    ("e.json", '[{"time": 1, "event": "consent",}]', r"e\.json: line 1, column \d+"),
    ("f.jsonl", '{"time": 1, "event": "consent"}\n{"time": true, "event": "note"}\n', r"f\.jsonl: line 2: missing time"),
    ("g.jsonl", '{"time": 1, "event": "consent"}\n{"time": 2, "event": "note"\n', r"g\.jsonl: line 2, column \d+"),
    ("h.csv", "time,event\n2026-03-02T10:00:30Z,consent\nyesterday,consent\n", r"h\.csv: line 3: time 'yesterday'"),
    ("i.csv", "when,what\n1,consent\n", r"i\.csv: line 1: expected a CSV header with time,event"),
    ("j.csv", "time,event,detail\n1,note,a,b\n", r"j\.csv: line 2: 4 fields, the header has 3"),
    ("k.csv", "time,event,detail\n1,,x\n", r"k\.csv: line 2: missing event name"),
    ("l.csv", "time,event,detail\nnan,consent,x\n", r"l\.csv: line 2: time 'nan' is not a time"),
    ("m.json", "", r"m\.json: empty file"),
    ("n.jsonl", '{"time": 1, "event": "note", "detail": {"a": 1}}\n', r"n\.jsonl: line 1: detail must be text"),
])
def test_errors_name_the_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(TimelineFileError, match=message):
        read_timeline(p)


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(TimelineFileError, match=r"nope\.csv: cannot read"):
        read_timeline(tmp_path / "nope.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"time,event\n1,consent\n\xff\xfe\n")
    with pytest.raises(TimelineFileError, match=r"bin\.csv: line 3: not UTF-8"):
        read_timeline(p)


def test_epoch_seconds_and_milliseconds() -> None:
    [a, b] = parse_timeline('[{"time": 1772445600, "event": "note"}, {"time": 1772445600500, "event": "note"}]')
    assert (a.time, b.time) == (1772445600.0, 1772445600.5)


def test_regulation_marker_names_are_accepted() -> None:
    text = "time,event,detail\n1,consent_accepted,\n2,consent_scope,necessary_only\n3,personalization_off,\n"
    assert [e.event for e in parse_timeline(text)] == ["consent", "consent-scope", "personalization-off"]
