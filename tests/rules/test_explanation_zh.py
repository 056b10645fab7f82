"""Chinese explanations name things in Chinese (rules/_evidence.py ``ZH``): data types, SDKs,
vendors, permissions and connection kinds come from the report's vocabulary (reports/i18n.py,
tracker_db ``name_zh``), never the English keys. The English explanations are unchanged: they
are compared with a golden file written before the Chinese names came in.

What may stay in Latin letters, and why (regulations.md, the M164 scenarios and GB/T 35273
write these in Latin inside Chinese text): host names, API names and ISO times (identifiers),
rule IDs, "App" and "SDK", the data-type and Wi-Fi terms inside the vocabulary's own Chinese
names (IMEI, OAID, MAC, Android ID…), SDK names as their Chinese names write them (友盟+统计分析SDK
(U-App)), names of SDKs that have no Chinese name (Firebase Installations), and the profile
key the user must type (``first_party_domains``).
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path

from consentscope.model import ConsentMarkers
from consentscope.rules import RULES_INFO, Violation, evaluate, parse_suppressions
from tests.rules.builders import NO_TYPE, SHOP, contact, item, session, session_of, timeline

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_EN = Path(__file__).parent / "data" / "explanations_en.json"

#: Latin words allowed outside the vocabulary's phrases
ALLOWED_WORDS = frozenset({"App", "SDK", "first_party_domains"})
#: written so in the PI vocabulary's own Chinese labels (necessary_pi.yaml: "Wi-Fi 信息")
ALLOWED_PHRASES = ("Wi-Fi",)
_IDENTIFIER = re.compile(
    r"\d{4}-\d{2}-\d{2}T[\d:.]+Z"  # ISO times
    r"|\b(?:MIIT|IDM|M164|CAC-NPI|PIPL|CSL|NDSR)-[\d.]+\b"  # rule IDs
    r"|[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)+"  # host and API names
)
_LATIN = re.compile(r"[A-Za-z][A-Za-z_]*")

API = "android.telephony.TelephonyManager.getImei"
LOC = "android.permission.ACCESS_FINE_LOCATION"


@cache
def vocabulary() -> tuple[str, ...]:
    """Every phrase the Chinese vocabulary writes, longest first."""
    from consentscope.appdata import pi_vocabulary
    from consentscope.reports.i18n import CATEGORIES_ZH, DATA_TYPES_ZH, EVENT_SOURCES_ZH, PERMISSIONS_ZH, VIA_ZH

    phrases = {*DATA_TYPES_ZH.values(), *CATEGORIES_ZH.values(), *EVENT_SOURCES_ZH.values(), *VIA_ZH.values(),
               *PERMISSIONS_ZH.values(), *(v["zh"] for v in pi_vocabulary().values())}
    with open(ROOT / "tracker_db" / "sdks.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            phrases.update(p for p in (row["name_zh"], row["vendor_zh"]) if p)
            if not row["name_zh"]:
                phrases.add(row["sdk"])  # no Chinese name: the product's own name is what policies write
    phrases.update(ALLOWED_PHRASES)
    return tuple(sorted(phrases, key=lambda p: (-len(p), p)))


def foreign_words(text: str) -> list[str]:
    for phrase in vocabulary():
        text = text.replace(phrase, " ")
    text = _IDENTIFIER.sub(" ", text)
    return [w for w in _LATIN.findall(text) if w not in ALLOWED_WORDS]


@cache
def synthetic() -> tuple[Violation, ...]:
    """Sessions that make every rule and every check fire."""
    out: list[Violation] = []
    pre = session(
        [(2, "ulogs.umeng.com", "imei"), (3, "api-access.pangolin-sdk-toutiao.com", "installed_apps"),
         (4, "launches.appsflyersdk.com", "gaid"), (5, "unknown-host.example.net", "oaid"),
         (6, "api.demoshop.com.cn", "id_number"), (7, "apilocate.amap.com", "location")],
        [(0, "app-start"), (1, "permission-asked", LOC), (8, "policy-shown"), (20, "consent"),
         (50, "refusal"), (80, "withdrawal")],
        [(9, "tsis.jpush.cn")],
    )
    out += evaluate(pre, SHOP)
    out += evaluate(pre, NO_TYPE)
    later = session([(60, "ulogs.umeng.com", "android_id"), (90, "mi.gdt.qq.com", "oaid")],
                    [(20, "consent"), (50, "refusal"), (80, "withdrawal")])
    out += evaluate(later, SHOP)
    declared = parse_suppressions({"declared": {"data_types": ["phone_number"], "sdk": [
        {"name": "Umeng Analytics (U-App)", "data_types": ["android_id"]}]}}, "p.toml")
    policy = session([(30, "ulogs.umeng.com", "imei"), (31, "mi.gdt.qq.com", "oaid"),
                      (32, "api.demoshop.com.cn", "email")], [(20, "consent")], [(33, "tsis.jpush.cn")])
    out += evaluate(policy, SHOP, suppressions=declared)
    often = session([(30 + 5 * i, "ulogs.umeng.com", "imei") for i in range(5)]
                    + [(30 + 7 * i, "sdk.e.qq.com", "oaid") for i in range(3)]
                    + [(100 + 200 * i, "apilocate.amap.com", "bssid") for i in range(4)]
                    + [(1000, "tsis.jpush.cn", "installed_apps"), (1100, "tsis.jpush.cn", "search_history"),
                       (1200, "apilocate.amap.com", "location"), (1300, "api.demoshop.com.cn", "phone_number")],
                    [(20, "consent"), (21, "consent-scope", "necessary_only"), (900, "background"),
                     (1050, "personalization-off"), (1150, "permission-denied", LOC),
                     (1250, "account-deletion"), (1400, "permission-denied", "android.permission.CAMERA"),
                     (1500, "permission-asked", "android.permission.CAMERA")])
    out += evaluate(often, SHOP)
    full = session([(30, "api.demoshop.com.cn", "imei")], [(20, "consent"), (21, "consent-scope", "full")])
    out += evaluate(full, SHOP)
    tl = timeline([(10, "api-read", f"imei {API} [Umeng Analytics (U-App)]"), (20, "consent"),
                   (30, "api-read", f"oaid {API} [Firebase Installations]"), (40, "withdrawal"),
                   (50, "api-read", "imei  [unknown caller]")])
    hidden = contact(5, "ulogs.umeng.com", tl, via="opaque-request")
    out += evaluate(session_of([item(25, "sdk.e.qq.com", "imei", tl)], tl, [hidden]), SHOP)
    return tuple(out)


@cache
def demo() -> tuple[Violation, ...]:
    from consentscope.detectors import Scanner
    from consentscope.profile import load_profile
    from consentscope.session import audit_capture

    profile = load_profile(str(ROOT / "captures" / "demo_profile.toml"))
    markers = ConsentMarkers(consent=re.compile("/v1/privacy/consent"))
    result = audit_capture(str(ROOT / "captures" / "demo_session.mitm"), "demo", profile,
                           Scanner(profile.scan_profile()), markers=markers)
    return tuple(evaluate(result, profile))


def test_every_rule_fires_in_the_synthetic_sessions() -> None:
    fired = {v.rule for v in synthetic()}
    assert fired == set(RULES_INFO)
    checks = {(v.rule, v.check) for v in synthetic()}
    for want in [("MIIT-3", "contact-only"), ("MIIT-3", "undeclared-contact"), ("MIIT-3", "undeclared-recipient"),
                 ("MIIT-3", "unknown-recipient"), ("MIIT-2.2", "background"), ("MIIT-2.2", "frequent+periodic"),
                 ("MIIT-2.2", "periodic"), ("MIIT-1.2", "api-read"), ("PIPL-15", "api-read"),
                 ("CAC-NPI-5", "necessary_only"), ("CAC-NPI-5", "scope-unknown")]:
        assert want in checks


def test_chinese_explanations_use_the_chinese_vocabulary() -> None:
    bad = {(v.rule, v.check, w) for v in [*synthetic(), *demo()] for w in foreign_words(v.explanation_zh)}
    assert bad == set()


def test_the_sdks_are_named_by_their_chinese_names() -> None:
    zh = " ".join(v.explanation_zh for v in synthetic())
    for name in ("友盟+统计分析SDK (U-App)", "穿山甲SDK", "极光推送SDK", "高德定位SDK", "IMEI(设备识别码)", "已安装应用列表",
                 "位置", "相机", "钩子日志", "不可读请求"):
        assert name in zh
    for english in ("Umeng Analytics", "Pangle", "JPush", "installed_apps", "imei", "opaque-request"):
        assert english not in zh


def test_the_word_check_catches_english_names() -> None:
    assert foreign_words("发送给第三方（Umeng Analytics (U-App)）") == ["Umeng", "Analytics", "U"]
    assert foreign_words("个人信息（imei、installed_apps）") == ["imei", "installed_apps"]
    assert foreign_words("App 于 2026-03-02T10:00:06.000Z 向 ulogs.umeng.com 发送 IMEI(设备识别码)（MIIT-1.2）") == []


def english_texts() -> list[list[str]]:
    return sorted([v.rule, v.check, v.explanation] for v in [*synthetic(), *demo()])


def test_english_explanations_are_unchanged() -> None:
    assert english_texts() == json.loads(GOLDEN_EN.read_text(encoding="utf-8"))


if __name__ == "__main__":  # writes the golden file: python -m tests.rules.test_explanation_zh
    GOLDEN_EN.write_text(json.dumps(english_texts(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def test_verdict_notes_name_unread_sdks_in_chinese() -> None:
    from consentscope.rules import verdicts

    tl = timeline([(100, "consent")])
    hidden = [contact(5, "ulogs.umeng.com", tl), contact(6, "tsis.jpush.cn", tl, via="quic-sni")]
    result = session_of([], tl, hidden)
    result.violations = evaluate(result, SHOP)
    notes = {v.category.id: (v.note("en"), v.note("zh")) for v in verdicts([result], SHOP)}
    en, zh = notes["MIIT-1"]
    assert en == ("2 request(s) or connection(s) to third parties before consent could not be read "
                  "(JPush, Umeng Analytics (U-App)): encrypted, pinned or passed through")
    assert "极光推送SDK" in zh and "友盟+统计分析SDK (U-App)" in zh
    assert foreign_words(zh) == []
