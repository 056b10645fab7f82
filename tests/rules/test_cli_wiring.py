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


def test_demo_project_file_declares_the_policy_lists(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(ROOT / "captures" / "demo_session.mitm"),
                        "--profile", str(ROOT / "captures" / "demo_profile.toml"), "--db", "", "-q",
                        "--consent-marker", "/v1/privacy/consent", "--suppressions",
                        str(ROOT / "captures" / "demo_project.toml"), "--json", str(out), "--fail-on", "IDM-2.1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "IDM-2.1 (medium)" in r.stderr, r.stderr
    doc = json.loads(out.read_text())
    by_check = {(v["rule"], v["check"]): v for v in doc["violations"]}
    undeclared = by_check[("IDM-2.1", "undeclared-data")]
    # the first party collects an ID number its list omits; Umeng gets a MAC and a location beyond its
    # entry, Bugly a serial number, AMap a Wi-Fi BSSID
    assert {"id_number", "mac", "location", "serial", "bssid"} <= set(undeclared["data_types"])
    assert {"demoshop.com.cn", "Umeng Analytics (U-App)", "Tencent Bugly", "AMap Location SDK"} == set(
        undeclared["destinations"])
    recipients = by_check[("MIIT-3", "undeclared-recipient")]
    assert "AppsFlyer" in recipients["destinations"] and "Umeng Analytics (U-App)" not in recipients["destinations"]
    assert [(v["rule"], v["reason"][:11]) for v in doc["suppressed"]] == [("PIPL-23", "crash repor")]
