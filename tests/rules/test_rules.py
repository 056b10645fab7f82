"""Each rule on sessions built from real objects: fires on its evidence, stays quiet without it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from consentscope.consent import ConsentTimeline, TimelineEvent
from consentscope.destination import DestinationClassifier
from consentscope.detectors import Finding
from consentscope.pipeline import AuditFinding, SessionResult
from consentscope.profile import AppInfo, Profile
from consentscope.rules import Thresholds, evaluate, fail_on
from consentscope.timeline_file import TimelineFileError, read_timeline

ROOT = Path(__file__).resolve().parents[2]
CLASSIFIER = DestinationClassifier(["demoshop.com.cn"])
SHOP = Profile(path="", app=AppInfo(package="com.example", app_type="online_shopping",
                                    first_party_domains=("demoshop.com.cn",)))


def finding(t: float, host: str, dtype: str, timeline: ConsentTimeline, n: int = 0) -> AuditFinding:
    return AuditFinding("s", f"f{t}-{n}", t, "POST", f"https://{host}/x", host, CLASSIFIER.classify(host),
                        Finding(dtype, (), "url.query:x", "…"), timeline.phase_at(t))


def session(items: list[tuple[float, str, str]], events: list[tuple[float, str]] = ()) -> SessionResult:
    timeline = ConsentTimeline(TimelineEvent(t, e) for t, e in events)
    fs = [finding(t, h, d, timeline, i) for i, (t, h, d) in enumerate(items)]
    return SessionResult("s", "s", (), "com.example", fs, timeline.events, len(fs), [], Counter(), [], None, None)


def rules(result: SessionResult, profile: Profile = SHOP) -> dict[str, tuple[str, str]]:
    return {v.rule: (v.severity, v.confidence) for v in evaluate(result, profile)}


def test_before_consent_to_a_third_party() -> None:
    r = session([(10, "ulogs.umeng.com", "imei"), (30, "ulogs.umeng.com", "imei")], [(20, "consent")])
    got = rules(r)
    assert got["MIIT-1.2"] == ("high", "high") and got["MIIT-3"] == ("high", "high")
    assert got["PIPL-23"] == ("low", "medium")  # the after-consent transfer
    [v] = [v for v in evaluate(r, SHOP) if v.rule == "MIIT-1.2"]
    assert v.flows == ("f10-0",) and v.events == ("1970-01-01T00:00:20.000Z",)


def test_first_party_after_consent_breaks_nothing_but_scope() -> None:
    r = session([(30, "api.demoshop.com.cn", "phone_number")], [(20, "consent")])
    assert rules(r) == {}


def test_refusal_and_withdrawal() -> None:
    r = session([(30, "api.demoshop.com.cn", "email"), (50, "api.demoshop.com.cn", "email")],
                [(20, "refusal"), (40, "consent"), (45, "withdrawal")])
    assert {"IDM-3.2", "PIPL-15"} <= set(rules(r))


def test_beyond_the_app_types_necessary_scope() -> None:
    r = session([(30, "api.demoshop.com.cn", "imei"), (31, "api.demoshop.com.cn", "phone_number")], [(20, "consent")])
    [v] = [v for v in evaluate(r, SHOP) if v.rule == "CAC-NPI-5"]
    assert v.data_types == ("imei",)
    assert "CAC-NPI-5" not in rules(r, Profile(path=""))  # no app type, no scope


def test_sensitive_and_targeted_push() -> None:
    r = session([(30, "api.demoshop.com.cn", "id_number"), (31, "tsis.jpush.cn", "installed_apps")], [(20, "consent")])
    got = rules(r)
    assert "MIIT-2.3" in got and "MIIT-4" in got


@pytest.mark.parametrize(("times", "fires"), [([0, 10, 20, 30], True), ([0, 100, 200], False), ([0, 10], False)])
def test_frequency(times: list[int], fires: bool) -> None:
    r = session([(t, "api.demoshop.com.cn", "location") for t in times], [(-1, "consent")])
    assert ("MIIT-2.2" in rules(r)) is fires
    if fires:
        [v] = [v for v in evaluate(r, SHOP) if v.rule == "MIIT-2.2"]
        assert "4 times, every 10 s" in v.explanation
    assert not [v for v in evaluate(r, SHOP, Thresholds(repeat_count=10)) if v.rule == "MIIT-2.2"]


def test_fail_on_matches_ids_and_prefixes() -> None:
    r = session([(10, "ulogs.umeng.com", "imei")], [(20, "consent")])
    vs = evaluate(r, SHOP)
    assert [v.rule for v in fail_on(vs, ["MIIT-1"])] == ["MIIT-1.2"]
    assert fail_on(vs, ["MIIT-5"]) == [] and fail_on(vs, ["MIIT-1.2", "MIIT-3"])


def test_timeline_file_json_and_csv(tmp_path: Path) -> None:
    j = tmp_path / "t.json"
    j.write_text(json.dumps([{"time": "2026-03-02T10:00:30Z", "event": "agree", "detail": "tap"},
                             {"time": 1772445700, "event": "withdraw"}]))
    assert [(e.event, e.time, e.source) for e in read_timeline(str(j))] == [
        ("consent", 1772445630.0, "file"), ("withdrawal", 1772445700.0, "file")]
    c = tmp_path / "t.csv"
    c.write_text("time,event,detail\n2026-03-02T10:00:30+08:00,refuse,dialog\n")
    assert [e.event for e in read_timeline(str(c))] == ["refusal"]
    bad = tmp_path / "bad.csv"
    bad.write_text("time,event\n2026-03-02T10:00:30Z,consent\nyesterday,consent\n")
    with pytest.raises(TimelineFileError, match=r"bad\.csv: line 3: time 'yesterday'"):
        read_timeline(str(bad))


def test_cli_fail_on_and_timeline(tmp_path: Path) -> None:
    timeline = tmp_path / "log.csv"
    timeline.write_text("time,event,detail\n2026-03-02T10:00:00Z,consent,before everything\n")
    base = [sys.executable, "-m", "consentscope", "replay", str(ROOT / "captures" / "demo_session.mitm"),
            "--profile", str(ROOT / "captures" / "demo_profile.toml"), "--db", "", "-q"]
    r = subprocess.run([*base, "--consent-marker", "/v1/privacy/consent", "--fail-on", "MIIT-1"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "MIIT-1.2 (high)" in r.stderr
    out = tmp_path / "o.json"
    r = subprocess.run([*base, "--timeline", str(timeline), "--fail-on", "MIIT-1", "--json", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # consent recorded before any traffic
    doc = json.loads(out.read_text())
    assert doc["timeline"][0]["source"] == "file" and "MIIT-1.2" not in {v["rule"] for v in doc["violations"]}


def test_permission_asked_again_after_denial() -> None:
    def with_events(events: list[tuple[float, str, str]]) -> list[str]:
        timeline = ConsentTimeline(TimelineEvent(t, e, d) for t, e, d in events)
        r = SessionResult("s", "s", (), "", [], timeline.events, 0, [], Counter(), [], None, None)
        return [v.rule for v in evaluate(r, SHOP)]

    assert with_events([(0, "permission-denied", "location"), (3600, "permission-asked", "location")]) == ["MIIT-6"]
    assert with_events([(0, "permission-denied", "location"), (3600, "permission-asked", "camera")]) == []
    assert with_events([(0, "permission-denied", "location"), (50 * 3600, "permission-asked", "location")]) == []
