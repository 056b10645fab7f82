"""Presence rankings, each entry tied to an SDK of sdks.csv that has a sourced host, or with the
reason it has none (SOURCES.md, "Presence ranking", names the sources, their dates and limits).

tracker_db/sdk_presence.csv: AppInner's 2016 ranking of SDK packages (mostly Google Play).
tracker_db/sdk_presence_cn.csv: in how many Chinese apps each SDK is named, counted from the
third-party SDK lists of their privacy policies, one row per app in sdk_presence_cn_lists.csv."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from consentscope.tracker_db import Rule

DB = Path(__file__).resolve().parents[2] / "tracker_db"


def presence() -> list[dict[str, str]]:
    with open(DB / "sdk_presence.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sdk_names() -> set[str]:
    with open(DB / "sdks.csv", encoding="utf-8", newline="") as f:
        return {r["sdk"] for r in csv.DictReader(f)}


def test_the_ranking_is_complete_and_in_order() -> None:
    rows = presence()
    for name in ("package", "namespace"):
        ranked = [r for r in rows if r["list"] == name]
        assert [int(r["rank"]) for r in ranked] == list(range(1, 101))
        counts = [int(r["references"]) for r in ranked]
        assert counts == sorted(counts, reverse=True)
    assert {r["list"] for r in rows} == {"package", "namespace"}


def test_every_ranked_entry_has_an_sdk_or_a_reason() -> None:
    for r in presence():
        assert bool(r["sdk"]) != bool(r["reason"].strip()), r


def test_every_ranked_sdk_has_a_sourced_host(rules: list[Rule]) -> None:
    names = sdk_names()
    hosted = {r.sdk for r in rules if r.kind in ("host", "suffix", "regex") and r.source}
    ranked = {r["sdk"] for r in presence() if r["sdk"]}
    assert ranked <= names
    assert ranked <= hosted, ranked - hosted
    # the top Chinese SDKs of the ranking are among them
    assert {"WeChat OpenSDK", "QQ Connect SDK", "Tencent MTA", "Baidu Map SDK", "Umeng Analytics (U-App)",
            "Umeng Push (U-Push)", "Getui Push", "Weibo SDK", "Alipay SDK", "MobTech SDK", "UnionPay SDK",
            "AMap SDK", "RongCloud IM SDK"} <= ranked


@pytest.mark.parametrize(("name", "sdk"), [
    ("com.umeng.analytics", "Umeng Analytics (U-App)"),
    ("u.aly", "Umeng Analytics (U-App)"),
    ("com.igexin", "Getui Push"),
    ("com.tencent.android.tpush", "Tencent Push Notification Service (TPNS)"),
    ("com.qq", "Tencent GDT / YLH Ads"),
])
def test_known_packages_map_to_their_sdk(name: str, sdk: str) -> None:
    assert {r["sdk"] for r in presence() if r["name"] == name} == {sdk}


# -- sdk_presence_cn.csv: presence in Chinese apps, counted from their published SDK lists --------

HEX40 = re.compile(r"[0-9a-f]{40}")
REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def read(name: str) -> list[dict[str, str]]:
    with open(DB / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def cn_lists() -> list[dict[str, str]]:
    return read("sdk_presence_cn_lists.csv")


def cn_ranking() -> list[dict[str, str]]:
    return read("sdk_presence_cn.csv")


def test_every_list_names_its_app_and_where_it_was_read() -> None:
    rows = cn_lists()
    assert len(rows) >= 80
    for r in rows:
        assert r["app"] or r["package"], r
        assert REPO.fullmatch(r["repo"]), r
        assert r["path"] and not r["path"].startswith("/"), r
        assert HEX40.fullmatch(r["commit"]), r
        assert not r["date"] or re.fullmatch(r"20\d\d-\d\d-\d\d", r["date"]), r
        names = r["sdks"].split(";")
        assert all(names) and len(names) == len(set(names)), r


def test_one_list_per_app() -> None:
    rows = cn_lists()
    places = [(r["repo"], r["path"]) for r in rows]
    assert len(places) == len(set(places))
    packages = [r["package"] for r in rows if r["package"]]
    assert len(packages) == len(set(packages))


def test_counts_are_derived_from_the_lists() -> None:
    derived = Counter(name for r in cn_lists() for name in r["sdks"].split(";"))
    ranked = {r["name"]: int(r["apps"]) for r in cn_ranking()}
    assert ranked == dict(derived)


def test_ranks_are_deterministic() -> None:
    rows = cn_ranking()
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    keys = [(-int(r["apps"]), r["name"]) for r in rows]
    assert keys == sorted(keys)


def test_each_name_is_matched_by_its_own_pattern() -> None:
    for r in cn_ranking():
        assert re.search(r["pattern"], r["name"]), r


def test_frequent_sdks_map_to_a_sourced_row_or_say_why(rules: list[Rule]) -> None:
    names = sdk_names()
    hosted = {r.sdk for r in rules if r.kind in ("host", "suffix", "regex") and r.source}
    for r in cn_ranking():
        assert not (r["sdk"] and r["reason"].strip()), r
        if r["sdk"]:
            assert r["sdk"] in names and r["sdk"] in hosted, r
        elif int(r["apps"]) >= 3:
            assert r["reason"].strip(), r


def test_the_most_listed_chinese_sdks_are_ranked() -> None:
    top = {r["sdk"] for r in cn_ranking()[:20]}
    assert {"Umeng Analytics (U-App)", "WeChat OpenSDK", "Tencent Bugly", "Alipay SDK", "Pangle / CSJ Ads",
            "Tencent GDT / YLH Ads", "JPush", "Getui Push"} <= top
