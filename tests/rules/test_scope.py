"""CAC-NPI-5 / PIPL-6 beyond the necessary scope, MIIT-2.3 sensitive PI (rules/_scope.py)."""

from __future__ import annotations

from consentscope.rules import evaluate
from tests.rules.builders import NO_TYPE, SHOP, item, only, profile, session, session_of, timeline


def test_outside_the_app_types_list_with_no_recorded_scope() -> None:
    r = session([(30, "api.demoshop.com.cn", "imei"), (31, "api.demoshop.com.cn", "phone_number")], [(20, "consent")])
    [v] = only(r, "CAC-NPI-5")
    assert (v.severity, v.confidence, v.check) == ("medium", "medium", "scope-unknown")
    assert v.data_types == ("imei",) and v.flows == ("f30",)
    assert "Online shopping" in v.explanation and "网上购物类" in v.explanation_zh


def test_no_app_type_no_scope_rule() -> None:
    r = session([(30, "api.demoshop.com.cn", "imei")], [(20, "consent")])
    assert only(r, "CAC-NPI-5", NO_TYPE) == [] and only(r, "PIPL-6", NO_TYPE) == []


def test_types_needing_no_pi_flag_any_pi() -> None:
    [v] = only(session([(30, "api.demoshop.com.cn", "phone_number")]), "CAC-NPI-5", profile("short_video"))
    assert "no personal information" in v.explanation


def test_the_users_own_number_as_an_orders_contact_phone() -> None:
    r = session([(30, "api.demoshop.com.cn", "phone_number"), (31, "api.demoshop.com.cn", "email")])
    [v] = only(r, "CAC-NPI-5", profile("postal_express_delivery"))  # lists contact_phone, not phone_number
    assert v.data_types == ("email",)


def test_necessary_only_session_is_strong_and_full_consent_is_minimisation() -> None:
    narrow = session([(30, "api.demoshop.com.cn", "imei")], [(20, "consent"), (21, "consent-scope", "necessary_only")])
    [v] = only(narrow, "CAC-NPI-5")
    assert (v.severity, v.confidence, v.check) == ("high", "high", "necessary_only")
    full = session([(30, "api.demoshop.com.cn", "imei")], [(20, "consent"), (21, "consent-scope", "full")])
    assert only(full, "CAC-NPI-5") == []
    [m] = only(full, "PIPL-6")
    assert (m.severity, m.confidence) == ("low", "low")


def test_sensitive_pi_the_type_does_not_need() -> None:
    r = session([(30, "api.demoshop.com.cn", "id_number"), (31, "api.demoshop.com.cn", "imei")])
    [v] = only(r, "MIIT-2.3")
    assert v.data_types == ("id_number",) and (v.severity, v.confidence) == ("medium", "medium")
    assert only(r, "MIIT-2.3", profile("online_payment")) == []  # payment apps need the ID number
    [low] = only(r, "MIIT-2.3", NO_TYPE)
    assert low.confidence == "low" and "no app type" in low.explanation


def test_precise_location_is_sensitive_coarse_is_not() -> None:
    tl = timeline([])

    def rules(evidence: str, prof=SHOP) -> list[str]:  # type: ignore[no-untyped-def]
        return [v.rule for v in evaluate(session_of([item(30, "apilocate.amap.com", "location", tl, evidence=evidence)]),
                                         prof)]

    assert "MIIT-2.3" in rules("lat 39.908712, lon 116.397461")
    assert "MIIT-2.3" not in rules("lat 39.91, lon 116.40")
    assert "MIIT-2.3" not in rules("lat 39.908712, lon 116.397461", profile("map_navigation"))
