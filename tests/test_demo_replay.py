"""The bundled demo session, replayed end to end, finding by finding against how it was built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"


def replay(tmp: Path, *extra: str, capture: Path = CAPTURES / "demo_session.mitm") -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp / "out.json"
    r = subprocess.run(
        [sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(CAPTURES / "demo_profile.toml"),
         "--json", str(out), "--html", str(tmp / "out.html"), "--db", f"sqlite:///{tmp / 'out.db'}", *extra],
        capture_output=True, text=True, timeout=300,
    )
    return r, (json.loads(out.read_text()) if out.exists() else {})


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((CAPTURES / "demo_truth.json").read_text())


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, truth: dict) -> tuple[Path, subprocess.CompletedProcess[str], dict]:
    tmp = tmp_path_factory.mktemp("demo")
    r, doc = replay(tmp, "--consent-marker", truth["consent_marker"])
    return tmp, r, doc


def test_every_planted_value_is_found_and_nothing_else(result, truth) -> None:  # type: ignore[no-untyped-def]
    _, r, doc = result
    assert r.returncode == 0, r.stderr
    keys = ("flow_id", "host", "data_type", "encoding", "location", "phase")
    got = sorted(tuple(json.dumps(f[k]) for k in keys) for f in doc["findings"])
    want = sorted(tuple(json.dumps(f[k]) for k in keys) for f in truth["findings"])
    assert got == want


def test_json_contract(result) -> None:  # type: ignore[no-untyped-def]
    _, _, doc = result
    assert set(doc) == {"version", "sessions", "findings", "contacts", "timeline", "violations",
                         "suppressed", "verdicts", "coverage"}
    assert doc["version"] == 8
    assert doc["suppressed"] == []  # nothing accepted without a project file
    assert doc["contacts"] == []  # a flow file holds requests, not bare connections
    expected = {"session", "flow_id", "time", "method", "url", "host", "party", "relation", "sdk", "vendor", "category",
                "data_type", "encoding", "location", "phase", "evidence", "source", "confidence"}
    assert all(set(f) == expected for f in doc["findings"])
    order = [(f["time"], f["flow_id"], f["data_type"]) for f in doc["findings"]]
    assert order == sorted(order)
    by_host = {f["host"]: f for f in doc["findings"]}
    assert by_host["api.demoshop.com.cn"]["party"] == "first-party"
    assert by_host["ulogs.umeng.com"]["party"] == "third-party" and by_host["ulogs.umeng.com"]["sdk"]
    assert by_host["api.demoshop.com.cn"]["relation"] == "first-party"
    assert by_host["ulogs.umeng.com"]["relation"] == "third-party"
    assert all(f["time"].endswith("Z") for f in doc["findings"])
    [session] = doc["sessions"]
    assert session["requests"] == 45 and [e["event"] for e in session["events"]] == ["consent"]


def test_outputs_are_owner_only_and_deterministic(result, truth, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first_dir, _, doc = result
    for name in ("out.json", "out.html", "out.db"):
        assert (first_dir / name).stat().st_mode & 0o077 == 0, name
    _, again = replay(tmp_path, "--consent-marker", truth["consent_marker"])
    assert again == doc
    assert (tmp_path / "out.html").read_bytes() == (first_dir / "out.html").read_bytes()


def test_consent_at_and_no_consent(tmp_path: Path) -> None:
    _, doc = replay(tmp_path, "--consent-at", "2026-03-02T10:00:00Z")
    assert {f["phase"] for f in doc["findings"]} == {"after-consent"}
    _, doc = replay(tmp_path)
    assert {f["phase"] for f in doc["findings"]} == {"no-consent-recorded"}


def test_report_from_database_equals_replay(result) -> None:  # type: ignore[no-untyped-def]
    tmp, _, doc = result
    out = tmp / "report.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "report", "--db", f"sqlite:///{tmp / 'out.db'}",
                        "--json", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the whole verdict, not only the findings: the session row keeps the app type, so the
    # app-type rule (CAC-NPI-5) is judged from the database without the profile file
    assert json.loads(out.read_text()) == doc
    assert "CAC-NPI-5" in {v["rule"] for v in doc["violations"]}


def test_hostile_capture_is_escaped_in_the_html(tmp_path: Path) -> None:
    from mitmproxy import io
    from mitmproxy.test import tflow

    f = tflow.tflow(resp=True)
    f.request.host = "ulogs.umeng.com"
    f.request.path = "/<script>document.title='pwned'</script>?imei=861234567890127&x=<img src=x onerror=alert(1)>"
    path = tmp_path / "evil.mitm"
    with path.open("wb") as fh:
        io.FlowWriter(fh).add(f)
    r, doc = replay(tmp_path, capture=path)
    assert r.returncode == 0 and doc["findings"]
    html = (tmp_path / "out.html").read_text()
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mitm"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 definitely not a capture")
    for path in (empty, garbage, tmp_path / "missing.mitm"):
        r, _ = replay(tmp_path, capture=path)
        assert r.returncode == 2
        assert str(path) in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(CAPTURES / "demo_session.mitm"),
                        "--profile", str(tmp_path / "nope.toml")], capture_output=True, text=True)
    assert r.returncode == 2 and "nope.toml: cannot read profile" in r.stderr
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(CAPTURES / "demo_session.mitm"),
                        "--profile", str(CAPTURES / "demo_profile.toml"), "--consent-marker", "(["],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--consent-marker: invalid regular expression" in r.stderr


def test_the_same_session_as_har_gives_the_same_findings(result, truth, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One pipeline, many doors: mitmproxy's own HAR export of the demo replays the same."""
    from mitmproxy import io
    from mitmproxy.addons.savehar import SaveHar

    with (CAPTURES / "demo_session.mitm").open("rb") as fh:
        flows = list(io.FlowReader(fh).stream())
    har = tmp_path / "demo.har"
    har.write_text(json.dumps(SaveHar().make_har(flows)))
    r, doc = replay(tmp_path, "--consent-marker", truth["consent_marker"], capture=har)
    assert r.returncode == 0, r.stderr
    keys = ("time", "host", "url", "data_type", "encoding", "location", "phase", "party", "sdk")
    assert [{k: f[k] for k in keys} for f in doc["findings"]] == [{k: f[k] for k in keys} for f in result[2]["findings"]]


def test_the_command_ends_without_teardown_yet_loses_no_output(tmp_path: Path, truth: dict) -> None:
    """``consentscope replay`` skips the interpreter's teardown (``cli.console_main``): what
    it printed into a block-buffered file, its database and its reports are all complete."""
    import sqlite3

    printed = tmp_path / "stdout.txt"
    with printed.open("w") as stdout:
        r = subprocess.run(
            [sys.executable, "-m", "consentscope", "replay", str(CAPTURES / "demo_session.mitm"), "--profile",
             str(CAPTURES / "demo_profile.toml"), "--consent-marker", truth["consent_marker"], "--verbose",
             "--json", str(tmp_path / "out.json"), "--db", f"sqlite:///{tmp_path / 'out.db'}"],
            stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300,
        )
    assert r.returncode == 0, r.stderr
    lines = printed.read_text().splitlines()
    doc = json.loads((tmp_path / "out.json").read_text())
    assert len(doc["findings"]) == len(truth["findings"]) > 0
    assert len(lines) == len(truth["findings"]) + 3  # a line per finding, then the summary's three
    assert lines[-1].startswith("demo_session: ") and lines[-1].endswith("readable")
    with sqlite3.connect(tmp_path / "out.db") as db:
        assert db.execute("select count(*) from cs_findings").fetchone()[0] == len(truth["findings"])
