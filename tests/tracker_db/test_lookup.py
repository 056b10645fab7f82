"""TrackerDB lookups: one table per rule kind, plus index-building guarantees."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from consentscope.tracker_db import DataError, Rule, TrackerDB, normalize_host, read_rules


def rule(kind: str, pattern: str, sdk: str, example: str = "") -> Rule:
    return Rule(kind, pattern, sdk, "V", "G", "analytics", "CN", "https://example.org/", example)


@pytest.fixture(scope="module")
def small() -> TrackerDB:
    return TrackerDB(
        [
            rule("suffix", "umeng.com", "Umeng"),
            rule("host", "special.umeng.com", "Special"),
            rule("suffix", "deep.x.umeng.com", "Deep"),
            rule("host", "exact.example.net", "Exact"),
            rule("regex", r"o\d+\.ingest\.sentry\.io", "Sentry", "o1.ingest.sentry.io"),
            rule("path", r"^/sa\?project=", "Sensors", "/sa?project=a"),
            rule("cidr", "203.107.1.0/24", "HTTPDNS", "203.107.1.1"),
            rule("cidr", "203.107.1.1/32", "HTTPDNS-one", "203.107.1.1"),
            rule("cidr", "2001:db8::/32", "V6", "2001:db8::1"),
        ]
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("umeng.com", "Umeng"),  # suffix matches the domain itself
        ("ulogs.umeng.com", "Umeng"),
        ("ULOGS.Umeng.COM.", "Umeng"),  # one normaliser
        ("ulogs.umeng.com:443", "Umeng"),
        ("special.umeng.com", "Special"),  # exact beats suffix
        ("a.special.umeng.com", "Umeng"),  # host rules do not cover subdomains
        ("y.deep.x.umeng.com", "Deep"),  # most specific suffix wins
        ("x.umeng.com", "Umeng"),
        ("notumeng.com", None),  # label boundary, not string suffix
        ("umeng.com.evil.org", None),
        ("exact.example.net", "Exact"),
        ("sub.exact.example.net", None),
        ("o123.ingest.sentry.io", "Sentry"),  # regex is a full match
        ("xo123.ingest.sentry.io.evil", None),
        ("", None),
    ],
)
def test_host_rules(small: TrackerDB, host: str, expected: str | None) -> None:
    m = small.lookup(host)
    assert (m.sdk if m else None) == expected


def test_match_names_rule_and_source(small: TrackerDB) -> None:
    m = small.lookup("ulogs.umeng.com")
    assert m is not None
    assert m.rule == "suffix:umeng.com"
    assert m.source == "https://example.org/"
    assert (m.vendor, m.group, m.category, m.country) == ("V", "G", "analytics", "CN")


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("sa.customer.example", "/sa?project=prod", "Sensors"),
        ("sa.customer.example", "/other?project=prod", None),
        ("ulogs.umeng.com", "/sa?project=prod", "Umeng"),  # host rules come first
        ("sa.customer.example", None, None),
    ],
)
def test_path_rules(small: TrackerDB, host: str, path: str | None, expected: str | None) -> None:
    m = small.lookup(host, path=path)
    assert (m.sdk if m else None) == expected


@pytest.mark.parametrize(
    ("host", "ip", "expected"),
    [
        ("203.107.1.1", None, "HTTPDNS-one"),  # most specific network wins
        ("203.107.1.9", None, "HTTPDNS"),
        ("203.107.2.1", None, None),
        ("unknown.example", "203.107.1.77", "HTTPDNS"),  # server IP when the name says nothing
        ("ulogs.umeng.com", "203.107.1.77", "Umeng"),  # the name wins
        ("[2001:db8::5]", None, "V6"),
        ("2001:db8::5", None, "V6"),
        ("", "203.107.1.3", "HTTPDNS"),
    ],
)
def test_cidr_rules(small: TrackerDB, host: str, ip: str | None, expected: str | None) -> None:
    m = small.lookup(host, ip=ip)
    assert (m.sdk if m else None) == expected


def test_first_rule_wins_on_duplicates() -> None:
    db = TrackerDB([rule("suffix", "a.com", "Ours"), rule("suffix", "a.com", "Imported")])
    m = db.lookup("x.a.com")
    assert m is not None and m.sdk == "Ours"
    assert len(db) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("https://user@Host.example:8443/path?q", "host.example"),
        ("[::1]:443", "::1"),
        ("::1", "::1"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


def test_default_is_built_once_and_fast() -> None:
    TrackerDB.reset_default()
    t = time.perf_counter()
    db = TrackerDB.default()
    assert time.perf_counter() - t < 0.5
    assert TrackerDB.default() is db


def test_default_includes_user_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "trackers"
    d.mkdir()
    (d / "mylist.csv").write_text(
        "kind,pattern,sdk,vendor,group,category,country,source,example\n"
        "suffix,only-imported.example,Imported SDK,V,G,analytics,,https://example.org/,\n"
        "suffix,umeng.com,Wrong,V,G,analytics,,https://example.org/,\n",
        encoding="utf-8",
    )
    (d / "mylist.licence").write_text("CC0\n", encoding="utf-8")
    monkeypatch.setenv("CONSENTSCOPE_DATA_DIR", str(tmp_path))
    TrackerDB.reset_default()
    try:
        db = TrackerDB.default()
        m = db.lookup("a.only-imported.example")
        assert m is not None and (m.dataset, m.licence) == ("mylist", "CC0")
        u = db.lookup("ulogs.umeng.com")
        assert u is not None and u.dataset == "consentscope"  # our rows win
    finally:
        TrackerDB.reset_default()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("host,a.com,S,V,G,analytics,CN,,", "empty source"),
        ("host,a.com,S,V,G,tracking,CN,https://x.org/,", "unknown category"),
        ("host,A.com,S,V,G,analytics,CN,https://x.org/,", "normalised"),
        ("glob,a.com,S,V,G,analytics,CN,https://x.org/,", "unknown kind"),
        ("regex,(a,S,V,G,analytics,CN,https://x.org/,a", "bad regular expression"),
        ("regex,a\\.com,S,V,G,analytics,CN,https://x.org/,", "need an example"),
        ("cidr,10.0.0.1/8,S,V,G,analytics,CN,https://x.org/,10.0.0.1", "bad cidr"),
        ("host,a.com,S,V,G,analytics,China,https://x.org/,", "ISO 3166"),
        ("host,a.com,S,V,G,analytics,CN,ftp://x.org/,", "public URL"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("kind,pattern,sdk,vendor,group,category,country,source,example\n" + row + "\n")
    with pytest.raises(DataError, match=rf"bad\.csv:2: .*{message}"):
        list(read_rules(p))


def test_missing_columns(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("kind,pattern\nhost,a.com\n")
    with pytest.raises(DataError, match="missing columns"):
        list(read_rules(p))


def test_damaged_import_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    d = tmp_path / "trackers"
    d.mkdir()
    (d / "broken.csv").write_text("kind,pattern\nhost,x\n", encoding="utf-8")
    monkeypatch.setenv("CONSENTSCOPE_DATA_DIR", str(tmp_path))
    TrackerDB.reset_default()
    try:
        assert TrackerDB.default().lookup("ulogs.umeng.com") is not None
        assert "skipping imported tracker list" in caplog.text
    finally:
        TrackerDB.reset_default()
