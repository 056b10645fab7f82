"""Ownership, infrastructure and app tables: validation and lookups."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import consentscope.tracker_db._rules as rules_mod
from consentscope.tracker_db import FORMAT_VERSION, DataError, TrackerDB, load_rules
from consentscope.tracker_db._rules import load_meta, package_dir
from consentscope.tracker_db._tables import read_apps, read_infra, read_owners


def test_format_version_matches_code() -> None:
    assert load_meta()["format_version"] == FORMAT_VERSION


def test_other_format_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tracker_db.toml").write_text("format_version = 999\nendpoints = []\n")
    monkeypatch.setattr(rules_mod, "_package_dir", lambda: tmp_path)
    with pytest.raises(DataError, match="format_version 999"):
        load_rules()


def test_our_ownership_rows_are_unique_and_sourced() -> None:
    seen: set[str] = set()
    for o in read_owners(package_dir() / "ownership.csv"):
        assert o.domain not in seen, o.domain
        seen.add(o.domain)
        assert o.source.startswith("https://")


def test_v2fly_rows_name_their_file() -> None:
    meta = load_meta()
    owners = list(read_owners(package_dir() / "ownership_v2fly.csv", meta["v2fly_source"]))
    assert len(owners) > 1000
    assert all(o.source.startswith(meta["v2fly_source"]) for o in owners)
    assert len({o.domain for o in owners}) == len(owners)
    notice = (package_dir() / "NOTICE-v2fly").read_text()
    assert "MIT License" in notice and "c975ccef" in meta["v2fly_source"]


def test_infrastructure_rows_are_unique() -> None:
    patterns = [i.pattern for i in read_infra(package_dir() / "infrastructure.csv")]
    assert len(patterns) == len(set(patterns))
    assert {"aliyuncs.com", "myqcloud.com", "bcebos.com", "amazonaws.com", "cloudfront.net",
            "volces.com", "clouddn.com", "fastly.net"} <= set(patterns)


def test_apps_agree_with_ownership(shipped_db: TrackerDB) -> None:
    """An app's first-party domains belong to its operator's group wherever we know the owner."""
    apps = list(read_apps(package_dir() / "apps.csv"))
    assert len({a.package for a in apps}) == len(apps)
    for a in apps:
        for d in a.first_party_domains:
            owner = shipped_db.owner(d)
            if owner is not None:
                assert owner.group == a.group, (a.package, d, owner)


def test_our_ownership_wins_over_v2fly(shipped_db: TrackerDB) -> None:
    o = shipped_db.owner("mapi.alipay.com")
    assert o is not None and (o.company, o.group) == ("Ant Group", "Ant Group")


@pytest.mark.parametrize(
    ("host", "group"),
    [
        ("weixin.qq.com", "Tencent"),
        ("img.alicdn.com", "Alibaba"),
        ("www.douyin.com", "ByteDance"),
        ("news.163.com", "NetEase"),
        ("www.example.com.cn", None),
        ("203.107.1.1", None),
    ],
)
def test_owner_lookup(shipped_db: TrackerDB, host: str, group: str | None) -> None:
    o = shipped_db.owner(host)
    assert (o.group if o else None) == group


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("bucket.oss-cn-hangzhou.aliyuncs.com", "Alibaba Cloud"),
        ("b-1250000000.cos.ap-shanghai.myqcloud.com", "Tencent Cloud"),
        ("x.bj.bcebos.com", "Baidu AI Cloud"),
        ("x.s3.amazonaws.com", "Amazon Web Services"),
        ("aliyuncs.com.evil.example", None),
    ],
)
def test_infrastructure_lookup(shipped_db: TrackerDB, host: str, provider: str | None) -> None:
    i = shipped_db.infrastructure(host)
    assert (i.provider if i else None) == provider


def test_app_lookup(shipped_db: TrackerDB) -> None:
    a = shipped_db.app("com.tencent.mm")
    assert a is not None and a.group == "Tencent" and "qq.com" in a.first_party_domains
    assert shipped_db.app("com.example.unknown") is None
    assert shipped_db.app(None) is None


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("apps.csv", "package,app,operator,group,country,first_party_domains,source\n"
         "not a package,A,O,G,CN,a.com,https://x.org/\n", "bad package"),
        ("infra.csv", "pattern,provider,group,country,service,source\n"
         "a.com,P,G,US,warehouse,https://x.org/\n", "unknown service"),
        ("own.csv", "domain,company,group,country,source\nA.com,C,G,US,https://x.org/\n",
         "normalised"),
        ("own.csv", "domain,company,group,country,source\na.com,C,G,US,\n", "public URL"),
    ],
)
def test_bad_table_rows(tmp_path: Path, name: str, text: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    reader = {"apps.csv": read_apps, "infra.csv": read_infra, "own.csv": read_owners}[name]
    with pytest.raises(DataError, match=rf"{name}:2: .*{message}"):
        list(reader(p))


def test_data_files_are_plain_csv_with_header() -> None:
    for name in ("endpoints_cn.csv", "endpoints_global.csv", "ownership.csv",
                 "infrastructure.csv", "apps.csv"):
        with (package_dir() / name).open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert header and all(h == h.strip().lower() for h in header), name
