"""Destination classification: registrable domains, first/third party, relation."""

from __future__ import annotations

import socket

import pytest

from consentscope.destination import (
    DECIDED_BY,
    RELATIONS,
    Destination,
    DestinationClassifier,
    registrable_domain,
)
from consentscope.tracker_db import Rule, TrackerDB


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("ulogs.umeng.com", "umeng.com"),
        ("a.b.example.com.cn", "example.com.cn"),
        ("www.example.gov.cn", "example.gov.cn"),
        ("www.gov.cn", "www.gov.cn"),  # gov.cn is a public suffix
        ("mi.gdt.qq.com", "qq.com"),
        ("foo.bar.co.uk", "bar.co.uk"),
        ("x.y.example.edu.cn", "example.edu.cn"),
        ("WWW.Example.COM.", "example.com"),
        ("203.107.1.1", "203.107.1.1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("localhost", "localhost"),
        ("", ""),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


def test_registrable_domain_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    registrable_domain.cache_clear()
    assert registrable_domain("a.never-seen-before.com.cn") == "never-seen-before.com.cn"


@pytest.fixture(scope="module")
def db() -> TrackerDB:
    return TrackerDB.shipped()


@pytest.fixture
def clf(db: TrackerDB) -> DestinationClassifier:
    return DestinationClassifier(["example.com.cn", "api.example.org"], "com.example.app", db=db)


@pytest.mark.parametrize(
    ("host", "party", "relation", "sdk"),
    [
        ("api.example.com.cn", "first-party", "first-party", None),
        ("example.com.cn", "first-party", "first-party", None),
        ("other.com.cn", "third-party", "unknown", None),
        ("cdn.example.org", "first-party", "first-party", None),  # subdomain entry → its domain
        ("ulogs.umeng.com", "third-party", "third-party", "Umeng Analytics (U-App)"),
        ("api.xmpush.xiaomi.com", "third-party", "os-service", "Xiaomi Push (MiPush)"),
        ("203.107.1.1", "third-party", "third-party", "Alibaba Cloud HTTPDNS"),
        ("8.8.8.8", "third-party", "unknown", None),
    ],
)
def test_classify(
    clf: DestinationClassifier, host: str, party: str, relation: str, sdk: str | None
) -> None:
    d = clf.classify(host)
    assert (d.party, d.relation, d.sdk) == (party, relation, sdk)
    assert d.relation in RELATIONS


def test_classify_names_everything(clf: DestinationClassifier) -> None:
    d = clf.classify("mi.gdt.qq.com")
    assert d == Destination(
        host="mi.gdt.qq.com",
        registrable_domain="qq.com",
        party="third-party",
        relation="third-party",
        sdk="Tencent GDT / YLH Ads",
        vendor="Tencent",
        group="Tencent",
        category="advertising",
        country="CN",
        rule="suffix:gdt.qq.com",
        source=d.source,
        name_zh="优量汇SDK (腾讯广告)",
        vendor_zh="腾讯",
        company="Tencent",
        decided_by="third-party-sdk",
    )
    assert (d.relation_zh, d.party_zh, d.category_zh) == ("第三方", "第三方", "广告")


def test_path_rule_on_first_party_host_keeps_party(clf: DestinationClassifier) -> None:
    d = clf.classify("sa.example.com.cn", path="/sa?project=production")
    assert (d.party, d.sdk) == ("first-party", "Sensors Analytics")
    assert clf.classify("sa.example.com.cn").sdk is None  # the path answer is not cached


def test_server_ip_names_unknown_host(clf: DestinationClassifier) -> None:
    d = clf.classify("resolver.invalid", ip="203.107.1.9")
    assert d.sdk == "Alibaba Cloud HTTPDNS"
    assert clf.classify("ulogs.umeng.com", ip="203.107.1.9").sdk.startswith("Umeng")


def test_host_normalised_before_cache(clf: DestinationClassifier) -> None:
    assert clf.classify("ULOGS.umeng.com.") == clf.classify("ulogs.umeng.com")


def test_destination_is_frozen_and_slotted(clf: DestinationClassifier) -> None:
    d = clf.classify("ulogs.umeng.com")
    with pytest.raises(AttributeError):
        d.sdk = "x"  # type: ignore[misc]
    assert not hasattr(d, "__dict__")


def test_custom_db() -> None:
    r = Rule("suffix", "my-sdk.example", "Mine", "V", "G", "push", "DE", "https://e.org/")
    d = DestinationClassifier(db=TrackerDB([r])).classify("a.my-sdk.example")
    assert (d.sdk, d.country, d.rule) == ("Mine", "DE", "suffix:my-sdk.example")


# -- relations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "host", "relation", "party"),
    [
        # Same company as the app's publisher: first-party (issue 14); same group only:
        # same-group-sdk (QQ Music is Tencent Music Entertainment, GDT is Tencent's).
        ({"app_package": "com.tencent.mm"}, "mi.gdt.qq.com", "first-party", "first-party"),
        ({"app_package": "com.tencent.qqmusic"}, "mi.gdt.qq.com", "same-group-sdk",
         "third-party"),
        ({"app_package": "com.tencent.mm"}, "otheve.beacon.qq.com", "first-party",
         "first-party"),
        ({"app_package": "com.baidu.searchbox"}, "hmma.baidu.com", "first-party",
         "first-party"),
        ({"app_package": "com.qiyi.video"}, "hmma.baidu.com", "same-group-sdk", "third-party"),
        ({"operator_company": "Baidu"}, "hmma.baidu.com", "first-party", "first-party"),
        ({"app_package": "com.tencent.mm"}, "weixin.qq.com", "first-party", "first-party"),
        ({"app_package": "com.tencent.mm"}, "ulogs.umeng.com", "third-party", "third-party"),
        ({"app_package": "com.taobao.taobao"}, "ulogs.umeng.com", "same-group-sdk", "third-party"),
        ({"app_package": "com.taobao.taobao"}, "mapi.alipay.com", "third-party", "third-party"),
        ({"app_package": "com.taobao.taobao"}, "img.alicdn.com", "first-party", "first-party"),
        ({"first_party_domains": ["qq.com"]}, "android.bugly.qq.com", "same-group-sdk",
         "third-party"),  # operator group inferred from the owner of the first-party domains
        ({"operator_group": "ByteDance"}, "api-access.pangolin-sdk-toutiao.com",
         "same-group-sdk", "third-party"),
        ({}, "api.xmpush.xiaomi.com", "os-service", "third-party"),
        ({"app_package": "com.xiaomi.unknown"}, "api.push.apple.com", "os-service", "third-party"),
        ({}, "bucket.oss-cn-hangzhou.aliyuncs.com", "cloud-tenant", "third-party"),
        ({}, "httpdns-api.aliyuncs.com", "third-party", "third-party"),  # SDK rule beats cloud
        ({}, "www.baidu.com", "third-party", "third-party"),
        ({}, "unknown-host.example", "unknown", "third-party"),
    ],
)
def test_relations(db: TrackerDB, kwargs: dict, host: str, relation: str, party: str) -> None:
    d = DestinationClassifier(db=db, **kwargs).classify(host)
    assert (d.relation, d.party) == (relation, party)


