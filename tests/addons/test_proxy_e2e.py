"""`consentscope proxy` as a real process, real HTTPS clients, loopback only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.waiting import wait_for

from .conftest import Upstream, b64gzip, http_request, https_request, start_proxy

pytestmark = pytest.mark.slow

IMEI = "861234567890127"
OAID = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
PHONE = "13812345678"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    p = tmp_path / "profile.toml"
    p.write_text(
        '[app]\npackage = "com.example.app"\nfirst_party_domains = ["example-app.com"]\n'
        f'[device]\nimei = "{IMEI}"\noaid = "{OAID}"\n[person]\nphone_number = "{PHONE}"\n'
    )
    return p


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True, timeout=120)


def stored_findings(db: Path) -> int:
    """Findings the live writer has stored so far (0 while the database is away)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM cs_findings").fetchone()[0])
    except sqlite3.Error:
        return 0


def report(db: Path, session: str, out: Path) -> list[dict]:
    r = cli("report", "--db", f"sqlite:///{db}", "--session", session, "--json", str(out))
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())["findings"]


def test_live_session_end_to_end(tmp_path: Path, profile: Path, upstream: Upstream) -> None:
    flows = tmp_path / "flows.mitm"
    # lazy: mitmproxy negotiates HTTP/2 with the client before it talks to the (HTTP/1) server
    proxy = start_proxy(tmp_path, profile, upstream.port, "-w", str(flows), "--set", "connection_strategy=lazy")
    try:
        md5 = hashlib.md5(IMEI.encode()).hexdigest()
        body = b64gzip(json.dumps({"header": {"imei_md5": md5}}).encode())
        assert https_request(proxy, "ulogs.umeng.com", "POST", "/unify_logs", body) == 200
        status, page = http_request(proxy, "http://consentscope.invalid/consent")
        assert status == 200 and b"Recorded: consent" in page
        assert https_request(proxy, "api.example-app.com", "GET", f"/v1/user?phone={PHONE}") == 200
        r = cli("mark", "withdraw", "--db", f"sqlite:///{proxy.db}", "--session", "e2e")
        assert r.returncode == 0, r.stderr
        # the addon polls the database for marks: wait until the detector has the withdrawal
        wait_for(lambda: "withdrawal recorded from the command line" in proxy.log.read_text(errors="replace"),
                 "the addon to read the mark from the database")
        assert https_request(proxy, "mi.gdt.qq.com", "GET", f"/gdt_mview.fcg?oaid={OAID}") == 200
        if shutil.which("curl"):  # an HTTP/2 client: the proxy speaks h2 to it
            r = subprocess.run(
                ["curl", "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "--proxy",
                 f"http://127.0.0.1:{proxy.port}", "--cacert", str(proxy.ca),
                 f"https://api.example-app.com/h2?imei={IMEI}"],
                capture_output=True, text=True, timeout=60,
            )
            assert r.stdout == "2", r.stderr
    finally:
        log = proxy.stop()
    assert "LEAK imei" in log and "BEFORE consent" in log, log
    # the user's traffic reached the server, all of it
    h2 = [("api.example-app.com", "imei", "after-withdrawal", "first-party")] if shutil.which("curl") else []
    assert [h for h, _, _ in upstream.received] == ["ulogs.umeng.com", "api.example-app.com", "mi.gdt.qq.com"] + [
        h for h, *_ in h2
    ]

    found = [(f["host"], f["data_type"], f["phase"], f["party"]) for f in report(proxy.db, "e2e", tmp_path / "r.json")]
    assert found == [
        ("ulogs.umeng.com", "imei", "before-consent", "third-party"),
        ("api.example-app.com", "phone_number", "after-consent", "first-party"),
        ("mi.gdt.qq.com", "oaid", "after-withdrawal", "third-party"),
        *h2,
    ]
    live = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert live[0]["encoding"] == ["base64", "gzip", "json", "md5"]
    assert live[0]["sdk"] and live[2]["sdk"]

    # The saved flows replay to the same findings; the device's consent tap is in the file,
    # the laptop's withdrawal is not (it lives in the database).
    out = tmp_path / "replay.json"
    r = cli("replay", str(flows), "--profile", str(profile), "--json", str(out), "--db", "", "-q")
    assert r.returncode == 0, r.stderr
    replayed = json.loads(out.read_text())["findings"]
    keys = ("host", "data_type", "encoding", "location", "url", "method")
    assert [{k: f[k] for k in keys} for f in replayed] == [{k: f[k] for k in keys} for f in live]
    phases = ["before-consent", "after-consent", "after-consent"] + ["after-consent"] * len(h2)
    assert [f["phase"] for f in replayed] == phases


