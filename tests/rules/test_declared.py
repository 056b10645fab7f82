"""MIIT-1.1, IDM-2.1 and undeclared recipients (rules/_declared.py) against a declared inventory."""

from __future__ import annotations

import pytest

from consentscope.rules import SuppressionError, parse_suppressions
from tests.rules.builders import only, session

UMENG_ONLY = {"declared": {"data_types": ["phone_number"],
                           "sdk": [{"name": "Umeng Analytics (U-App)", "data_types": ["android_id"]}]}}


def judged(result, project: dict, rule: str) -> list:  # type: ignore[no-untyped-def]
    from consentscope.rules import evaluate
    from tests.rules.builders import SHOP

    return [v for v in evaluate(result, SHOP, suppressions=parse_suppressions(project, "p.toml")) if v.rule == rule]


def test_recipients_the_sdk_list_does_not_name_are_miit3_in_any_phase() -> None:
    r = session([(30, "ulogs.umeng.com", "android_id"), (31, "mi.gdt.qq.com", "oaid")], [(20, "consent")])
    [v] = judged(r, UMENG_ONLY, "MIIT-3")
    assert (v.check, v.severity, v.confidence) == ("undeclared-recipient", "high", "high")
    assert v.flows == ("f31",) and v.destinations == ("Tencent GDT / YLH Ads",)
    assert only(r, "MIIT-3") == []  # without the policy's list, after consent, no MIIT-3


def test_a_recipient_is_named_by_sdk_vendor_or_domain() -> None:
    r = session([(30, "launches.appsflyersdk.com", "gaid"), (31, "mi.gdt.qq.com", "oaid"),
                 (32, "ulogs.umeng.com", "imei")], [(20, "consent")])
    project = {"declared": {"sdk": [{"name": "appsflyersdk.com"}, {"name": "TENCENT"}, {"name": "Umeng"}]}}
    assert judged(r, project, "MIIT-3") == []


def test_data_types_beyond_the_lists_are_idm21() -> None:
    r = session([(30, "ulogs.umeng.com", "android_id"), (31, "ulogs.umeng.com", "imei"),
                 (32, "api.demoshop.com.cn", "phone_number"), (33, "api.demoshop.com.cn", "id_number")],
                [(20, "consent")])
    [v] = judged(r, UMENG_ONLY, "IDM-2.1")
    assert (v.check, v.category) == ("undeclared-data", "MIIT-1")
    assert v.flows == ("f31", "f33") and v.data_types == ("id_number", "imei")
    # an SDK entry without data_types does not itemise them: nothing to compare
    loose = {"declared": {"data_types": ["phone_number", "id_number"], "sdk": [{"name": "Umeng"}]}}
    assert judged(r, loose, "IDM-2.1") == []


def test_without_a_declared_table_nothing_is_claimed() -> None:
    r = session([(30, "ulogs.umeng.com", "imei"), (33, "api.demoshop.com.cn", "id_number")], [(20, "consent")])
    assert judged(r, {}, "IDM-2.1") == [] and judged(r, {}, "MIIT-3") == []


def test_bare_connections_to_undeclared_sdks_are_a_weak_miit3() -> None:
    r = session([(30, "ulogs.umeng.com", "android_id")], [(20, "consent")],
                contacts=[(25, "mi.gdt.qq.com"), (26, "ulogs.umeng.com")])
    [v] = judged(r, UMENG_ONLY, "MIIT-3")
    assert (v.check, v.severity, v.confidence) == ("undeclared-contact", "low", "low")
    assert v.flows == ("tls-sni:mi.gdt.qq.com",)


def test_an_accepted_sdk_is_not_an_undeclared_recipient() -> None:
    r = session([(31, "mi.gdt.qq.com", "oaid")], [(20, "consent")])
    project = {**UMENG_ONLY, "accept": [{"sdk": "Tencent GDT / YLH Ads", "reason": "named in the ad partner annex"}]}
    [v] = judged(r, project, "MIIT-3")
    assert v.suppressed == "named in the ad partner annex"


@pytest.mark.parametrize(("table", "message"), [
    ({"data_types": ["imei", "shoe_size"]}, "p.toml: declared.data_types: unknown data type 'shoe_size'"),
    ({"sdks": []}, "p.toml: declared.sdks: unknown key"),
    ({"sdk": [{"data_types": ["imei"]}]}, "p.toml: declared.sdk #1: name:"),
    ({"sdk": [{"name": "Umeng", "data_types": "imei"}]}, "p.toml: declared.sdk #1.data_types: expected a list"),
    ([1], "p.toml: declared: expected a table"),
])
def test_bad_declared_tables_name_the_key(table: object, message: str) -> None:
    with pytest.raises(SuppressionError) as e:
        parse_suppressions({"declared": table}, "p.toml")
    assert str(e.value).startswith(message)


def test_pi_between_app_start_and_the_notice_is_miit11() -> None:
    r = session([(2, "ulogs.umeng.com", "imei"), (8, "ulogs.umeng.com", "imei")],
                [(0, "app-start"), (5, "policy-shown"), (20, "consent")])
    [v] = only(r, "MIIT-1.1")
    assert (v.flows, v.confidence, v.check) == (("f2",), "medium", "no-notice")
    assert v.events == ("1970-01-01T00:00:00.000Z", "1970-01-01T00:00:05.000Z")


def test_no_notice_at_all_is_a_low_confidence_miit11() -> None:
    [v] = only(session([(2, "ulogs.umeng.com", "imei")], [(0, "app-start")]), "MIIT-1.1")
    assert v.confidence == "low" and "no privacy notice recorded" in v.explanation


@pytest.mark.parametrize("events", [
    [(5, "consent")],  # the start was not recorded: unknown what came first
    [(0, "app-start"), (20, "consent")],  # a notice came at a time nobody recorded
    [(0, "app-start"), (1, "policy-shown")],  # PI only after the notice
])
def test_miit11_claims_nothing_it_cannot_see(events: list) -> None:
    assert only(session([(2, "ulogs.umeng.com", "imei")], events), "MIIT-1.1") == []
