"""The detector entry point (``_scan.py``): what ``Scanner.scan`` finds in a request and
where, list and location detectors, evidence, and that it never raises."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from urllib.parse import quote, unquote_plus

import pytest

from consentscope.detectors import GeoPoint, Identifier, Limits, Scanner, ScanProfile, View, decode_request
from tests.detectors.helpers import FORM, rec

IMEI = "861234567890127"
MAC = "a4:50:46:1f:2c:9e"
NAME = "张伟"
PROFILE = ScanProfile(
    identifiers=(
        Identifier("imei", IMEI),
        Identifier("mac", MAC),
        Identifier("email", "zhang.wei@example.com"),
        Identifier("device_name", "Zhang Wei's Redmi"),
    ),
    location=GeoPoint(39.9087, 116.3975),
    installed_apps=("com.tencent.mm", "com.sina.weibo", "com.taobao.taobao"),
    contacts=("13900001111", "13700002222"),
)


def test_short_values_match_whole_tokens_only() -> None:
    s = Scanner(ScanProfile((Identifier("account_name", "bob"), Identifier("real_name", NAME))))
    assert {f.data_type for f in s.scan_views([View(b'{"u":"bob"}', "body")])} == {"account_name"}
    assert not s.scan_views([View(b"bobsleigh", "body")])
    assert not s.scan_views([View("张伟东".encode(), "body")])
    assert {f.data_type for f in s.scan_views([View("名字:张伟,".encode(), "body")])} == {"real_name"}


def test_location_forms() -> None:
    point = GeoPoint(39.9087, 116.3975, 1000)
    s = Scanner(ScanProfile(location=point))

    def loc(*views: View) -> list:
        return [f for f in s.scan_views(list(views)) if f.data_type == "location"]

    assert loc(View(b"39.9101", "url.query:lat"), View(b"116.4001", "url.query:lng"))
    assert loc(View(b'{"lat":39.90871,"lng":116.39749}', "body"))
    assert loc(View(b"116.3975,39.9087", "url.query:location"))
    scaled = loc(View(b"39908700", "body.json:$.la"), View(b"116397500", "body.json:$.lo"))
    assert scaled and scaled[0].encoding == ("scaled1e6",)
    assert loc(View(b"lat=3990870&lon=11639750", "body"))[0].encoding == ("scaled1e5",)
    # 5 km away is outside precision_m=1000
    assert not loc(View(b"39.95", "url.query:lat"), View(b"116.3975", "url.query:lng"))
    # latitude alone is not a location
    assert not loc(View(b"39.9087", "url.query:lat"))


def test_installed_apps_and_contacts_need_several() -> None:
    apps = ("com.tencent.mm", "com.sina.weibo", "com.taobao.taobao", "com.netease.cloudmusic")
    s = Scanner(ScanProfile(installed_apps=apps, contacts=("13900001111", "13700002222", "李雷")))
    two = s.scan_views([View(b'["com.tencent.mm","com.sina.weibo"]', "body")])
    assert not two
    three = s.scan_views([View(b'["com.tencent.mm","com.sina.weibo","com.taobao.taobao"]', "body")])
    assert [(f.data_type, f.detail) for f in three] == [("installed_apps", "count=3")]
    # a longer package name is not the listed one
    assert not s.scan_views([View(b"com.tencent.mmx com.sina.weibox com.taobao.taobaox", "body")])
    contacts = s.scan_views([View("13900001111;李雷".encode(), "body.form:c")])
    assert [(f.data_type, f.detail) for f in contacts] == [("contacts", "count=2")]


def test_deterministic_order() -> None:
    scanner = Scanner(PROFILE)
    views = [View(IMEI.encode(), "a"), View(hashlib.md5(MAC.encode()).hexdigest().encode(), "b")]
    assert scanner.scan_views(views) == scanner.scan_views(views)
    assert [f.location for f in scanner.scan_views(views)] == ["a", "b"]


def test_a_value_in_a_name_or_across_pairs_is_no_finding() -> None:
    scanner = Scanner(PROFILE)
    assert scanner.scan(rec(f"/t?{IMEI}=1&x=2")).findings == ()
    assert scanner.scan(rec(f"/t?x={IMEI[:8]}&{IMEI[8:]}=2")).findings == ()
    (f,) = scanner.scan(rec(f"/t?a=1&{IMEI}&b=2")).findings
    assert (f.location, f.evidence) == ("url.query", IMEI)


_VALUES = [
    IMEI, MAC, "zhang.wei@example.com", "Zhang Wei's Redmi", "39.908712", "116.397512", "39908700",
    "com.tencent.mm", "com.sina.weibo", "com.taobao.taobao", "13900001111", "13700002222",
]


def _value(rng: random.Random) -> str:
    v = rng.choice(_VALUES)
    return rng.choice([
        v, v.upper(), quote(v, safe=""), hashlib.md5(v.encode()).hexdigest(), hashlib.sha256(v.encode()).hexdigest(),
        base64.b64encode(v.encode()).decode(), v.encode().hex(), v.replace(" ", "+"), "x" + v, v + "_1",
        quote(json.dumps({"id": v})), base64.b64encode(json.dumps({"id": v, "t": "~~>"}).encode()).decode(),
        "", "1", "a+b", "=", "%zz", rng.randbytes(16).hex(), ",".join(_VALUES[7:10]),
    ])  # fmt: skip


def _pairs(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(0, 25)):
        key = rng.choice(["imei", "d", "lat", "lng", "k+x", "k%20y", "", IMEI, "a" * 20, "QUJDREVGR0hJSktMTU5PUA"])
        out.append(_value(rng) if rng.random() < 0.1 else f"{key}={_value(rng)}")
    return "&".join(out)


def test_every_finding_in_a_query_or_form_lies_in_a_value_of_that_name() -> None:
    """Random queries and forms of planted values in many disguises: each finding is placed
    at a pair that exists, and its evidence holds the match (a run of pairs is located
    only on a hit)."""
    scanner = Scanner(PROFILE)
    rng = random.Random(5)
    hits = 0
    for _ in range(300):
        query, body = _pairs(rng), _pairs(rng).encode()
        headers = (FORM,) if rng.random() < 0.5 else ()
        result = scanner.scan(rec("/p?" + query, body, headers))
        names = {unquote_plus(p.partition("=")[0]) for p in (query + "&" + body.decode()).split("&")}
        for f in result.findings:
            place, _, name = f.location.partition(":")
            if place in ("url.query", "body.form") and name and f.data_type in ("imei", "mac", "email", "device_name"):
                assert name.split(">")[0] in names, f
            assert 0 <= f.match[0] <= f.match[1] <= len(f.evidence), f
            hits += 1
    assert hits > 100  # the generator does plant values


def test_body_scan_truncated_is_said_on_every_finding_of_the_request() -> None:
    limits = Limits(max_body_scan_bytes=100)
    r = rec("/?imei=" + IMEI, ("imei=" + IMEI + "&pad=" + "x" * 200).encode(), (FORM,))
    result = Scanner(PROFILE, limits=limits).scan(r)
    assert result.body_scan_truncated and "body-scan-truncated" in result.anomalies
    by_place = {f.location: f.detail for f in result.findings}
    assert set(by_place) == {"url.query:imei", "body.form:imei"}
    note = "not scanned: the body after byte 100 of 225 (body-scan-truncated)"
    assert by_place == {"url.query:imei": note, "body.form:imei": note}
    assert result.unscanned == "the body after byte 100 of 225 (body-scan-truncated)"
    assert result.readability == "truncated"
    assert decode_request(r, limits).body_scan_truncated


def test_hostile_input_never_raises_and_stays_in_bounds() -> None:
    from tests.detectors.test_decode import _HOSTILE_HEADERS, _hostile_bodies

    limits = Limits(max_views=500, max_decoded_bytes=4 << 20)
    scanner = Scanner(PROFILE, limits=limits)
    pairs = "&".join(["a=b", "%zz=%", "k=" + "A" * 30 + "==", IMEI, "=", "&", "x=1+2"] * 200)
    for body in [*_hostile_bodies(), pairs.encode()]:
        for headers in _HOSTILE_HEADERS:
            record = rec("/?a=" + body[:40].hex() + "&%zz=%&" + pairs[:300], body, tuple(headers))
            d = decode_request(record, limits)
            assert not any(a.startswith(("decoder-error", "recursion-limit")) for a in d.anomalies), d.anomalies
            assert len(d.views) <= limits.max_views
            assert scanner.scan(record).anomalies == d.anomalies



def test_compile_and_confirm_bounds_come_from_limits() -> None:
    point = ScanProfile(location=GeoPoint(39.9087, 116.3975, 50_000))
    assert Scanner(point, limits=Limits(max_location_anchor_steps=2)).automaton_size < Scanner(point).automaton_size
    macs = ScanProfile((Identifier("mac", MAC), Identifier("bluetooth_mac", "a4:50:46:1f:2c:9f")))
    view = [View(b"d=" + base64.b64encode(b"x" + MAC.encode() + b"|os=android"), "body")]
    assert {f.data_type for f in Scanner(macs).scan_views(view)} == {"mac"}
    # no base64 around the fragment decoded: the fragment alone cannot confirm the value
    assert Scanner(macs, limits=Limits(base64_confirm_margin=0)).scan_views(view) == []


def test_a_views_limit_names_what_went_unscanned() -> None:
    """100,001 form fields, then the IMEI: the views limit stops the scan before it; the
    request is truncated, not readable, and what was left unscanned is named."""
    body = "&".join(f"k{i}=v{i}" for i in range(100_001)) + "&imei=" + IMEI
    r = rec("/?imei=" + IMEI, body.encode(), (FORM,))
    limits = Limits(max_views=1_000)
    result = Scanner(PROFILE, limits=limits).scan(r)
    assert "views-limit" in result.anomalies and result.readability == "truncated"
    assert result.unscanned.startswith("everything after body.form:k") and result.unscanned.endswith("(views-limit)")
    assert [f.location for f in result.findings] == ["url.query:imei"]
    assert result.findings[0].detail == f"not scanned: {result.unscanned}"


def test_a_fully_scanned_request_names_nothing_unscanned() -> None:
    result = Scanner(PROFILE).scan(rec("/?imei=" + IMEI, b"a=1", (FORM,)))
    assert result.unscanned == "" and result.readability == "readable" and result.findings[0].detail in ("", None)


def test_scan_result_made_past_its_init_is_the_dataclass() -> None:
    """``Scanner.scan`` makes its ``ScanResult`` without the dataclass ``__init__`` (it runs
    interpreted): every field set, the same object by equality, hash, repr and pickle."""
    import dataclasses
    import pickle

    from consentscope.detectors import Finding, ScanResult
    from consentscope.detectors._scan import _scan_result

    assert [f.name for f in dataclasses.fields(ScanResult)] == [
        "findings", "anomalies", "body_scan_truncated", "readability", "unscanned"]  # what _scan_result sets
    args = ((Finding("imei", ("json",), "body.json:$.a", "x"),), ("json-invalid",), True, "opaque", "everything")
    made, plain = _scan_result(*args), ScanResult(*args)
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert pickle.loads(pickle.dumps(made)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.readability = "readable"  # type: ignore[misc]


def test_profile_finding_made_past_its_init_is_the_dataclass() -> None:
    """The scanner's hit loop makes its findings without the dataclass ``__init__``: every
    field set, the same object as ``Finding(...)`` by equality, hash, repr and pickle."""
    import dataclasses
    import pickle

    from consentscope.detectors import Finding
    from consentscope.detectors._finding import profile_finding

    assert [f.name for f in dataclasses.fields(Finding)] == [
        "data_type", "encoding", "location", "evidence", "detail", "match", "confidence"]  # what it sets
    made = profile_finding("imei", ("gzip", "json", "md5"), "body.json:$.a", "…x", (1, 2))
    plain = Finding("imei", ("gzip", "json", "md5"), "body.json:$.a", "…x", match=(1, 2))
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert pickle.loads(pickle.dumps(made)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.location = "body"  # type: ignore[misc]