def test_failures_never_break_traffic_or_lose_findings(tmp_path: Path, profile: Path, upstream: Upstream) -> None:
    proxy = start_proxy(tmp_path, profile, upstream.port)
    db = proxy.db
    try:
        assert https_request(proxy, "ulogs.umeng.com", "GET", f"/a?imei={IMEI}") == 200
        wait_for(lambda: stored_findings(db) >= 1, "the first finding in the database")
        # The database becomes unusable mid-session.
        away = db.with_suffix(".away")
        db.rename(away)
        db.mkdir()
        assert https_request(proxy, "ulogs.umeng.com", "GET", f"/b?imei={IMEI}") == 200
        # A malformed request gets mitmproxy's own error; the proxy keeps serving.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
            s.sendall(b"GARBAGE \x00\x01 nonsense\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
        # A 50 MB body is forwarded whole; its first part is scanned.
        big = f"imei={IMEI}&".encode() + b"x" * (50 * 1024 * 1024)
        assert https_request(proxy, "ulogs.umeng.com", "POST", "/big", big,
                             {"Content-Type": "application/octet-stream"}) == 200
        spill = Path(f"{db}.spill.jsonl")
        wait_for(lambda: spill.exists() and b"/big" in spill.read_bytes(), "both findings spilled")
        assert spill.stat().st_mode & 0o077 == 0
        # The database comes back: the spilled findings move into it.
        db.rmdir()
        away.rename(db)
        wait_for(lambda: not spill.exists(), "the spill moved into the database")
        assert https_request(proxy, "ulogs.umeng.com", "GET", f"/c?imei={IMEI}") == 200
    finally:
        log = proxy.stop()
    assert "Traceback" not in log
    assert [p for _, p, _ in upstream.received] == [f"/a?imei={IMEI}", f"/b?imei={IMEI}", "/big", f"/c?imei={IMEI}"]
    assert upstream.received[2][2] == len(big)
    found = report(db, "e2e", tmp_path / "r.json")
    assert [f["url"].split("/")[-1] for f in found] == [f"a?imei={IMEI}", f"b?imei={IMEI}", "big", f"c?imei={IMEI}"]
    assert not Path(f"{db}.spill.jsonl").exists()


def test_streamed_bodies_are_scanned_as_they_pass(tmp_path: Path, profile: Path, upstream: Upstream) -> None:
    proxy = start_proxy(tmp_path, profile, upstream.port, "--set", "stream_large_bodies=64k",
                        "--set", "consentscope_max_body=1048576")
    try:
        body = f"imei={IMEI}&pad=".encode() + b"y" * (3 * 1024 * 1024)
        assert https_request(proxy, "ulogs.umeng.com", "POST", "/stream", body,
                             {"Content-Type": "application/x-www-form-urlencoded"}) == 200
    finally:
        proxy.stop()
    assert upstream.received == [("ulogs.umeng.com", "/stream", len(body))]
    [finding] = report(proxy.db, "e2e", tmp_path / "r.json")
    assert (finding["data_type"], finding["location"]) == ("imei", "body.form:imei")


def test_addon_loads_in_mitmweb(tmp_path: Path, profile: Path) -> None:
    from .conftest import free_port

    web, port = free_port(), free_port()
    mitmweb = Path(sys.executable).parent / "mitmweb"
    addon = Path(__file__).resolve().parents[2] / "addons" / "consentscope.py"
    proc = subprocess.Popen(
        [str(mitmweb), "--set", "web_open_browser=false", "--web-port", str(web), "--listen-port", str(port),
         "--listen-host", "127.0.0.1", "--web-host", "127.0.0.1", "--set", f"confdir={tmp_path / 'conf'}",
         "-s", str(addon), "--set", f"consentscope_profile={profile}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline and "consentscope: watching for" not in seen:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line and proc.poll() is not None:
                break
            seen += line
        assert "consentscope: watching for 3 values" in seen, seen
    finally:
        proc.terminate()
        proc.wait(20)
