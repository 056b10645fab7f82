"""Sessions for report tests, made by the real pipeline from hostile requests."""

from __future__ import annotations

import json
from pathlib import Path

from consentscope.detectors import RequestRecord, Scanner
from consentscope.model import Contact, SessionResult, TimelineEvent
from consentscope.profile import Profile, load_profile
from consentscope.rules import Suppressions, evaluate
from consentscope.session import Audit

ROOT = Path(__file__).resolve().parents[2]
PROFILE_PATH = ROOT / "captures" / "demo_profile.toml"
IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"
T0 = 1772445600.0  # 2026-03-02T10:00:00Z

#: planted in a URL, a body and an event detail: each would change the title or the page if it ran
SCRIPT = "<script>document.title='pwned';document.body.innerHTML='gone'</script>"
IMG = "<img src=x onerror=\"document.title='img'\">"
SVG = "</text></svg><svg onload=\"document.title='svg'\">"


def profile() -> Profile:
    return load_profile(PROFILE_PATH)


def record(n: int, t: float, host: str, path: str, body: dict | None = None) -> RequestRecord:
    data = json.dumps(body).encode() if body is not None else b""
    headers = (("Host", host), ("Content-Type", "application/json"))
    return RequestRecord(f"flow-{n}", T0 + t, "POST", "https", host, 443, path, headers, data)


def hostile_session(suppressions: Suppressions | None = None) -> tuple[SessionResult, Profile]:
    prof = profile()
    events = [
        TimelineEvent(T0, "app-start", f"hook log {SCRIPT}", "file"),
        TimelineEvent(T0 + 40, "consent", f"tapped Agree {IMG}", "file"),
        TimelineEvent(T0 + 50, "permission-denied", "location", "file"),
        TimelineEvent(T0 + 55, "permission-asked", "location", "file"),
    ]
    audit = Audit("hostile", prof, Scanner(prof.scan_profile()), label="hostile.mitm", events=events)
    items = [
        record(1, 2, "ulogs.umeng.com", f"/unify_logs?imei={IMEI}&n={SCRIPT}", {"info": f"{SCRIPT}{ANDROID_ID}{IMG}"}),
        record(2, 4, "mi.gdt.qq.com", f"/gdt_mview.fcg?oaid=0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11&s={SVG}"),
        record(3, 10, "api.demoshop.com.cn", "/v1/config", {"imei": IMEI}),
        record(4, 45, "launches.appsflyersdk.com", "/api/v6/launch", {"advertiserId": "38400000-8cf0-11bd-b23e-10b96e40000d"}),
        record(5, 47, "api.demoshop.com.cn", "/v1/login", {"phone": "+8613812345678", "name": "张伟"}),
        Contact(T0 + 3, "tsis.jpush.cn", "203.0.113.7", 443, "tls-sni", "TLSv1.3"),
    ]
    for it in items:
        audit.feed(it)
    result = audit.finish()
    result.violations = evaluate(result, prof, suppressions=suppressions)
    return result, prof
