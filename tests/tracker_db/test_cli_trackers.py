"""``consentscope trackers …`` through a parser built the way the main CLI builds it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from consentscope.cli_trackers import (
    LOOKUP_JSON_KEYS,
    VENDOR_ONLY_JSON_KEYS,
    add_trackers_parser,
    split_target,
    vendor_only,
)
from consentscope.tracker_db import TrackerDB


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTSCOPE_DATA_DIR", str(tmp_path / "data"))
    TrackerDB.reset_default()
    yield
    TrackerDB.reset_default()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    p = argparse.ArgumentParser(prog="consentscope")
    sub = p.add_subparsers(dest="command")
    add_trackers_parser(sub)
    args = p.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("ulogs.umeng.com", ("ulogs.umeng.com", None)),
        ("https://mi.gdt.qq.com/gdt_mview.fcg?x=1", ("mi.gdt.qq.com", "/gdt_mview.fcg?x=1")),
        ("sa.example.com/sa?project=p", ("sa.example.com", "/sa?project=p")),
        ("HTTP://Host.Example:8443/", ("host.example", "/")),
    ],
)
def test_split_target(target: str, expected: tuple[str, str | None]) -> None:
    assert split_target(target) == expected


def test_lookup_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["trackers", "lookup", "https://mi.gdt.qq.com/x", "--app-package", "com.tencent.qqmusic",
         "--json"], capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert tuple(doc) == LOOKUP_JSON_KEYS
    # The first ten keys and their order are what tools relied on before format 2.
    assert LOOKUP_JSON_KEYS[:10] == ("host", "sdk", "vendor", "group", "category", "country",
                                     "relation", "party", "rule", "source")
    assert set(doc) == {"host", "sdk", "vendor", "group", "category", "country", "relation",
                        "party", "rule", "source", "name_zh", "vendor_zh", "category_zh",
                        "relation_zh", "company", "decided_by", "note"}
    assert (doc["sdk"], doc["relation"], doc["party"], doc["rule"], doc["decided_by"]) == (
        "Tencent GDT / YLH Ads", "same-group-sdk", "third-party", "suffix:gdt.qq.com",
        "same-group",
    )


def test_lookup_json_same_company(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "lookup", "hmma.baidu.com", "--app-package",
                     "com.baidu.searchbox", "--json"], capsys)
    doc = json.loads(out)
    assert (doc["relation"], doc["party"], doc["decided_by"], doc["company"]) == (
        "first-party", "first-party", "same-company", "Baidu"
    )
    assert (doc["name_zh"], doc["vendor_zh"], doc["category_zh"], doc["relation_zh"]) == (
        "百度移动统计SDK", "百度", "统计分析", "第一方"
    )
    assert "百度" in out  # ensure_ascii=False: Chinese stays readable
    assert doc["note"] is None


def test_lookup_vendor_only_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "lookup", "i.snssdk.com", "--json"], capsys)
    doc = json.loads(out)
    assert (doc["sdk"], doc["vendor"], doc["rule"]) == (None, "ByteDance", "owner:snssdk.com")
    assert doc["decided_by"] == "owner-other-company"
    assert "AppLog" in doc["note"]


def test_lookup_text_and_path_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["trackers", "lookup", "sa.example.com/sa?project=prod",
                        "--first-party", "example.com"], capsys)
    assert code == 0
    assert "sdk       Sensors Analytics" in out
    assert "relation  first-party" in out


def test_lookup_unknown_prints_dashes(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "lookup", "nothing.example"], capsys)
    assert "sdk       -" in out and "relation  unknown" in out


def test_list_filters(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "list", "--category", "push", "--country", "cn"], capsys)
    lines = out.splitlines()
    assert any(line.startswith("Getui Push\t") for line in lines)
    assert all("\tpush\tCN\t" in line for line in lines)


def test_list_source(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "list", "--source"], capsys)
    line = next(x for x in out.splitlines() if x.startswith("suffix:umeng.com\t"))
    assert "consentscope (MIT)" in line and "https://" in line


def test_stats(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["trackers", "stats"], capsys)
    lines = out.splitlines()
    sdks = next(int(x.split()[1]) for x in lines if x.startswith("sdks "))
    chinese = next(int(x.split()[2]) for x in lines if x.startswith("  chinese"))
    assert sdks >= 300 and chinese >= 150
    with_zh = next(int(x.split()[2]) for x in lines if x.startswith("  with name_zh"))
    assert with_zh >= chinese


def test_import_and_list_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"categories": {"Advertising": [{"Ex": {"https://ex.example/": ["ex-tracker.example"]}}]}}
    f = tmp_path / "services.json"
    f.write_text(json.dumps(doc))
    code, out, _ = run(["trackers", "import", str(f), "--format", "disconnect"], capsys)
    assert code == 0 and "imported 1 rules" in out
    _, out, _ = run(["trackers", "list", "--source"], capsys)
    assert any(x.startswith("suffix:ex-tracker.example\tEx\tdisconnect (CC-BY-NC-SA-4.0)")
               for x in out.splitlines())
    _, out, _ = run(["trackers", "lookup", "a.ex-tracker.example", "--json"], capsys)
    assert json.loads(out)["sdk"] == "Ex"


def test_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["trackers", "import", str(tmp_path / "missing.json"),
                        "--format", "exodus"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    code, _, err = run(["trackers", "import", str(bad), "--format", "exodus"], capsys)
    assert code == 2 and "bad.json: not JSON" in err and "Traceback" not in err


def test_every_vendor_only_domain_says_why(shipped_db: TrackerDB) -> None:
    rows = vendor_only(shipped_db)
    assert rows and all(v.reason.strip() for v in rows)
    by_domain = {v.domain: v for v in rows}
    # a domain an SDK rule names is never vendor-only; one our own ownership row explains keeps that reason
    assert "umeng.com" not in by_domain and "jpush.cn" not in by_domain
    assert by_domain["snssdk.com"].reason == shipped_db.owners["snssdk.com"].reason
    assert by_domain["snssdk.com"].sdk_rules > 0
    # the SDK hosts under a vendor-only domain are named by their own rules
    assert shipped_db.lookup("log.snssdk.com").sdk == "ByteDance AppLog"
    assert shipped_db.lookup("mpush-api.aliyun.com").sdk == "Alibaba Cloud Mobile Push (EMAS)"


def test_vendor_only_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["trackers", "vendor-only", "--company", "bytedance", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc and all(tuple(d) == VENDOR_ONLY_JSON_KEYS for d in doc)
    assert {d["company"] for d in doc} == {"ByteDance"}
    assert "snssdk.com" in {d["domain"] for d in doc}
    code, out, _ = run(["trackers", "vendor-only", "--country", "cn"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines and all(len(line.split("\t")) == 4 for line in lines)
    assert all(line.split("\t")[3] for line in lines)