@pytest.mark.parametrize(
    ("kwargs", "host", "decided_by"),
    [
        ({"app_package": "com.baidu.searchbox"}, "hmma.baidu.com", "same-company"),
        ({"app_package": "com.qiyi.video"}, "hmma.baidu.com", "same-group"),
        ({"app_package": "com.spotify.music"}, "hmma.baidu.com", "third-party-sdk"),
        ({}, "api.xmpush.xiaomi.com", "os-vendor-service"),
        ({"app_package": "com.baidu.searchbox"}, "www.baidu.com", "first-party-domain"),
        ({"app_package": "com.qiyi.video"}, "www.baidu.com", "owner-same-group"),
        ({}, "www.baidu.com", "owner-other-company"),
        ({}, "bucket.oss-cn-hangzhou.aliyuncs.com", "cloud-tenant"),
        ({}, "unknown-host.example", "no-match"),
    ],
)
def test_decided_by(db: TrackerDB, kwargs: dict, host: str, decided_by: str) -> None:
    d = DestinationClassifier(db=db, **kwargs).classify(host)
    assert d.decided_by == decided_by
    assert d.decided_by in DECIDED_BY


def test_backend_path_rule_decided_by(db: TrackerDB) -> None:
    d = DestinationClassifier(["example.com.cn"], db=db).classify(
        "sa.example.com.cn", path="/sa?project=production"
    )
    assert (d.relation, d.decided_by) == ("first-party", "first-party-backend")


