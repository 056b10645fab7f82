"""Hook logs as a door (consentscope/readers/hooks.py): privacy-API reads become api-read
events and MIIT-1.2, payloads seen before encryption are scanned like traffic with
``source: "hook"``; camille's export reads into the same events."""

from __future__ import annotations

import base64
import csv
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from captures._flowbuild import write_records
from consentscope.detectors import RequestRecord
from consentscope.readers.hooks import HookFileError, parse_api_read, parse_hooks, read_hooks, sdk_from_stack

ROOT = Path(__file__).resolve().parents[2]
IMEI = "861234567890127"
PHONE = "13812345678"
T0 = 1_772_445_600.0
UMENG_STACK = ["android.telephony.TelephonyManager.getImei(Native Method)",
               "com.umeng.commonsdk.statistics.idtracking.ImeiTracker.f(ImeiTracker.java:38)",
               "com.example.demo.App.onCreate(App.java:12)"]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().isoformat()


def hook_lines() -> list[dict]:
    payload = json.dumps({"user": {"mobile": PHONE}, "sdk": "umeng"}).encode()
    return [
        {"time": iso(T0 + 1), "kind": "api-read", "api": "android.telephony.TelephonyManager.getImei",
         "data_type": "imei", "stack": UMENG_STACK},
        {"time": iso(T0 + 2), "kind": "payload", "url": "https://ulogs.umeng.com/unify_logs", "method": "POST",
         "headers": {"Content-Type": "application/json"}, "body_b64": base64.b64encode(payload).decode(),
         "stack": ["javax.crypto.Cipher.doFinal", "com.umeng.commonsdk.framework.UMEnvelopeBuild.a"]},
        {"time": (T0 + 30) * 1000, "kind": "api-read", "api": "android.provider.Settings$Secure.getString",
         "data_type": "android_id", "sdk": "Tencent Bugly"},
    ]


def test_sdk_named_from_the_stack() -> None:
    assert sdk_from_stack(UMENG_STACK) == "Umeng Analytics (U-App)"
    assert sdk_from_stack(["android.x.Y.z", "com.example.demo.Main.run"], app_package="com.example.demo") == ""
    assert sdk_from_stack(["java.lang.Thread.run"]) == ""


def test_lines_become_events_and_records() -> None:
    log = parse_hooks("\n".join(json.dumps(x) for x in hook_lines()) + "\n# a comment\n\n", "h.jsonl")
    assert [e.event for e in log.events] == ["api-read", "api-read"]
    first = parse_api_read(log.events[0].detail)
    assert first is not None and (first.data_type, first.sdk) == ("imei", "Umeng Analytics (U-App)")
    assert parse_api_read(log.events[1].detail).sdk == "Tencent Bugly"  # type: ignore[union-attr]
    assert log.events[1].time == pytest.approx(T0 + 30)  # epoch milliseconds
    [rec] = log.records
    assert isinstance(rec, RequestRecord) and (rec.host, rec.method, rec.path) == ("ulogs.umeng.com", "POST",
                                                                                  "/unify_logs")
    assert PHONE.encode() in rec.body


@pytest.mark.parametrize(("line", "where"), [
    ('{"kind": "api-read", "time": "x", "data_type": "imei"}', "time"),
    ('{"kind": "api-read", "time": 1, "data_type": "shoe_size"}', "data_type"),
    ('{"kind": "payload", "time": 1, "url": "no-scheme"}', "url"),
    ('{"kind": "payload", "time": 1, "url": "https://h.example/", "body_b64": "%%%"}', "base64"),
    ('{"kind": "what", "time": 1}', "kind"),
    ('[1, 2]', "JSON object"),
    ('{"kind": "payload", "time": 1, "url": "https://h.example:99999/"}', "port"),
])
def test_bad_lines_name_file_and_line(line: str, where: str) -> None:
    with pytest.raises(HookFileError) as e:
        parse_hooks('{"kind": "api-read", "time": 1, "data_type": "imei"}\n' + line, "h.jsonl")
    assert "h.jsonl at line 2" in str(e.value) and where in str(e.value)


def test_camille_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "camille.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"])
        w.writerow(["同意隐私政策前", "2026-03-02 18:00:05", "第三方SDK", "获取IMEI", "获取设备IMEI", "",
                    "\n".join(UMENG_STACK)])
        w.writerow(["同意隐私政策前", "2026-03-02 18:00:06", "APP", "获取网络状态", "", "", "java.x"])  # not PI
    log = read_hooks(path)
    [e] = log.events
    read = parse_api_read(e.detail)
    assert read is not None and read.data_type == "imei" and read.sdk == "Umeng Analytics (U-App)"
    assert read.api == "android.telephony.TelephonyManager.getImei"
    assert e.time == datetime(2026, 3, 2, 18, 0, 5).astimezone().timestamp()  # camille writes local time


def test_camille_xlsx_export(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl reads XLSX (installed with the dev extra)")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"])
    ws.append(["同意隐私政策前", "2026-03-02 18:00:05", "第三方SDK", "获取Android ID", "", "", "\n".join(UMENG_STACK)])
    path = tmp_path / "camille.xlsx"
    wb.save(path)
    [e] = read_hooks(path).events
    assert parse_api_read(e.detail).data_type == "android_id"  # type: ignore[union-attr]


def test_replay_with_a_hook_log(tmp_path: Path) -> None:
    capture = tmp_path / "s.mitm"
    consent = RequestRecord("c", T0 + 20, "POST", "https", "api.demoshop.com.cn", 443, "/v1/privacy/consent",
                            (("Content-Type", "application/json"),), b'{"agree":true}')
    write_records([consent], capture)
    hooks = tmp_path / "hooks.jsonl"
    hooks.write_text("\n".join(json.dumps(x) for x in hook_lines()) + "\n")
    profile = tmp_path / "p.toml"
    profile.write_text(f'[app]\npackage = "com.example.demo"\nfirst_party_domains = ["demoshop.com.cn"]\n'
                       f'[device]\nimei = "{IMEI}"\n[person]\nphone_number = "{PHONE}"\n')
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(profile),
                        "--hooks", str(hooks), "--consent-marker", "/v1/privacy/consent", "--db", "",
                        "--json", str(out), "-q"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    api_reads = [e for e in doc["timeline"] if e["event"] == "api-read"]
    assert len(api_reads) == 2 and "imei" in api_reads[0]["detail"]
    [finding] = doc["findings"]
    assert (finding["data_type"], finding["source"], finding["phase"], finding["host"]) == (
        "phone_number", "hook", "before-consent", "ulogs.umeng.com")
    checks = {(v["rule"], v["check"]) for v in doc["violations"]}
    assert ("MIIT-1.2", "api-read") in checks and ("MIIT-1.2", "before-consent") in checks
    [api] = [v for v in doc["violations"] if v["check"] == "api-read"]
    assert api["data_types"] == ["imei"] and api["destinations"] == ["Umeng Analytics (U-App)"]


def test_a_bad_hook_log_is_one_line(tmp_path: Path) -> None:
    hooks = tmp_path / "bad.jsonl"
    hooks.write_text('{"kind": "api-read", "time": 1, "data_type": "imei"}\nnot json\n')
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(ROOT / "captures" / "demo_session.mitm"),
                        "--profile", str(ROOT / "captures" / "demo_profile.toml"), "--hooks", str(hooks),
                        "--db", ""], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "bad.jsonl at line 2" in r.stderr and "Traceback" not in r.stderr
