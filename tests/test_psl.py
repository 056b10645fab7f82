"""consentscope._psl answers as tldextract does, without importing it (nor requests, urllib3)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tldextract
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope import _psl
from consentscope.destination import registrable_domain
from consentscope.tracker_db import TrackerDB, ip_literal, normalize_host

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("requests", "urllib3", "tldextract", "filelock")

# The extractor destination.py used before _psl: the reference for every answer below.
TLDX = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
PUBLIC = sorted(TLDX.tlds)
PRIVATE = sorted(set(tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                           include_psl_private_domains=True).tlds) - set(PUBLIC))


def tldextract_answer(url: str) -> str:
    ext = TLDX(url)
    return f"{ext.domain}.{ext.suffix}" if ext.domain and ext.suffix else ""


def old_registrable_domain(host: str) -> str:
    """destination.registrable_domain as it was on tldextract (main before this module)."""
    h = normalize_host(host)
    if not h or ip_literal(h) is not None:
        return h
    ext = TLDX(h)
    if not ext.suffix or not ext.domain:
        return h
    return f"{ext.domain}.{ext.suffix}"


def assert_same(host: str) -> None:
    """Ours against tldextract's, on the raw string and through destination's normalising."""
    assert _psl.registrable_domain(host) == tldextract_answer(host), host
    assert registrable_domain.__wrapped__(host) == old_registrable_domain(host), host


def test_snapshot_is_tldextracts() -> None:
    assert _psl.snapshot_path() == Path(tldextract.__file__).parent / _psl.SNAPSHOT_NAME
    rules = _psl._rules()
    assert rules is not None and rules.depth >= 4  # *.kawasaki.jp-like rules have 3, some have 4


def db_hosts() -> set[str]:
    db = TrackerDB.shipped()
    hosts = set(db.owners) | set(db.infra)
    hosts |= {d for a in db.apps.values() for d in a.first_party_domains}
    for r in db.rules:
        if r.kind in ("host", "suffix"):
            hosts.add(r.pattern)
        if r.example:
            hosts.add(r.example.split("/", 1)[0])
    hosts |= {s.example.split("/", 1)[0] for s in db.sdk_info.values() if s.example}
    with (ROOT / "tests" / "tracker_db" / "hosts_expected.csv").open(newline="", encoding="utf-8") as f:
        hosts |= {row["host"] for row in csv.DictReader(f)}
    return hosts


def test_every_tracker_db_host() -> None:
    hosts = db_hosts()
    assert len(hosts) > 6000
    for host in sorted(hosts):
        assert_same(host)
        assert_same("sub." + host)
        assert_same(host.upper() + ".")


def test_every_rule_of_the_list() -> None:
    """Each ICANN rule (and some private ones) as a host, under labels, wildcards filled, in xn-- form."""
    for rule in [*PUBLIC, *PRIVATE[:300]]:
        host = rule.replace("*", "w").lstrip("!")
        for h in (rule, host, "d." + host, "a.b.c." + host, ace_host(host), "a.b." + ace_host(host)):
            assert_same(h)


TRICKY = [
    # suffixes of more than one label, and hosts that are a suffix
    "a.b.example.com.cn", "example.com.cn", "com.cn", "cn", "www.gov.cn", "gov.cn", "x.y.gov.cn",
    "foo.bar.co.uk", "co.uk", "uk", "sh.cn", "a.sh.cn", "www.city.kawasaki.jp", "kawasaki.jp",
    # wildcards and their exceptions
    "ck", "foo.ck", "a.foo.ck", "www.ck", "a.www.ck", "b.a.www.ck", "*.ck", "!www.ck", "a.!www.ck",
    "city.kawasaki.jp", "x.city.kawasaki.jp", "x.y.kawasaki.jp", "y.kawasaki.jp", "a.b.c.kawasaki.jp",
    "bd", "com.bd", "x.com.bd", "a.x.com.bd", "er", "a.er", "b.a.er", "nom.br", "x.nom.br", "y.x.nom.br",
    # IDN: punycode labels are decoded for matching; unicode and broken xn-- labels
    "x.xn--55qx5d.cn", "xn--55qx5d.cn", "a.b.XN--55QX5D.CN", "公司.cn", "x.公司.cn", "例子.中国", "www.例子.中国",
    "x.xn--fiqs8s", "xn--fiqs8s", "a.b.xn--fiqs8s", "x.xn--", "x.xn--abc-", "x.xn--zz.cn", "xn--a.xn--b",
    "x.xn--ygbi2ammx", "x.xn--mgbaam7a8h", "x.XN--MGBAAM7A8H.", "a.xn--p1ai", "a.b.xn--90a3ac",
    # case, dots, empty labels, separators
    "WWW.Example.COM.", "www.example.com..", "..example.com", "a..example.com", ".", "..", "a.", ".com",
    "example.com\u3002", "www\uff0eexample\uff61com", "a .example.com", " example.com ", "example .com",
    # single labels, private-section names, IPs, ports, URLs, userinfo, brackets
    "localhost", "com", "internal", "blogspot.com", "x.blogspot.com", "a.b.github.io", "x.appspot.com",
    "203.107.1.1", "1.2.3.4.com", "256.1.1.1", "[2001:db8::1]", "[2001:db8::1]:443", "[x.com]", "[[x.com]", "[a]b.com", " [a]b.com.cn",
    "2001:db8::1", "a:b:c.com", "example.com:8080", "https://user:pw@www.example.com.cn:8443/p?q#f",
    "//example.com", "http:/x.com", "a@b@c.example.com", "x.com#frag.cn", "x.com?a=b.cn", "h-t_tp://a.b.com",
    "*", "*.com", "!", "!com", "a.*.ck", "", " ", "\t",
]


@pytest.mark.parametrize("host", TRICKY)
def test_tricky_hosts(host: str) -> None:
    assert_same(host)


@pytest.mark.parametrize("host", TRICKY)
def test_tricky_hosts_on_a_fresh_list(host: str) -> None:
    """The list's subtries are built on first use: each host as the process's first lookup."""
    _psl._rules.cache_clear()
    try:
        assert _psl.registrable_domain(host) == tldextract_answer(host)
    finally:
        _psl._rules.cache_clear()


def test_first_lookups_from_threads() -> None:
    """Threads building the list's subtries at once each get whole ones (switching every µs)."""
    hosts = [f"a.b.{rule.replace('*', 'w').lstrip('!')}" for rule in PUBLIC]
    want = [tldextract_answer(h) for h in hosts]
    interval = sys.getswitchinterval()
    _psl._rules.cache_clear()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(_psl.registrable_domain, hosts, chunksize=16))
    finally:
        sys.setswitchinterval(interval)
        _psl._rules.cache_clear()
    assert got == want


