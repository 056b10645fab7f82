"""The rules through the command line: --timeline and --fail-on on a real replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_fail_on_and_timeline(tmp_path: Path) -> None:
    timeline = tmp_path / "log.csv"
    timeline.write_text("time,event,detail\n2026-03-02T10:00:00Z,consent,before everything\n")
    base = [sys.executable, "-m", "consentscope", "replay", str(ROOT / "captures" / "demo_session.mitm"),
            "--profile", str(ROOT / "captures" / "demo_profile.toml"), "--db", "", "-q"]
    r = subprocess.run([*base, "--consent-marker", "/v1/privacy/consent", "--fail-on", "MIIT-1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "MIIT-1.2 (high)" in r.stderr
    out = tmp_path / "o.json"
    r = subprocess.run([*base, "--timeline", str(timeline), "--fail-on", "MIIT-1", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # consent recorded before any traffic
    doc = json.loads(out.read_text())
    assert doc["timeline"][0]["source"] == "file" and "MIIT-1.2" not in {v["rule"] for v in doc["violations"]}
    assert {"PIPL-23", "CAC-NPI-5"} <= {v["rule"] for v in doc["violations"]}
