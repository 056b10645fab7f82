"""MIIT-1.2, IDM-3.2, PIPL-15: personal information without consent (rules/_collection.py)."""

from __future__ import annotations

from tests.rules.builders import only, session


def test_before_consent_counts_first_party_and_sdks() -> None:
    r = session([(10, "ulogs.umeng.com", "imei"), (12, "api.demoshop.com.cn", "phone_number"),
                 (30, "ulogs.umeng.com", "imei")], [(20, "consent")])
    [v] = only(r, "MIIT-1.2")
    assert (v.severity, v.confidence, v.check) == ("high", "high", "before-consent")
    assert v.flows == ("f10", "f12")  # not the request after consent
    assert v.events == ("1970-01-01T00:00:20.000Z",)
    assert v.data_types == ("imei", "phone_number")
    assert "2 destination(s), 1 of them third parties (Umeng Analytics (U-App))" in v.explanation
    assert "同意隐私政策前" in v.explanation_zh


def test_first_party_alone_before_consent_is_still_collection() -> None:
    [v] = only(session([(10, "api.demoshop.com.cn", "email")], [(20, "consent")]), "MIIT-1.2")
    assert "0 of them third parties" in v.explanation


def test_refusal_and_withdrawal_have_their_own_rules_and_events() -> None:
    r = session([(30, "api.demoshop.com.cn", "email"), (50, "api.demoshop.com.cn", "email")],
                [(20, "refusal"), (40, "consent"), (45, "withdrawal")])
    [refused] = only(r, "IDM-3.2")
    [withdrawn] = only(r, "PIPL-15")
    assert refused.flows == ("f30",) and refused.events == ("1970-01-01T00:00:20.000Z",)
    assert withdrawn.flows == ("f50",) and withdrawn.events == ("1970-01-01T00:00:45.000Z",)
    assert only(r, "MIIT-1.2") == []


def test_nothing_without_a_consent_event_or_after_consent() -> None:
    assert only(session([(10, "ulogs.umeng.com", "imei")]), "MIIT-1.2") == []  # phase unknown, not "before"
    assert only(session([(30, "ulogs.umeng.com", "imei")], [(20, "consent")]), "MIIT-1.2") == []


def test_the_consent_tap_itself_counts_as_after() -> None:
    assert only(session([(20, "api.demoshop.com.cn", "phone_number")], [(20, "consent")]), "MIIT-1.2") == []
