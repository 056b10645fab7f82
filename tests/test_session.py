"""The one audit sequence (consentscope/session.py): Audit's settings, where phases are
decided, what an audit keeps (findings, not requests), judging, and a stored session
loaded back equal to the replay that stored it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from consentscope.detectors import RequestRecord, Scanner
from consentscope.model import Contact, Phase, TimelineEvent
from consentscope.profile import load_profile
from consentscope.reports.json_report import build_document
from consentscope.session import Audit, audit_capture, judge, load, place, store
from consentscope.storage import open_engine

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "captures" / "demo_profile.toml"
DEMO = ROOT / "captures" / "demo_session.mitm"
IMEI = "861234567890127"
T0 = 1_772_445_600.0


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    return load_profile(str(PROFILE))


@pytest.fixture(scope="module")
def scanner(profile) -> Scanner:  # type: ignore[no-untyped-def]
    return Scanner(profile.scan_profile())


def leak(n: int, t: float, host: str = "ulogs.umeng.com") -> RequestRecord:
    return RequestRecord(f"f{n}", T0 + t, "GET", "https", host, 443, f"/log?imei={IMEI}")


def test_phases_follow_the_complete_timeline(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    consent = TimelineEvent(T0 + 10, "consent", "tap", "file")
    audit = Audit("s", profile, scanner, events=[consent])
    [before] = audit.feed(leak(1, 5))
    [after] = audit.feed(leak(2, 10))  # at the tap: after it
    assert (before.phase, after.phase) == (Phase.BEFORE_CONSENT, Phase.AFTER_CONSENT)
    result = audit.finish()
    assert [f.phase for f in result.findings] == ["before-consent", "after-consent"]


def test_an_event_recorded_late_still_decides_earlier_phases(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    audit = Audit("s", profile, scanner)
    [f] = audit.feed(leak(1, 20))
    assert f.phase == Phase.NO_CONSENT_RECORDED  # nothing known yet
    audit.add_event(TimelineEvent(T0 + 10, "refusal", "", "cli"))
    assert [x.phase for x in audit.finish().findings] == ["after-refusal"]


def test_live_means_no_consent_yet(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    audit = Audit("s", profile, scanner, live=True)
    [f] = audit.feed(leak(1, 1))
    assert f.phase == Phase.BEFORE_CONSENT
    assert audit.finish().findings == []  # a live audit keeps no findings: they are stored as they come


def test_markers_and_device_marks_are_constructor_settings(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    import re

    from consentscope.model import ConsentMarkers

    seen: list[TimelineEvent] = []
    markers = ConsentMarkers(consent=re.compile(r"/agree"))
    audit = Audit("s", profile, scanner, markers=markers, on_event=seen.append, device_marks=False)
    audit.feed(RequestRecord("m", T0 + 1, "GET", "http", "consentscope.invalid", 80, "/refuse"))
    audit.feed(RequestRecord("a", T0 + 2, "POST", "https", "api.demoshop.com.cn", 443, "/v1/agree"))
    assert [(e.event, e.source) for e in seen] == [("consent", "marker")]
    on = Audit("s", profile, scanner)  # replays read device marks from the saved flows
    on.feed(RequestRecord("m", T0 + 1, "GET", "http", "consentscope.invalid", 80, "/refuse"))
    assert [e.event for e in on.finish().events] == ["refusal"]


def test_contacts_are_placed_and_name_later_ip_requests(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    audit = Audit("s", profile, scanner, events=[TimelineEvent(T0 + 50, "consent", "", "file")])
    audit.feed(Contact(T0 + 1, "ulogs.umeng.com", "203.0.113.9", 443, "dns"))
    [f] = audit.feed(RequestRecord("f", T0 + 2, "GET", "https", "203.0.113.9", 443, f"/x?imei={IMEI}",
                                   server_ip="203.0.113.9"))
    assert f.destination.party == "third-party" and f.destination.sdk
    result = audit.finish()
    assert [(c.contact.host, c.phase) for c in result.contacts] == [("ulogs.umeng.com", "before-consent")]


def test_request_log_only_when_asked(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    quiet = Audit("s", profile, scanner)
    quiet.feed(leak(1, 1))
    assert quiet.finish().request_log == []
    kept = Audit("s", profile, scanner, keep_requests=True)
    kept.feed(leak(1, 1))
    kept.feed(RequestRecord("f2", T0 + 2, "GET", "https", "api.demoshop.com.cn", 443, "/ok"))
    assert [(r.flow_id, r.party) for r in kept.finish().request_log] == [("f1", "third-party"),
                                                                        ("f2", "first-party")]


def test_a_broken_capture_keeps_what_was_read(tmp_path: Path, profile, scanner) -> None:  # type: ignore[no-untyped-def]
    data = DEMO.read_bytes()
    cut = tmp_path / "cut.mitm"
    cut.write_bytes(data[: len(data) * 2 // 3])
    whole = audit_capture(str(DEMO), "d", profile, scanner)
    part = audit_capture(str(cut), "d", profile, scanner)
    assert part.errors and str(cut) in part.errors[0] and "byte" in part.errors[0]
    assert 0 < len(part.findings) < len(whole.findings)
    assert not whole.errors


def test_judge_gives_violations_and_verdicts_for_every_sink(profile, scanner) -> None:  # type: ignore[no-untyped-def]
    audit = Audit("s", profile, scanner, events=[TimelineEvent(T0 + 10, "consent", "", "file")])
    audit.feed(leak(1, 1))
    result = audit.finish()
    judgement = judge([result], profile)
    assert judgement.sessions == (result,)
    assert any(v.rule == "MIIT-1.2" for v in result.violations)
    statuses = {v.category.id: v.status for v in judgement.verdicts}
    assert statuses["MIIT-1"] == "violation" and len(statuses) == 8


def test_a_stored_session_loads_back_as_the_replay_made_it(tmp_path: Path, profile, scanner) -> None:  # type: ignore[no-untyped-def]
    import re

    from consentscope.model import ConsentMarkers

    markers = ConsentMarkers(consent=re.compile("/v1/privacy/consent"))
    result = audit_capture(str(DEMO), "demo", profile, scanner, markers=markers, keep_requests=True)
    judgement = judge([result], profile)
    engine = open_engine(f"sqlite:///{tmp_path / 'x.db'}")
    store(engine, [result])
    loaded = load(engine, "demo")
    assert build_document(judge([loaded], profile)) == build_document(judgement)
    assert place(loaded) is loaded  # placing twice changes nothing


def _rss_growth(mode: str, n: int) -> float:
    """MB of resident memory an audit grows by over ``n`` requests with 64 KB bodies and a
    finding each (measured after the first 5,000, in a fresh interpreter)."""
    code = textwrap.dedent(f"""
        import os
        from consentscope.detectors import Limits, RequestRecord, Scanner
        from consentscope.profile import load_profile
        from consentscope.session import Audit
        prof = load_profile({str(PROFILE)!r})
        # the scan reads 1 KB of each body: the bodies are here to be held or let go, not scanned;
        # live: the live detector's matcher (built whole at the start, as there)
        sc = Scanner(prof.scan_profile(), limits=Limits(max_body_scan_bytes=1024), fast_automaton={mode == "live"})
        base = (b"x" * 1023 + b"\\n") * 64
        def rss():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        audit = Audit("m", prof, sc, live={mode == "live"})
        for i in range({n}):
            body = base[:-8] + i.to_bytes(8, "big")  # a new 64 KB object each time
            audit.feed(RequestRecord(f"f{{i}}", 1e9 + i, "POST", "https", "ulogs.umeng.com", 443,
                                     "/x?imei={IMEI}", (("Content-Type", "application/octet-stream"),), body))
            audit.take_contacts()  # as the live engine does after every request
            if i == 5000:
                start = rss()
        print(rss() - start)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return float(r.stdout.strip())


@pytest.mark.slow
def test_live_memory_stays_flat_over_a_long_session() -> None:
    # 95,000 requests of 64 KB after the baseline: holding the records would be ~6 GB
    assert _rss_growth("live", 100_000) < 20


@pytest.mark.slow
def test_replay_memory_grows_with_findings_not_with_bodies() -> None:
    # 25,000 findings kept (about 0.5 KB each); the 1.6 GB of bodies are let go
    assert _rss_growth("replay", 30_000) < 60


def test_the_json_document_is_the_same_through_cli_and_session(tmp_path: Path, profile, scanner) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cli.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(DEMO), "--profile", str(PROFILE),
                        "--db", "", "--json", str(out), "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = audit_capture(str(DEMO), "demo_session", profile, scanner)
    mine = json.loads(json.dumps(build_document(judge([result], profile))))
    assert json.loads(out.read_text()) == mine
