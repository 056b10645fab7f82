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


# ----------------------------------------------------------------------------- proxy


def test_proxy_p_is_mitmproxys_listen_port() -> None:
    from consentscope.cli import build_parser, proxy_command

    args, extra = build_parser().parse_known_args(["proxy", "--profile", "x.toml", "-p", "8080", "--mode", "regular"])
    assert args.profile == "x.toml"
    argv = proxy_command(args, extra)
    assert argv[-4:] == ["-p", "8080", "--mode", "regular"]
    assert f"consentscope_profile={Path('x.toml').resolve()}" in argv
    r = cli("proxy", "-p", "8080")  # no --profile: our error, not "-p is the profile"
    assert r.returncode == 2 and "--profile" in r.stderr


# ----------------------------------------------------------------------------- outputs


def test_csv_starts_with_a_bom_unless_asked_not_to(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--csv", str(a), "-q")
    assert r.returncode == 0, r.stderr
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--csv", str(b), "--csv-no-bom", "-q")
    assert r.returncode == 0, r.stderr
    assert a.read_bytes().startswith(b"\xef\xbb\xbfsession,")
    assert b.read_bytes().startswith(b"session,")
    assert a.read_bytes()[3:] == b.read_bytes()


def test_replay_prints_a_summary_verbose_the_findings_quiet_nothing() -> None:
    base = ("replay", str(DEMO), "--profile", str(PROFILE), "--consent-marker", "/v1/privacy/consent", "--db", "")
    default, verbose, quiet = cli(*base), cli(*base, "-v"), cli(*base, "-q")
    assert default.returncode == verbose.returncode == quiet.returncode == 0
    assert "LEAK" not in default.stdout
    assert "demo_session: " in default.stdout and " violations" in default.stdout
    leaks = [line for line in verbose.stdout.splitlines() if "LEAK" in line]
    assert leaks and [line for line in verbose.stdout.splitlines() if "LEAK" not in line] == default.stdout.splitlines()
    assert quiet.stdout == ""


def test_report_says_what_it_wrote_and_sessions_has_a_header(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", db, "-q")
    assert r.returncode == 0, r.stderr
    j, c = tmp_path / "r.json", tmp_path / "r.csv"
    r = cli("report", "--db", db, "--json", str(j), "--csv", str(c))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"wrote {j}", f"wrote {c}"]
    r = cli("sessions", "--db", db)
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == ["session", "started", "requests", "findings", "verdict", "label"]
    assert lines[1].startswith("demo_session\t")


def test_fail_on_rule_ids_are_case_insensitive(tmp_path: Path) -> None:
    base = ("replay", str(DEMO), "--profile", str(PROFILE), "--consent-marker", "/v1/privacy/consent", "--db", "",
            "-q")
    upper, lower = cli(*base, "--fail-on", "MIIT-1.2"), cli(*base, "--fail-on", "miit-1.2")
    assert upper.returncode == 1 and "MIIT-1.2" in upper.stderr, upper.stderr
    assert (lower.returncode, lower.stderr) == (upper.returncode, upper.stderr)
    one_line_error(cli(*base, "--fail-on", "miit-9.9"), "--fail-on", "MIIT-9.9")


def test_a_finding_row_of_another_type_is_an_error_naming_it(tmp_path: Path) -> None:
    """SQLite keeps a BLOB in a TEXT column: a database written by another tool is read as
    bad input (exit 2, one line naming the row), not a traceback."""
    import sqlite3

    path = tmp_path / "x.db"
    assert cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", f"sqlite:///{path}", "-q").returncode == 0
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT min(id) FROM cs_findings").fetchone()[0]
        db.execute("UPDATE cs_findings SET evidence = X'0001' WHERE id = ?", (row,))
    one_line_error(cli("report", "--db", f"sqlite:///{path}", "--json", str(tmp_path / "r.json")),
                   f"finding row {row}", "demo_session")


@pytest.mark.parametrize("command", ["sessions", "report"])
def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "missing.db"
    one_line_error(cli(command, "--db", f"sqlite:///{missing}"), "no such database")
    one_line_error(cli(command, "--db", "missing.db", cwd=tmp_path), "no such database")
    assert not missing.exists() and list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- profile


def test_a_typo_in_a_profile_key_gets_a_suggestion(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('[device]\nimie = "861234567890127"\n')
    one_line_error(cli("profile", "check", str(p)), "p.toml", "device.imie", "did you mean 'imei'?")
    p.write_text('[devices]\nimei = "861234567890127"\n')
    one_line_error(cli("profile", "check", str(p)), "did you mean 'device'?")


def test_an_unedited_template_passes_check_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    assert cli("profile", "init", str(p)).returncode == 0
    r = cli("profile", "check", str(p))
    assert r.returncode == 0 and "ok:" in r.stdout, r.stderr
    assert "warning" in r.stderr and "demo values" in r.stderr and "imei" in r.stderr
    p.write_text('[device]\nimei = "490154203237518"\n')
    r = cli("profile", "check", str(p))
    assert r.returncode == 0 and "demo values" not in r.stderr


# ----------------------------------------------------------------------------- redaction


def test_redact_masks_values_never_json_keys(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--json", str(out), "--redact", "-q")
    assert r.returncode == 0, r.stderr
    evidence = " ".join(f["evidence"] for f in json.loads(out.read_text())["findings"])
    assert "im****d5" not in evidence
    from consentscope.reports.redact import redact

    masked = redact('{"imei_md5": "6b3a55e0261b0304143f805a24924d0c"}&aid2=9774d56d682e549c')
    assert masked == '{"imei_md5": "6b****************************0c"}&aid2=97************9c'


# ----------------------------------------------------------------------------- packaging


def test_the_package_is_typed() -> None:
    assert (ROOT / "consentscope" / "py.typed").is_file()


def test_tz_reaches_the_html_report(tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    r = cli("replay", str(DEMO), "--profile", str(PROFILE), "--db", "", "--html", str(html), "--tz", "Asia/Shanghai",
            "-q")
    assert r.returncode == 0, r.stderr
    text = html.read_text()
    assert "Asia/Shanghai" in text and "+08:00" in text


def test_patterns_without_a_profile(tmp_path: Path) -> None:
    r = cli("replay", str(DEMO), "--db", "")
    one_line_error(r, "--profile", "--patterns")
    out = tmp_path / "p.json"
    r = cli("replay", str(DEMO), "--patterns", "--db", "", "--json", str(out), "-q")
    assert r.returncode == 0, r.stderr
    found = json.loads(out.read_text())["findings"]
    assert found and {f["confidence"] for f in found} == {"pattern"}
    assert {"imei", "phone_number"} <= {f["data_type"] for f in found}
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli("replay", str(DEMO), "--patterns", "--db", db, "-q").returncode == 0
    again = tmp_path / "again.json"
    assert cli("report", "--db", db, "--json", str(again)).returncode == 0
    assert {f["confidence"] for f in json.loads(again.read_text())["findings"]} == {"pattern"}


def test_text_that_is_no_utf8_reaches_every_output_as_its_escapes(tmp_path: Path) -> None:
    """A Host header and a path of invalid UTF-8, and JSON keys escaping lone surrogates,
    stopped the database and the reports with a traceback: each such character is now
    written as its escape, in every output, and the replay ends as any other."""
    from mitmproxy import io
    from mitmproxy.test import tflow

    host = tflow.tflow(resp=True)
    host.request.headers.fields = ((b"Host", b"caf\xe9.example.net"),)
    host.request.raw_content = b"imei=861234567890127"
    path = tflow.tflow(resp=True)
    path.request.path = b"/p\xff?imei=861234567890127".decode("utf-8", "surrogateescape")
    keys = tflow.tflow(resp=True)
    keys.request.headers.fields = ((b"Host", b"api.example.net"), (b"Content-Type", b"application/json"))
    keys.request.raw_content = b'{"\\ud800x": "861234567890127"}'
    capture = tmp_path / "odd.mitm"
    with capture.open("wb") as fh:
        writer = io.FlowWriter(fh)
        for f in (host, path, keys):
            writer.add(f)
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "csv")}
    r = cli("replay", str(capture), "--profile", str(ROOT / "captures" / "demo_profile.toml"),
            "--db", f"sqlite:///{tmp_path / 'r.db'}", *(x for k, p in out.items() for x in (f"--{k}", str(p))))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    doc = json.loads(out["json"].read_text(encoding="utf-8"))
    places = {(f["host"], f["url"], f["location"]) for f in doc["findings"]}
    assert ("caf\\udce9.example.net", "http://caf\\udce9.example.net:22/path", "body") in places
    assert any(u.startswith("http://address:22/p\\udcff?imei=") for _, u, _ in places)
    assert ("api.example.net", "http://api.example.net:22/path", "body.json:$['\\ud800x']") in places
    for k in ("html", "csv"):
        assert "caf\\udce9.example.net" in out[k].read_text(encoding="utf-8-sig")
    import sqlite3

    with sqlite3.connect(tmp_path / "r.db") as db:
        assert ("caf\\udce9.example.net",) in db.execute("SELECT host FROM cs_requests").fetchall()
