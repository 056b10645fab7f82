"""Verdict per MIIT category and the checklist (rules/_verdict.py)."""

from __future__ import annotations

from dataclasses import replace

from consentscope.rules import CHECKLIST, evaluate, parse_suppressions, verdicts
from tests.rules.builders import NO_TYPE, SHOP, session


def statuses(r, prof=SHOP, **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r.violations = evaluate(r, prof, **kw)
    return {v.category.id: v.status for v in verdicts([r], prof)}


def test_violation_not_found_and_manual() -> None:
    got = statuses(session([(10, "ulogs.umeng.com", "imei")], [(20, "consent")]))
    assert got["MIIT-1"] == "violation" and got["MIIT-3"] == "violation"
    assert got["MIIT-4"] == "not-seen"
    assert [got[c] for c in ("MIIT-5", "MIIT-6", "MIIT-7", "MIIT-8")] == ["checklist"] * 4


def test_cannot_tell_without_a_consent_event() -> None:
    got = statuses(session([(10, "api.demoshop.com.cn", "phone_number")]))
    assert got["MIIT-1"] == got["MIIT-2"] == got["MIIT-3"] == "cannot-tell"


def test_low_confidence_only_is_suspected_and_accepted_is_shown_as_such() -> None:
    r = session([], [(0, "permission-denied", "camera"), (60, "permission-asked", "camera")])
    assert statuses(r)["MIIT-6"] == "suspected"
    s = parse_suppressions({"accept": [{"rules": ["MIIT-6"], "reason": "r"}]})
    assert statuses(replace(r), suppressions=s)["MIIT-6"] == "accepted"


def test_recorded_permission_events_without_a_reask() -> None:
    assert statuses(session([], [(0, "permission-denied", "camera")]))["MIIT-6"] == "not-seen"


def test_no_app_type_is_noted() -> None:
    r = session([(30, "api.demoshop.com.cn", "phone_number")], [(20, "consent")])
    r.violations = evaluate(r, NO_TYPE)
    [miit2] = [v for v in verdicts([r], NO_TYPE) if v.category.id == "MIIT-2"]
    assert miit2.status == "not-seen" and "no app type" in miit2.note("en") and "App类型" in miit2.note("zh")


def test_checklist_in_both_languages() -> None:
    refs = [c.ref for c in CHECKLIST]
    assert any("MIIT-5" in r for r in refs) and any("MIIT-8" in r for r in refs)
    assert all(c.title("en") != c.title("zh") and any("\u4e00" <= ch <= "\u9fff" for ch in c.how("zh"))
               for c in CHECKLIST)
