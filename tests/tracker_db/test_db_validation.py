"""Validation of the shipped data: what a reviewer of a data pull request relies on."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from itertools import combinations

import pytest

from consentscope.tracker_db import CATEGORIES, Rule, TrackerDB, load_rules


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load_rules()


@pytest.fixture(scope="module")
def db(rules: list[Rule]) -> TrackerDB:
    return TrackerDB(rules)


def test_no_duplicate_patterns(rules: list[Rule]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for r in rules:
        key = (r.kind, r.pattern)
        assert key not in seen, f"{r.where}: duplicate of {seen[key]}"
        seen[key] = r.where


def test_every_row_has_source_and_known_category(rules: list[Rule]) -> None:
    for r in rules:
        assert r.source.startswith("https://") or r.source.startswith("http://"), r.where
        assert r.category in CATEGORIES, r.where
        assert r.country, f"{r.where}: country missing"


def test_one_answer_per_sdk(rules: list[Rule]) -> None:
    """An SDK name always means the same vendor, group, category and country."""
    answers: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for r in rules:
        answers[r.sdk].add(r.answer)
    bad = {sdk: a for sdk, a in answers.items() if len(a) > 1}
    assert not bad


def test_host_rules_not_redundant(rules: list[Rule], db: TrackerDB) -> None:
    """A host/suffix rule under a suffix rule must say something different.

    Nested rules with the same answer are dead weight; nested rules with a different
    answer are deliberate overrides (most specific wins).
    """
    suffixes = {r.pattern: r for r in rules if r.kind == "suffix"}
    for r in rules:
        if r.kind not in ("host", "suffix"):
            continue
        labels = r.pattern.split(".")
        for i in range(1, len(labels) - 1):
            parent = suffixes.get(".".join(labels[i:]))
            if parent is not None:
                assert parent.answer != r.answer, f"{r.where} repeats {parent.where}"
                break


def test_pattern_rules_match_their_example_and_are_not_shadowed(
    rules: list[Rule], db: TrackerDB
) -> None:
    """Regex, path and CIDR rules match their example and win for it: no hidden overlap."""
    for r in rules:
        if r.kind == "regex":
            assert re.fullmatch(r.pattern, r.example), r.where
            m = db.lookup(r.example)
        elif r.kind == "path":
            assert re.match(r.pattern, r.example), r.where
            m = db.lookup("unlisted.invalid", path=r.example)
        elif r.kind == "cidr":
            assert ipaddress.ip_address(r.example) in ipaddress.ip_network(r.pattern), r.where
            m = db.lookup(r.example)
        else:
            continue
        assert m is not None and m.rule == r.label, f"{r.where}: example answered by {m}"


def test_regexes_do_not_overlap_trie_rules(rules: list[Rule], db: TrackerDB) -> None:
    """No host or suffix pattern is also matched by a regex with a different answer."""
    regexes = [r for r in rules if r.kind == "regex"]
    for r in rules:
        if r.kind not in ("host", "suffix"):
            continue
        for x in regexes:
            if re.fullmatch(x.pattern, r.pattern) or re.fullmatch(x.pattern, "a." + r.pattern):
                assert x.answer == r.answer, f"{r.where} overlaps {x.where}"


def test_networks_do_not_overlap_with_different_answers(rules: list[Rule]) -> None:
    nets = [(ipaddress.ip_network(r.pattern), r) for r in rules if r.kind == "cidr"]
    for (a, ra), (b, rb) in combinations(nets, 2):
        if a.version == b.version and a.overlaps(b):
            assert ra.answer == rb.answer, f"{ra.where} overlaps {rb.where}"


def test_size(db: TrackerDB) -> None:
    sdks = db.sdks()
    assert len(sdks) >= 300
    assert sum(1 for r in sdks.values() if r.country == "CN") >= 200


# -- format 2: Chinese names, companies, example hosts ------------------------------------


@pytest.fixture(scope="module")
def shipped() -> TrackerDB:
    return TrackerDB.shipped()


def _first_rule_per_sdk(rules: list[Rule]) -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for r in rules:
        out.setdefault(r.sdk, r)
    return out


def test_every_sdk_has_one_sdks_row(rules: list[Rule], shipped: TrackerDB) -> None:
    named = set(_first_rule_per_sdk(rules))
    listed = set(shipped.sdk_info)
    assert named - listed == set(), "SDKs without a row in sdks.csv"
    assert listed - named == set(), "sdks.csv rows naming no endpoint rule"


def test_chinese_sdks_have_chinese_names(rules: list[Rule], shipped: TrackerDB) -> None:
    """Every SDK of a Chinese vendor is named as Chinese privacy policies name it."""
    for sdk, r in _first_rule_per_sdk(rules).items():
        if r.country != "CN":
            continue
        name_zh, vendor_zh = shipped.names_zh(sdk, r.vendor)
        assert name_zh, f"{sdk}: name_zh missing in sdks.csv"
        assert vendor_zh, f"{sdk}: vendor_zh missing (sdks.csv or companies.csv)"


def test_one_vendor_zh_per_vendor(rules: list[Rule], shipped: TrackerDB) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for sdk, r in _first_rule_per_sdk(rules).items():
        _, vendor_zh = shipped.names_zh(sdk, r.vendor)
        if vendor_zh:
            seen[r.vendor].add(vendor_zh)
    assert {v: z for v, z in seen.items() if len(z) > 1} == {}


def test_sdk_companies_are_listed_and_in_the_sdk_group(
    rules: list[Rule], shipped: TrackerDB
) -> None:
    """The owning company of a Chinese SDK is in companies.csv, in the SDK's group."""
    for sdk, r in _first_rule_per_sdk(rules).items():
        info = shipped.sdk_info[sdk]
        company = shipped.company(info.company)
        if r.country == "CN":
            assert company is not None, f"{info.where}: company {info.company!r} not listed"
        if company is not None:
            assert company.group == r.group, f"{info.where}: {company.group} != {r.group}"


def test_app_publishers_are_listed_companies(shipped: TrackerDB) -> None:
    for app in shipped.apps.values():
        company = shipped.company(app.company)
        assert company is not None, f"{app.package}: company {app.company!r} not listed"
        assert company.group == app.group, f"{app.package}: {company.group} != {app.group}"
        assert app.app_zh, f"{app.package}: app_zh missing"


def test_every_sdk_has_a_sourced_host(rules: list[Rule]) -> None:
    """Each SDK is named by at least one host-matching rule (host, suffix or regex)."""
    hosts = {r.sdk for r in rules if r.kind in ("host", "suffix", "regex") and r.source}
    no_host = set(_first_rule_per_sdk(rules)) - hosts
    # These SDKs are recognised by their resolver IPs or URL paths only.
    assert no_host <= {"Alibaba Cloud HTTPDNS", "DNSPod Public DNS / HTTPDNS",
                       "Tencent Cloud HTTPDNS", "AliDNS Public DNS"}, no_host


def test_vendor_only_domains_say_why(rules: list[Rule]) -> None:
    """Our own ownership rows of SDK vendors: covered by an SDK rule, or a reason why not."""
    from consentscope.tracker_db._rules import load_meta, package_dir
    from consentscope.tracker_db._tables import read_owners

    vendors = {r.vendor for r in rules}
    suffixes = {r.pattern for r in rules if r.kind == "suffix"}
    for name in load_meta()["ownership"]:
        for o in read_owners(package_dir() / name):
            if o.company in vendors and o.domain not in suffixes:
                assert o.reason, f"{name}: {o.domain} is vendor-only without a reason"
