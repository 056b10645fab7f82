"""tracker_db/sdk_presence.csv: a public presence ranking of SDK packages, each entry tied to
an SDK of sdks.csv that has a sourced host, or with the reason it has none (SOURCES.md names
the ranking, its date and licence)."""

from __future__ import annotations

import csv
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