def test_very_long_hosts() -> None:
    for host in ("a." * 100_000 + "example.com.cn", "a" * 300_000 + ".co.uk", "x." * 50_000 + "a.www.ck",
                 "." * 10_000, "xn--55qx5d." * 2000 + "cn", "a." * 1000 + "b.c.kawasaki.jp", "x." * 50_000 + "schools.nsw.edu.au"):
        assert_same(host)
        assert_same(host + ".")


# Hosts from the list's own labels (public rules, a few private ones) and random labels.
RULE = st.sampled_from(PUBLIC) | st.sampled_from(PRIVATE[:200])
WORD = st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True)
LABEL = (WORD | st.sampled_from(["www", "city", "*", "!www", "xn--", "xn--zz", "co", "com", "cn", ""])
         | st.text(max_size=5))


def ace(label: str) -> str:
    """The xn-- form of a unicode label, a broken one if IDNA refuses it."""
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        return "xn--" + label.encode("punycode").decode("ascii")


def ace_host(host: str) -> str:
    return ".".join(ace(label) for label in host.split("."))


@st.composite
def hosts(draw: st.DrawFn) -> str:
    rule = draw(RULE).split(".")
    rule = [draw(WORD) if label == "*" else label for label in rule]
    if rule[0].startswith("!") and draw(st.booleans()):
        rule[0] = rule[0][1:]
    if draw(st.booleans()):
        rule = [ace(label) for label in rule]
    labels = [*draw(st.lists(LABEL, max_size=3)), *rule]
    host = ".".join(labels)
    if draw(st.booleans()):
        host = draw(st.sampled_from([str.upper, str.title, str.lower]))(host)
    return host + draw(st.sampled_from(["", "", ".", "..", "\u3002", ":443", "/path", "#x"]))


