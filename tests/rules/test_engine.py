"""The rule table, evaluate's order, fail_on and --fail-on parsing (rules/_engine.py, _model.py)."""

from __future__ import annotations

import pytest

from consentscope.reports.json_report import violation_json
from consentscope.rules import CATEGORIES, RULES, RULES_INFO, Violation, evaluate, fail_on, parse_fail_on
from tests.rules.builders import NO_TYPE, SHOP, session


def test_every_rule_id_is_named_and_reported_by_one_unit() -> None:
    ids = [rid for rule in RULES for rid in rule.ids]
    assert sorted(ids) == sorted(RULES_INFO) and len(ids) == len(set(ids))
    assert all(info.category in CATEGORIES and info.name_zh and info.source_zh for info in RULES_INFO.values())


def test_violations_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        Violation("MIIT-9", "high", "high", "x")
    with pytest.raises(ValueError, match="severity"):
        Violation("MIIT-3", "critical", "high", "x")


def test_order_and_json_shape() -> None:
    r = session([(10, "ulogs.umeng.com", "imei"), (30, "ulogs.umeng.com", "imei")], [(20, "consent")])
    vs = evaluate(r, SHOP)
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[v.severity] for v in vs] == sorted(order[v.severity] for v in vs)
    j = violation_json(vs[0])
    assert {"rule", "severity", "confidence", "explanation", "evidence"} <= set(j)
    assert j["evidence"] == {"flows": ["f10"], "events": ["1970-01-01T00:00:20.000Z"], "observed": {}}
    assert j["category"] == "MIIT-1" and "reason" not in j


def test_fail_on_ids_prefixes_categories_and_related() -> None:
    r = session([(10, "ulogs.umeng.com", "imei")], [(5, "refusal")])
    vs = evaluate(r, NO_TYPE)
    assert {v.rule for v in vs} == {"IDM-3.2", "MIIT-3"}
    assert [v.rule for v in fail_on(vs, ["MIIT-1"])] == ["IDM-3.2"]  # its category
    assert [v.rule for v in fail_on(vs, ["PIPL-23"])] == ["MIIT-3"]  # related: sharing before consent
    assert [v.rule for v in fail_on(vs, ["IDM-3"])] == ["IDM-3.2"]  # dotted prefix
    assert fail_on(vs, ["MIIT-5"]) == [] and fail_on(vs, ["MIIT-3"])
    assert fail_on(vs, []) == []


def test_parse_fail_on_rejects_typos() -> None:
    assert parse_fail_on("MIIT-1, PIPL-23") == ["MIIT-1", "PIPL-23"]
    assert parse_fail_on("MIIT-8") == ["MIIT-8"]
    with pytest.raises(ValueError, match="unknown rule 'MIIT1'"):
        parse_fail_on("MIIT1")
    with pytest.raises(ValueError, match="expected rule IDs"):
        parse_fail_on(" , ")
