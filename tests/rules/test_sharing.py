"""MIIT-3 and PIPL-23: third parties (rules/_sharing.py)."""

from __future__ import annotations

from consentscope.rules._evidence import recipient
from tests.rules.builders import CLASSIFIER, only, session


def test_recipient_kinds() -> None:
    assert recipient(CLASSIFIER.classify("api.demoshop.com.cn")) == "first"
    assert recipient(CLASSIFIER.classify("ulogs.umeng.com")) == "known"
    assert recipient(CLASSIFIER.classify("api.unknown-startup.example")) == "unknown"


def test_sdk_before_consent_is_miit3_high() -> None:
    r = session([(10, "mi.gdt.qq.com", "oaid"), (11, "api.demoshop.com.cn", "imei")], [(20, "consent")])
    [v] = only(r, "MIIT-3")
    assert (v.severity, v.confidence, v.check) == ("high", "high", "sdk")
    assert v.flows == ("f10",) and v.destinations == ("Tencent GDT / YLH Ads",)


def test_after_refusal_is_miit3_too() -> None:
    [v] = only(session([(30, "ulogs.umeng.com", "imei")], [(20, "refusal")]), "MIIT-3")
    assert v.check == "sdk"


def test_unknown_owner_is_a_separate_low_confidence_violation() -> None:
    [v] = only(session([(10, "api.unknown-startup.example", "imei")], [(20, "consent")]), "MIIT-3")
    assert (v.severity, v.confidence, v.check) == ("medium", "low", "unknown-recipient")
    assert "first_party_domains" in v.explanation


def test_after_general_consent_is_pipl23_low() -> None:
    r = session([(30, "launches.appsflyersdk.com", "gaid"), (31, "api.demoshop.com.cn", "phone_number")],
                [(20, "consent")])
    assert only(r, "MIIT-3") == []
    [v] = only(r, "PIPL-23")
    assert (v.severity, v.confidence) == ("low", "medium") and v.flows == ("f30",)


def test_first_party_is_never_sharing() -> None:
    r = session([(10, "api.demoshop.com.cn", "imei"), (30, "api.demoshop.com.cn", "imei")], [(20, "consent")])
    assert only(r, "MIIT-3") == [] and only(r, "PIPL-23") == []


def test_contact_only_is_weaker_and_separate() -> None:
    r = session([], [(20, "consent")], contacts=[(5, "ulogs.umeng.com"), (25, "mi.gdt.qq.com"),
                                                 (6, "api.demoshop.com.cn")])
    [v] = only(r, "MIIT-3")
    assert (v.severity, v.confidence, v.check) == ("low", "low", "contact-only")
    assert v.flows == ("tls-sni:ulogs.umeng.com",) and v.destinations == ("Umeng Analytics (U-App)",)
    assert "not the data sent" in v.explanation


def test_contact_with_content_in_the_same_phase_is_not_repeated() -> None:
    r = session([(6, "ulogs.umeng.com", "imei")], [(20, "consent")], contacts=[(5, "ulogs.umeng.com")])
    assert [v.check for v in only(r, "MIIT-3")] == ["sdk"]
