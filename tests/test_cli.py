"""The command line (consentscope/cli.py): a thin shell whose every failure on bad input is
one line naming the file and place, exit 2, with whatever could be written still written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "captures" / "demo_profile.toml"
DEMO = ROOT / "captures" / "demo_session.mitm"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("consentscope: error:")]
    assert len(errors) == 1, r.stderr
    for n in needles:
        assert n in errors[0], r.stderr


def test_a_missing_profile_names_the_file(tmp_path: Path) -> None:
    one_line_error(cli("replay", str(DEMO), "--profile", str(tmp_path / "nope.toml"), "--db", ""), "nope.toml")


def test_a_profile_error_names_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('[device]\nimei = "12"\n')
    one_line_error(cli("replay", str(DEMO), "--profile", str(p), "--db", ""), "p.toml", "imei")


def test_a_broken_capture_keeps_its_findings_and_exits_2(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mitm"
    data = DEMO.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o.json"
    r = cli("replay", str(cut), "--profile", str(PROFILE), "--db", "", "--json", str(out), "-q")
    one_line_error(r, "cut.mitm at byte")
    assert json.loads(out.read_text())["findings"]


def test_a_missing_database_driver_is_one_line(tmp_path: Path) -> None:
    r = cli("sessions", "--db", "mysql+mysqldb://user@127.0.0.1:1/none")
    one_line_error(r, "mysql")


def test_an_output_path_that_is_a_directory_does_not_stop_the_other_outputs(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--json", str(out), "--csv", str(tmp_path),
            "-q")
    one_line_error(r, "is a directory")
    assert json.loads(out.read_text())["findings"]


@pytest.mark.parametrize("depth", ["-1", "0", "7", "99", "x"])
def test_depth_is_validated(depth: str) -> None:
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--depth", depth)
    assert r.returncode == 2 and "--depth" in r.stderr and "Traceback" not in r.stderr


def test_every_command_is_there() -> None:
    r = cli("--help")
    for command in ("replay", "profile", "sessions", "report", "proxy", "mark", "trackers"):
        assert command in r.stdout


def test_replay_then_report_give_the_same_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--consent-marker", "/v1/privacy/consent", "--db", db,
            "--json", str(a), "-q")
    assert r.returncode == 0, r.stderr
    r = cli("report", "--db", db, "--json", str(b))
    assert r.returncode == 0, r.stderr
    assert json.loads(a.read_text()) == json.loads(b.read_text())