def test_chinese_names(db: TrackerDB) -> None:
    clf = DestinationClassifier(db=db)
    d = clf.classify("ulogs.umeng.com")
    assert (d.name_zh, d.vendor_zh) == ("友盟+统计分析SDK (U-App)", "友盟+")
    d = clf.classify("api-access.pangolin-sdk-toutiao.com")
    assert d.name_zh is not None and d.name_zh.startswith("穿山甲")
    d = clf.classify("www.baidu.com")  # owner answer: the company's Chinese name
    assert (d.sdk, d.vendor_zh) == (None, "百度")
    assert clf.classify("unknown-host.example").name_zh is None


def test_to_json_keys_unchanged(db: TrackerDB) -> None:
    d = DestinationClassifier(db=db).classify("ulogs.umeng.com")
    assert list(d.to_json()) == ["party", "relation", "sdk", "vendor", "category"]


def test_cloud_tenant_names_the_provider(db: TrackerDB) -> None:
    d = DestinationClassifier(db=db).classify("b-1250000000.cos.ap-guangzhou.myqcloud.com")
    assert (d.vendor, d.group, d.sdk, d.rule) == (
        "Tencent Cloud", "Tencent", None, "infrastructure:myqcloud.com"
    )


def test_first_party_bucket_does_not_make_the_cloud_first_party(db: TrackerDB) -> None:
    clf = DestinationClassifier(["my-app.oss-cn-hangzhou.aliyuncs.com"], db=db)
    assert clf.classify("my-app.oss-cn-hangzhou.aliyuncs.com").relation == "first-party"
    assert clf.classify("cdn.my-app.oss-cn-hangzhou.aliyuncs.com").relation == "first-party"
    assert clf.classify("other.oss-cn-hangzhou.aliyuncs.com").relation == "cloud-tenant"


def test_owner_answer_names_company(db: TrackerDB) -> None:
    d = DestinationClassifier(db=db).classify("www.baidu.com")
    assert (d.vendor, d.group, d.country, d.rule) == ("Baidu", "Baidu", "CN", "owner:baidu.com")


# -- naming IPs -------------------------------------------------------------------------


def test_ip_named_by_dns_answer(db: TrackerDB) -> None:
    clf = DestinationClassifier(db=db)
    assert clf.classify("47.1.2.3").relation == "unknown"
    clf.observe_dns("ulogs.umeng.com", ["47.1.2.3"])
    d = clf.classify("47.1.2.3")
    assert (d.host, d.name, d.sdk) == ("47.1.2.3", "ulogs.umeng.com", "Umeng Analytics (U-App)")
    assert d.registrable_domain == "umeng.com"


def test_sni_wins_over_dns(db: TrackerDB) -> None:
    clf = DestinationClassifier(db=db)
    clf.observe_dns("api.mixpanel.com", ["1.2.3.4"])
    assert clf.classify("1.2.3.4", sni="tsis.jpush.cn").sdk == "JPush"
    assert clf.classify("1.2.3.4").sdk == "Mixpanel"


def test_httpdns_answer_names_later_connections(db: TrackerDB) -> None:
    clf = DestinationClassifier(db=db)
    d = clf.classify("119.29.29.29", path="/d?dn=mi.gdt.qq.com&id=1")
    assert d.category == "httpdns"
    assert clf.observe_httpdns("/d?dn=mi.gdt.qq.com&id=1", b"183.1.2.3;183.1.2.4,300") == 2
    assert clf.classify("183.1.2.4").sdk == "Tencent GDT / YLH Ads"


def test_ip_rules_after_names(db: TrackerDB) -> None:
    clf = DestinationClassifier(db=db)
    clf.observe_dns("resolver.example", ["203.107.1.1"])
    # The name says nothing, so the IP rule still answers.
    assert clf.classify("203.107.1.1").sdk == "Alibaba Cloud HTTPDNS"
