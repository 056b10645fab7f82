"""Grouped decoding (what the scanner uses): runs of plain query and form pairs as one view,
located on a hit, must give exactly the findings of one view per value."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from urllib.parse import quote, unquote_to_bytes

import pytest

from consentscope.detectors import Identifier, Limits, RequestRecord, Scanner, ScanProfile, decode_request
from consentscope.detectors._decode import _FORM_KEY, _FORM_PAIRS_RE, _unquote
from consentscope.detectors._location import GeoPoint
from consentscope.detectors._view import PairsLocator, View

IMEI = "861234567890127"
MAC = "a4:50:46:1f:2c:9e"
FORM = ("Content-Type", "application/x-www-form-urlencoded")
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


def rec(path: str = "/", body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> RequestRecord:
    return RequestRecord("f1", 0.0, "POST", "https", "sdk.example.net", 443, path, headers, body)


def rows(views: tuple[View, ...]) -> list[tuple[str, tuple[str, ...], bytes]]:
    return [(v.location, v.chain, v.data) for v in views]


def findings(scanner: Scanner, record: RequestRecord, limits: Limits) -> tuple[list[tuple], tuple[str, ...]]:
    """(findings, anomalies) of one view per value, and of grouped views (``Scanner.scan``)."""
    eager = decode_request(record, limits)
    each = [(f.data_type, f.encoding, f.location, f.evidence, f.match) for f in scanner.scan_views(eager.views)]
    result = scanner.scan(record)
    grouped = [(f.data_type, f.encoding, f.location, f.evidence, f.match) for f in result.findings]
    assert result.anomalies == eager.anomalies
    return each, grouped


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


@pytest.mark.parametrize(
    "limits", [Limits(), Limits(max_views=6), Limits(max_decoded_bytes=200)], ids=["default", "views", "bytes"]
)
def test_grouped_pairs_find_what_one_view_per_value_finds(limits: Limits) -> None:
    scanner = Scanner(PROFILE, limits=limits)
    rng = random.Random(5)
    hits = 0
    for _ in range(300):
        query, body = _pairs(rng), _pairs(rng).encode()
        headers = (FORM,) if rng.random() < 0.5 else ()
        each, grouped = findings(scanner, rec("/p?" + query, body, headers), limits)
        assert grouped == each, (query, body)
        hits += len(each)
    assert hits > 100  # the generator does plant values


def test_a_run_of_plain_pairs_is_one_view_located_on_demand() -> None:
    d = decode_request(rec("/t?a=1&imei=" + IMEI + "&q=a+b&e=a%40b.com&c=2"), grouped=True)
    run, escaped, rest = d.views[1:]
    assert (run.location, run.data) == ("url.query", b"a=1&imei=" + IMEI.encode() + b"&q=a b")
    assert run.location_at(run.data.index(IMEI.encode())) == "url.query:imei"
    assert run.piece_at(run.data.index(b"a b")) == (len(run.data) - 3, len(run.data), "url.query:q")
    assert run.piece_at(run.data.index(b"imei")) is None  # names are not scanned
    assert (escaped.location, escaped.data, escaped.resolve) == ("url.query:e", b"a@b.com", None)
    assert rest.location_at(2) == "url.query:c"
    eager = decode_request(rec("/t?a=1&imei=" + IMEI + "&q=a+b&e=a%40b.com&c=2"))
    assert [v.location for v in eager.views[1:]] == [f"url.query:{k}" for k in ("a", "imei", "q", "e", "c")]


def test_a_value_in_a_name_or_across_pairs_is_no_finding() -> None:
    scanner = Scanner(PROFILE)
    assert scanner.scan(rec(f"/t?{IMEI}=1&x=2")).findings == ()
    assert scanner.scan(rec(f"/t?x={IMEI[:8]}&{IMEI[8:]}=2")).findings == ()
    (f,) = scanner.scan(rec(f"/t?a=1&{IMEI}&b=2")).findings
    assert (f.location, f.evidence) == ("url.query", IMEI)


def test_grouped_runs_count_against_the_limits_as_their_values_would() -> None:
    query = "/t?" + "&".join(f"k{i}=v{i}" for i in range(50))
    for limits in (Limits(max_views=10), Limits(max_decoded_bytes=40)):
        eager, grouped = decode_request(rec(query), limits), decode_request(rec(query), limits, grouped=True)
        assert grouped.anomalies == eager.anomalies != ()
        assert rows(grouped.views) == rows(eager.views)  # the limit fell inside the run: one view per value


def test_pairs_locator_compares_by_value() -> None:
    assert PairsLocator(b"a=1", "url.query:") == PairsLocator(b"a=1", "url.query:")
    assert decode_request(rec("/?a=1&b=2"), grouped=True) == decode_request(rec("/?a=1&b=2"), grouped=True)


def test_unquote_matches_urllib() -> None:
    rng = random.Random(2)
    alphabet = b"%%%\\\\xX0123456789abcdefABCDEFgz+ =&\x00\xff"
    for _ in range(20_000):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _unquote(raw) == unquote_to_bytes(raw), raw


def test_form_check_is_the_per_pair_rule() -> None:
    pair_re = re.compile(_FORM_KEY + rb"(?:=|$)")
    rng = random.Random(3)
    alphabet = [b"a", b"Z", b"0", b"_", b".", b"-", b"[", b"%", b"*", b"=", b"&", b"&", b"\n", b" ", b"+", b"\xff"]
    samples = [b"a" * n + tail for n in (1, 63, 64, 65) for tail in (b"", b"=", b"=x", b"\n", b"x\n", b"&b=1")]
    samples += [b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    for data in samples:
        pairs = [p for p in data.split(b"&") if p]
        per_pair = bool(pairs) and all(pair_re.match(p) for p in pairs)
        assert per_pair == (bool(data.strip(b"&")) and bool(_FORM_PAIRS_RE.fullmatch(data))), data


def test_hostile_input_grouped_never_raises_and_stays_in_bounds() -> None:
    from tests.detectors.test_decode import _HOSTILE_HEADERS, _hostile_bodies

    limits = Limits(max_views=500, max_decoded_bytes=4 << 20)
    scanner = Scanner(PROFILE, limits=limits)
    pairs = "&".join(["a=b", "%zz=%", "k=" + "A" * 30 + "==", IMEI, "=", "&", "x=1+2"] * 200)
    for body in [*_hostile_bodies(), pairs.encode()]:
        for headers in _HOSTILE_HEADERS:
            record = rec("/?a=" + body[:40].hex() + "&%zz=%&" + pairs[:300], body, tuple(headers))
            d = decode_request(record, limits, grouped=True)
            assert not any(a.startswith(("decoder-error", "recursion-limit")) for a in d.anomalies), d.anomalies
            assert len(d.views) <= limits.max_views
            assert d.anomalies == decode_request(record, limits).anomalies
            scanner.scan(record)
