"""IDM-6.4: account data after account deletion (rules/_deletion.py)."""

from __future__ import annotations

from tests.rules.builders import only, session


def test_account_data_after_deletion() -> None:
    r = session([(10, "api.demoshop.com.cn", "phone_number"), (40, "api.demoshop.com.cn", "phone_number"),
                 (41, "ulogs.umeng.com", "imei")], [(0, "consent"), (30, "account-deletion", "settings > delete")])
    [v] = only(r, "IDM-6.4")
    assert v.flows == ("f40",) and v.category == "MIIT-8" and (v.severity, v.confidence) == ("medium", "low")
    assert v.events == ("1970-01-01T00:00:30.000Z",)


def test_nothing_without_a_deletion_event() -> None:
    assert only(session([(40, "api.demoshop.com.cn", "phone_number")], [(0, "consent")]), "IDM-6.4") == []
