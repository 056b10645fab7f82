"""tracker_db/list_sources.csv: SDKs whose every host row cites a public filter list or a
blog instead of the vendor, each with why. The file must list exactly those SDKs, so a row
that gains a vendor source leaves it and one that loses it must say why."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

from consentscope.tracker_db import Rule

DB = Path(__file__).resolve().parents[2] / "tracker_db"
#: sources that are lists or second-hand pages, not the vendor's own (SOURCES.md)
LIST_SOURCES = ("github.com/v2fly/domain-list-community", "AWAvenue-Ads-Rule", "github.com/cxw620/AdGuard-Rules",
                "blog.csdn.net")


def list_only(rules: list[Rule]) -> set[str]:
    cites: dict[str, list[bool]] = defaultdict(list)
    for r in rules:
        if r.dataset == "consentscope":
            cites[r.sdk].append(any(m in r.source for m in LIST_SOURCES))
    return {sdk for sdk, v in cites.items() if all(v)}


def test_sdks_citing_only_lists_say_why(rules: list[Rule]) -> None:
    with open(DB / "list_sources.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(r["reason"].strip() for r in rows)
    assert len({r["sdk"] for r in rows}) == len(rows)
    assert {r["sdk"] for r in rows} == list_only(rules)


def test_rows_moved_to_vendor_pages_left_the_list(rules: list[Rule]) -> None:
    by_pattern = {r.pattern: r.source for r in rules}
    assert by_pattern["agora.io"].startswith("https://docs.agora.io/")
    assert by_pattern["amdcopen.m.taobao.com"] == "https://help.aliyun.com/document_detail/254911.html"
    assert "Agora RTC SDK" not in list_only(rules)


def test_every_listed_sdk_says_what_was_searched() -> None:
    """No SDK is left 'not yet searched': each reason says what was searched or seen."""
    with open(DB / "list_sources.csv", encoding="utf-8", newline="") as f:
        reasons = {r["sdk"]: r["reason"] for r in csv.DictReader(f)}
    openings = ("searched", "a vendor page naming the host was seen only second-hand", "the only page")
    assert {sdk for sdk, why in reasons.items() if not why.startswith(openings)} == set()
    assert not any("not yet searched" in why for why in reasons.values())


#: rows moved off the lists by the second pass, each citing the vendor's own repository at a commit
VENDOR_REPOS = {
    "zhugeio.com": "zhugesdk/zhugeio-sdk-android",
    "log.snssdk.com": "volcengine/datarangers-sdk-android",
    "adnxs.com": "appnexus/mobile-sdk-android",
    "hm.baidu.com": "mipengine/mip-extensions",
    "119.29.29.29/32": "DNSPod/httpdns-sdk-android",
    "qiyukf.com": "qiyukf/QIYU_iOS_SDK_OpenSource",
    "lijit.com": "sovrn/Prebid.js",
    "casalemedia.com": "indexexchange/Prebid.js",
}


def test_second_pass_citations_pin_vendor_commits(rules: list[Rule]) -> None:
    by_pattern = {r.pattern: r.source for r in rules}
    for pattern, repo in VENDOR_REPOS.items():
        assert re.fullmatch(rf"https://github\.com/{re.escape(repo)}/blob/[0-9a-f]{{40}}/\S+", by_pattern[pattern]), pattern
    assert by_pattern["mapbox.com"].startswith("https://docs.mapbox.com/")
    assert by_pattern["httpdns.baidubce.com"] == "https://cloud.baidu.com/doc/HTTPDNS/s/Njwvxm8ub"
    assert {"Mapbox", "Baidu Tongji", "Sovrn", "NetEase Yunxin IM SDK"} & list_only(rules) == set()
