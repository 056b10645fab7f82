"""Reports: redaction, CSV, and the HTML in a real headless browser (hostile traffic inert)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consentscope.reports.redact import redact

ROOT = Path(__file__).resolve().parents[2]
IMEI = "861234567890127"


def replay(tmp: Path, capture: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(ROOT / "captures" / "demo_profile.toml"),
         "--consent-marker", "/v1/privacy/consent", "--db", "", "-q", *extra],
        capture_output=True, text=True, timeout=300,
    )


def test_redact_masks_identifiers_not_structure() -> None:
    text = (f"imei={IMEI}&h=6b3a55e0261b0304143f805a24924d0c1c44524821305f31d9277843b8a10f4e&name=张伟"
            "&e=zhang.wei@example.com&os=android")
    masked = redact(text)
    assert masked is not None
    for secret in (IMEI, "6b3a55e0261b", "张伟", "zhang.wei"):
        assert secret not in masked
    assert "imei=86" in masked and "os=android" in masked and "@example.com" in masked
    assert redact("body.json:$.header.imei") == "body.json:$.header.imei"


def test_csv_and_redacted_json(tmp_path: Path) -> None:
    r = replay(tmp_path, ROOT / "captures" / "demo_session.mitm", "--csv", str(tmp_path / "f.csv"),
               "--json", str(tmp_path / "r.json"), "--redact")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "f.csv").read_text())))
    assert len(rows) == 30 and rows[0]["encoding"] and (tmp_path / "f.csv").stat().st_mode & 0o077 == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    blob = json.dumps(doc["findings"], ensure_ascii=False)
    assert IMEI not in blob and "9774d56d682e549c" not in blob and "13812345678" not in blob


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when it can)")
    return path


def dump_dom(chromium: str, page: Path, tmp: Path) -> str:
    r = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp / 'profile'}",
         "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_report_renders_in_a_browser_and_planted_script_stays_inert(chromium: str, tmp_path: Path) -> None:
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    f = tflow.tflow(resp=True)
    f.request.host = "ulogs.umeng.com"
    f.request.headers["Host"] = "ulogs.umeng.com"
    f.request.path = f"/x?imei={IMEI}&n=<script>document.title='pwned';document.body.innerHTML='gone'</script>"
    f.request.content = f'{{"imei":"{IMEI}","x":"<img src=x onerror=document.title=1>"}}'.encode()
    f.request.headers["Content-Type"] = "application/json"
    capture = tmp_path / "evil.mitm"
    with capture.open("wb") as fh:
        mio.FlowWriter(fh).add(f)
    html = tmp_path / "evil.html"
    assert replay(tmp_path, capture, "--html", str(html)).returncode == 0
    dom = dump_dom(chromium, html, tmp_path)
    assert "<title>consentscope: Consent Demo Shop</title>" in dom
    assert "pwned" not in dom.split("<body")[0] and "gone" not in dom[:200]
    assert ("Rules this traffic breaks" in dom and "MIIT-1.2" not in dom) or "no consent" in dom.lower()

    demo = tmp_path / "demo.html"
    assert replay(tmp_path, ROOT / "captures" / "demo_session.mitm", "--html", str(demo)).returncode == 0
    dom = dump_dom(chromium, demo, tmp_path)
    assert "Rules this traffic breaks" in dom and "MIIT-1.2" in dom
    assert dom.count('class="tx"') == 30 and 'class="event"' in dom  # the SVG timeline drew every transmission
