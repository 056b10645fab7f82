"""HTTPDNS answers in responses name the bare IPs an app connects to next (flow files, live)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from mitmproxy import io
from mitmproxy.test import taddons, tflow

from consentscope.addons.live import ConsentScope

IMEI = "861234567890127"
T0 = 1_772_445_600.0


def exchange(host: str, path: str, body: bytes, answer: bytes | None, t: float):  # type: ignore[no-untyped-def]
    f = tflow.tflow(resp=answer is not None)
    f.request.scheme, f.request.host, f.request.port = "http", host, 80
    f.request.headers["Host"] = host
    f.request.path = path
    f.request.method = "POST" if body else "GET"
    f.request.content = body
    f.request.timestamp_start = t
    f.client_conn.sni = None  # plain HTTP to a bare IP: no TLS server name to go by
    f.server_conn.peername = (host, 80)
    if answer is not None:
        f.response.content = answer
        f.response.timestamp_end = t + 0.1
    return f


def dnspod_then_ip() -> list:
    return [
        exchange("119.29.29.29", "/d?dn=ulogs.umeng.com&ttl=1", b"", b"203.0.113.7;203.0.113.8,600", T0),
        exchange("203.0.113.7", "/unify_logs", json.dumps({"imei": IMEI}).encode(), b"ok", T0 + 1),
    ]


def replay(tmp: Path, flows: list) -> dict:
    capture = tmp / "s.mitm"
    with capture.open("wb") as fh:
        w = io.FlowWriter(fh)
        for f in flows:
            w.add(f)
    profile = tmp / "p.toml"
    profile.write_text(f'[app]\npackage = "com.example.app"\n[device]\nimei = "{IMEI}"\n')
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(profile),
                        "--db", "", "-q", "--json", str(tmp / "o.json")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads((tmp / "o.json").read_text())


def test_an_httpdns_answer_names_the_ip_in_a_flow_file(tmp_path: Path) -> None:
    doc = replay(tmp_path, dnspod_then_ip())
    [finding] = doc["findings"]
    assert (finding["host"], finding["sdk"], finding["party"]) == ("203.0.113.7", "Umeng Analytics (U-App)",
                                                                   "third-party")
    answers = [(c["host"], c["ip"], c["via"]) for c in doc["contacts"]]
    assert answers == [("ulogs.umeng.com", "203.0.113.7", "httpdns"), ("ulogs.umeng.com", "203.0.113.8", "httpdns")]


def test_without_the_answer_the_ip_stays_unnamed(tmp_path: Path) -> None:
    doc = replay(tmp_path, dnspod_then_ip()[1:])
    [finding] = doc["findings"]
    assert finding["sdk"] is None and doc["contacts"] == []


def test_the_live_proxy_reads_httpdns_answers(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(f'[app]\npackage = "com.example.app"\n[device]\nimei = "{IMEI}"\n')
    db = tmp_path / "live.db"
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}",
                       consentscope_session="s")
        answer, upload = dnspod_then_ip()
        addon.request(answer)
        addon.response(answer)
        addon.request(upload)
        addon.done()
    assert addon.errors == 0 and addon.requests == 2
    con = sqlite3.connect(db)
    rows = con.execute("select host, sdk, data_type from cs_findings").fetchall()
    con.close()
    assert rows == [("203.0.113.7", "Umeng Analytics (U-App)", "imei")]
