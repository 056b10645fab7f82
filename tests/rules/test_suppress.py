"""The project file: accepted findings with reasons, thresholds (rules/_suppress.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentscope.rules import (
    SuppressionError,
    Thresholds,
    evaluate,
    fail_on,
    load_suppressions,
    parse_suppressions,
    usage,
)
from tests.rules.builders import SHOP, session

DATA = Path(__file__).parent / "data"


def test_the_example_file_loads() -> None:
    s = load_suppressions(DATA / "consentscope.toml")
    assert [a.index for a in s.entries] == [1, 2, 3, 4, 5]
    assert s.entries[0].sdk == ("tencent bugly",) and s.entries[0].rules == ("PIPL-23",)
    assert s.entries[3].whole_rule and not s.entries[0].whole_rule
    assert s.thresholds == Thresholds(repeat_count=4, repeat_interval_s=20)


@pytest.mark.parametrize(("text", "message"), [
    ("[[accept]]\nsdk = 'x'\n", r"accept #1: reason: every accepted finding needs a reason"),
    ("[[accept]]\nreason = 'r'\n", r"accept #1: names nothing to accept"),
    ("[[accept]]\nsdk='a'\nreason='r'\n[[accept]]\nhots = 'x'\nreason = 'r'\n", r"accept #2: hots: unknown key"),
    ("[[accept]]\nrules = ['MIIT-99']\nreason = 'r'\n", r"accept #1: rules: unknown rule 'MIIT-99'"),
    ("[[accept]]\nsdk = 3\nreason = 'r'\n", r"accept #1: sdk: expected a non-empty string"),
    ("[thresholds]\nrepeat_count = 1\n", r"thresholds: repeat_count must be at least 2"),
    ("[thresholds]\nrepeat_count = 2.5\n", r"thresholds.repeat_count: expected a whole number"),
    ("[thresholds]\nwindow = 3\n", r"thresholds.window: unknown key"),
    ("[accepts]\n", r"accepts: unknown key"),
])
def test_errors_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "project.toml"
    p.write_text(text)
    with pytest.raises(SuppressionError, match=rf"project\.toml: {message}"):
        load_suppressions(p)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(SuppressionError, match=r"missing\.toml: cannot read"):
        load_suppressions(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[[accept]\n")
    with pytest.raises(SuppressionError, match=r"bad\.toml: not valid TOML"):
        load_suppressions(tmp_path / "bad.toml")


SHARED = session([(10, "android.bugly.qq.com", "android_id"), (30, "android.bugly.qq.com", "imei"),
                  (31, "launches.appsflyersdk.com", "gaid")], [(20, "consent")])


def test_an_sdk_accepted_for_one_rule_only() -> None:
    s = parse_suppressions({"accept": [{"sdk": "Tencent Bugly", "rules": ["PIPL-23"], "reason": "entrusted"}]})
    vs = evaluate(SHARED, SHOP, suppressions=s)
    pipl = [v for v in vs if v.rule == "PIPL-23"]
    assert [(v.flows, v.suppressed) for v in pipl] == [(("f31",), ""), (("f30",), "entrusted")]
    [miit3] = [v for v in vs if v.rule == "MIIT-3"]
    assert miit3.flows == ("f10",) and not miit3.suppressed  # before consent stays a violation
    assert fail_on(vs, ["PIPL-23"]) == [miit3, pipl[0]]  # --fail-on counts related IDs: MIIT-3 breaks PIPL-23 too


def test_a_data_type_to_a_domain_for_all_rules() -> None:
    r = session([(10, "apilocate.amap.com", "location"), (11, "apilocate.amap.com", "bssid")], [(20, "consent")])
    s = parse_suppressions({"accept": [{"data_type": "location", "host": "amap.com", "reason": "store finder"}]})
    vs = evaluate(r, SHOP, suppressions=s)
    assert all(v.data_types == ("bssid",) for v in vs if not v.suppressed)
    assert {v.rule for v in vs if v.suppressed} == {"MIIT-1.2", "MIIT-3", "CAC-NPI-5", "MIIT-2.3"}
    assert all(v.suppressed == "store finder" for v in vs if v.suppressed)


def test_a_single_flow() -> None:
    r = session([(10, "api.demoshop.com.cn", "phone_number", "f-login"), (11, "api.demoshop.com.cn", "email")],
                [(20, "consent")])
    s = parse_suppressions({"accept": [{"flow": "f-login", "reason": "tester's login"}]})
    [active] = [v for v in evaluate(r, SHOP, suppressions=s) if v.rule == "MIIT-1.2" and not v.suppressed]
    assert active.flows == ("f11",)


def test_a_whole_rule_and_fail_on_ignores_it() -> None:
    r = session([], [(0, "permission-denied", "location"), (60, "permission-asked", "location")])
    s = parse_suppressions({"accept": [{"rules": ["MIIT-6"], "reason": "OS settings page"}]})
    [v] = evaluate(r, SHOP, suppressions=s)
    assert v.rule == "MIIT-6" and v.suppressed == "OS settings page"
    assert fail_on([v], ["MIIT-6"]) == []


def test_timeline_checks_are_not_repeated_as_suppressed() -> None:
    r = session([(10, "ulogs.umeng.com", "imei")], [(0, "permission-denied", "location"),
                                                   (60, "permission-asked", "location"), (20, "consent")])
    s = parse_suppressions({"accept": [{"sdk": "Umeng Analytics (U-App)", "reason": "r"}]})
    assert [v.suppressed for v in evaluate(r, SHOP, suppressions=s) if v.rule == "MIIT-6"] == [""]


def test_thresholds_from_the_file_and_from_the_caller() -> None:
    r = session([(t, "api.demoshop.com.cn", "location") for t in (0, 10, 20)])
    s = parse_suppressions({"thresholds": {"repeat_count": 4}})
    assert [v for v in evaluate(r, SHOP) if v.rule == "MIIT-2.2"]
    assert not [v for v in evaluate(r, SHOP, suppressions=s) if v.rule == "MIIT-2.2"]
    assert [v for v in evaluate(r, SHOP, suppressions=s, thresholds=Thresholds()) if v.rule == "MIIT-2.2"]


def test_usage_counts_what_each_entry_matched() -> None:
    s = load_suppressions(DATA / "consentscope.toml")
    got = {u.entry.index: (u.findings, u.contacts) for u in usage(s, [SHARED])}
    assert got == {1: (2, 0), 2: (0, 0), 3: (0, 0), 4: (0, 0), 5: (0, 0)}