@settings(max_examples=800, deadline=None)
@given(hosts())
def test_hosts_from_the_list(host: str) -> None:
    assert_same(host)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("abc.-:/@[]#?*! \u3002xn-公司") | st.characters(), max_size=30))
def test_any_string(text: str) -> None:
    assert_same(text)


def modules_after(code: str, tmp_path: Path) -> list[str]:
    r = subprocess.run([sys.executable, "-c", code + f"\nimport json, sys; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_import_and_lookup_leave_requests_and_tldextract_out(tmp_path: Path) -> None:
    code = ("from consentscope.destination import registrable_domain as r\n"
            "assert r('a.b.example.com.cn') == 'example.com.cn' and r('x.xn--55qx5d.cn') == 'x.xn--55qx5d.cn'")
    assert modules_after(code, tmp_path) == []


@pytest.mark.slow
def test_replay_leaves_requests_and_tldextract_out(tmp_path: Path) -> None:
    caps = ROOT / "captures"
    code = ("from consentscope import cli\n"
            f"assert cli.main(['replay', {str(caps / 'demo_session.mitm')!r}, '--profile', "
            f"{str(caps / 'demo_profile.toml')!r}, '--json', 'out.json']) == 0")
    assert modules_after(code, tmp_path) == []
    assert (tmp_path / "out.json").stat().st_size > 0


@pytest.mark.slow
def test_tldextract_answers_when_its_snapshot_is_no_file(tmp_path: Path) -> None:
    """tldextract imported from a zip: no snapshot file to read, so tldextract itself answers."""
    pkg = Path(tldextract.__file__).parent
    archive = tmp_path / "tldextract.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(pkg.iterdir()):
            if f.is_file():
                z.write(f, f"tldextract/{f.name}")
    code = (f"import sys; sys.path.insert(0, {str(archive)!r})\n"
            "from consentscope import _psl\n"
            "assert _psl.snapshot_path() is None\n"
            "assert _psl.registrable_domain('a.b.example.com.cn') == 'example.com.cn'\n"
            "assert _psl.registrable_domain('a.www.ck') == 'www.ck' and _psl.registrable_domain('gov.cn') == ''\n"
            f"import tldextract; assert tldextract.__file__.startswith({str(archive)!r})")
    assert modules_after(code, tmp_path) == ["requests", "urllib3", "tldextract", "filelock"]


def test_ip_literal_answers_as_ipaddress_and_remembers_within_a_bound() -> None:
    import ipaddress

    from consentscope.tracker_db._normalize import _parsed_ip

    for host in ("127.0.0.1", "8.8.8.8", "::1", "2001:db8::1", "1.2.3", "999.1.1.1", "10.0.0.1:80", "fe80::1%eth0",
                 "1e100.net", "example.com", ""):
        try:
            want: object = ipaddress.ip_address(host) if host and (host[0].isdigit() or ":" in host) else None
        except ValueError:
            want = None
        assert ip_literal(host) == want and ip_literal(host) == want, host  # the second answer: remembered
    assert _parsed_ip.cache_info().maxsize == 4096  # hostile captures name many hosts: the memory stays bounded
