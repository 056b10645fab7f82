"""MIIT-4 targeted push and PIPL-24 (rules/_push.py)."""

from __future__ import annotations

from tests.rules.builders import only, session


def test_app_list_to_a_push_sdk() -> None:
    [v] = only(session([(30, "tsis.jpush.cn", "installed_apps")], [(20, "consent")]), "MIIT-4")
    assert (v.severity, v.confidence) == ("medium", "medium") and v.destinations == ("JPush",)


def test_behaviour_data_by_custom_name_to_an_ad_sdk() -> None:
    [v] = only(session([(30, "mi.gdt.qq.com", "search_history")]), "MIIT-4")
    assert v.data_types == ("search_history",)


def test_not_for_analytics_sdks_or_device_ids() -> None:
    assert only(session([(30, "ulogs.umeng.com", "installed_apps")]), "MIIT-4") == []
    assert only(session([(30, "tsis.jpush.cn", "imei")]), "MIIT-4") == []


def test_after_personalisation_off_is_pipl24() -> None:
    r = session([(10, "tsis.jpush.cn", "installed_apps"), (30, "tsis.jpush.cn", "installed_apps")],
                [(0, "consent"), (20, "personalization-off")])
    [v] = only(r, "PIPL-24")
    assert v.flows == ("f30",) and v.events == ("1970-01-01T00:00:20.000Z",) and v.severity == "high"
    assert only(r, "MIIT-4")[0].flows == ("f10", "f30")
