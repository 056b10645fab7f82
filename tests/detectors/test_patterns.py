"""PI without a profile (``_patterns.py``): validated patterns, in every carrier, never in
place of a profile match, and no false findings on traffic that carries none."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from consentscope.detectors import DEFAULT_LIMITS, Finding, Identifier, Limits, Scanner, ScanProfile
from consentscope.detectors._patterns import (
    ad_id_type,
    id_number_ok,
    imei_ok,
    last_name,
    mac_ok,
    meid_ok,
    parent_of,
    phone_field_ok,
    phone_ok,
)
from tests.detectors.helpers import FORM, rec

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT.parent / "shared" / "captures-public"

IMEI = "861234567890127"
ID_NUMBER = "110105199003071239"
PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"
MAC = "a4:50:46:1f:2c:9e"
OAID = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
MEID = "A0000012345678"
#: field -> (value, the data type a pattern finds it as)
FIELDS = {
    "imei": (IMEI, "imei"), "idno": (ID_NUMBER, "id_number"), "mobile": (PHONE, "phone_number"),
    "mail": (EMAIL, "email"), "wifi": (MAC, "mac"), "oaid": (OAID, "oaid"), "meid": (MEID, "meid"),
}  # fmt: skip

SCANNER = Scanner(ScanProfile(), patterns=True)


def types(findings: list[Finding] | tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.data_type: f for f in findings}


# -- validators ----------------------------------------------------------------------------


def test_imei() -> None:
    assert imei_ok(IMEI) and imei_ok("352099001761481")
    assert not imei_ok("861234567890128")  # Luhn
    assert not imei_ok("123456789012347")  # no reporting body 12 (and sequential)
    assert not imei_ok("350000000000006")  # one digit repeated in the serial
    assert not imei_ok("353535353535353")  # too few distinct digits
    assert not imei_ok("86123456789012")  # 14 digits


def test_meid() -> None:
    assert meid_ok(MEID) and meid_ok("a10000009296f2")
    assert not meid_ok("99000012345678")  # regional code below A0: not a MEID
    assert not meid_ok("AAAAAAAAAAAAAA")


def test_id_number() -> None:
    assert id_number_ok(ID_NUMBER) and id_number_ok("11010519491231002X")
    assert not id_number_ok("110105199003071238")  # check character
    assert not id_number_ok("110105199002301230")  # 30 February
    assert not id_number_ok("990105199003071239")  # no province 99
    assert not id_number_ok("110105180003071235")  # born 1800


def test_phone() -> None:
    assert phone_ok(PHONE) and phone_ok("19912345678") and phone_ok("16612345678")
    assert not phone_ok("12812345678")  # 12x is no mobile prefix
    assert not phone_ok("15412345678")  # 154 unassigned
    assert not phone_ok("14012345678")  # 140: IoT, 13 digits
    assert not phone_ok("13800138000")  # the service number forms are filled with
    assert not phone_ok("13888888888")
    assert phone_field_ok("url.query:mobile") and phone_field_ok("body.json:$.user.tel")
    assert not phone_field_ok("url.query:cid") and not phone_field_ok("url.query:exclude_ids")
    assert not phone_field_ok("body.json:$.campaignId") and not phone_field_ok("body.json:$.ts")


def test_mac() -> None:
    assert mac_ok(MAC) and mac_ok("F4-83-CD-12-34-56")
    assert not mac_ok("01:00:5e:00:00:fb")  # multicast
    assert not mac_ok("ff:ff:ff:ff:ff:ff") and not mac_ok("00:00:00:00:00:00")
    assert not mac_ok("02:00:00:00:00:00")  # Android's placeholder
    assert not mac_ok("02:15:b2:00:00:00")  # the emulator's


def test_field_names() -> None:
    assert last_name("body.json:$.device.oaid") == "oaid"
    assert last_name("url.query:oaid") == "oaid"
    assert last_name("url.query:d>json:$.ids[2]") == "ids"
    assert last_name("body.json:$['ad id']") == "ad id"
    assert last_name("header:X-OAID") == "X-OAID"
    assert parent_of("body.json:$.loc.lat") == "body.json:$.loc"
    assert parent_of("url.query:lat") == "url.query"
    for name, want in (("idfa", "idfa"), ("X-IDFA", "idfa"), ("oaid", "oaid"), ("gaid", "gaid"),
                       ("advertising_id", "gaid"), ("advertisingId", "gaid"), ("gps_adid", "gaid"), ("aaid", "gaid"),
                       ("adid", "gaid"), ("device_oaid", "oaid")):  # fmt: skip
        assert ad_id_type(name) == want, name
    for name in ("request_id", "uuid", "session", "trace_id", "idfv", "android_id"):
        assert ad_id_type(name) is None, name


# -- carriers ---------------------------------------------------------------------------------


def _carriers() -> dict[str, tuple[str, bytes, list[tuple[str, str]]]]:
    fields = {k: v for k, (v, _) in FIELDS.items()}
    doc = json.dumps({"device": fields}).encode()
    return {
        "query": ("/c?" + urlencode(fields), b"", []),
        "form": ("/c", urlencode(fields).encode(), [FORM]),
        "json": ("/c", doc, [("Content-Type", "application/json")]),
        "json-escaped": ("/c", json.dumps({"d": json.dumps(fields)}).encode(), []),
        "base64": ("/c", base64.b64encode(doc), []),
        "gzip": ("/c", gzip.compress(doc, mtime=0), [("Content-Type", "application/octet-stream")]),
        "base64-gzip-in-query": ("/c?d=" + quote(base64.b64encode(gzip.compress(doc, mtime=0))), b"", []),
        "content-encoding": ("/c", gzip.compress(doc, mtime=0), [("Content-Encoding", "gzip")]),
    }


@pytest.mark.parametrize("carrier", list(_carriers()))
def test_every_type_in_every_carrier(carrier: str) -> None:
    path, body, headers = _carriers()[carrier]
    found = types(SCANNER.scan(rec(path, body, headers)).findings)
    assert set(found) == {t for _, t in FIELDS.values()}, carrier
    for field, (value, dtype) in FIELDS.items():
        f = found[dtype]
        assert f.confidence == "pattern"
        assert last_name(f.location) == field, (carrier, f.location)
        assert f.evidence[f.match[0] : f.match[1]] == value
    if carrier in ("base64", "gzip"):
        assert found["imei"].encoding[0] == carrier


def test_phone_spellings_and_id_with_x() -> None:
    body = urlencode({"a": "+86" + PHONE, "b": "0086" + PHONE, "c": "86" + PHONE, "idno": "11010519491231002X"})
    findings = SCANNER.scan(rec("/c", body.encode(), [FORM])).findings
    got = {(f.location, f.evidence[f.match[0] : f.match[1]]) for f in findings}
    assert got == {("body.form:a", "+86" + PHONE), ("body.form:b", "0086" + PHONE), ("body.form:c", "86" + PHONE),
                   ("body.form:idno", "11010519491231002X")}  # fmt: skip


def test_ad_ids_only_in_named_fields() -> None:
    other = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
    body = json.dumps({"idfa": other, "request_id": OAID, "ext": {"advertisingId": OAID}, "trace": OAID,
                       "gaid": "00000000-0000-0000-0000-000000000000"}).encode()  # fmt: skip
    findings = SCANNER.scan(rec("/c?uuid=" + OAID + "&X=1", body)).findings
    assert sorted((f.data_type, f.location) for f in findings) == [
        ("gaid", "body.json:$.ext.advertisingId"), ("idfa", "body.json:$.idfa")]  # fmt: skip
    headers = [("X-OAID", OAID), ("X-Request-Id", OAID)]
    assert [(f.data_type, f.location) for f in SCANNER.scan(rec("/", b"", headers)).findings] == [
        ("oaid", "header:X-OAID")]  # fmt: skip


def test_coordinates_named_pairs_in_china() -> None:
    def found(path: str, body: bytes = b"") -> list[str]:
        return [f.evidence for f in SCANNER.scan(rec(path, body)).findings if f.data_type == "location"]

    assert found("/l?lat=39.908712&lng=116.397455") == ["lat 39.908712, lon 116.397455"]
    assert found("/l", json.dumps({"gps": {"latitude": 31.2304, "longitude": "121.4737"}}).encode()) == [
        "lat 31.2304, lon 121.4737"]  # fmt: skip
    assert found("/l?lat=39.908&lng=116.397") == []  # under four decimals
    assert found("/l?lat=48.8566&lng=2.3522") == []  # Paris
    assert found("/l?x=39.908712&y=116.397455") == []  # unnamed
    assert found("/l", json.dumps({"a": {"lat": 39.908712}, "b": {"lng": 116.397455}}).encode()) == []  # two objects
    assert found("/l", json.dumps({"lat": 116.397455, "lng": 39.908712}).encode()) == []  # swapped axes


def test_email_shapes() -> None:
    def emails(text: str) -> list[str]:
        fs = SCANNER.scan(rec("/", json.dumps({"t": text}).encode())).findings
        return [f.evidence[f.match[0] : f.match[1]] for f in fs if f.data_type == "email"]

    assert emails("mail me: a.b+tag@mail.example.com.cn.") == ["a.b+tag@mail.example.com.cn"]
    assert emails("icon@2x.png banner@3x.webp") == []
    assert emails("pkg@1.2.3 @user a@b .x@y.com a..b@c.com") == []


def test_hard_negatives() -> None:
    """Values shaped like PI that are not: timestamps, ids, versions, hashes, placeholders."""
    doc = {
        "ts": 1772445600123, "ts_s": 1772445600, "seq": 13812345678, "campaign_id": 19944365299, "cids": [19912345678],
        "sid": hashlib.md5(b"x").hexdigest(), "sha": hashlib.sha256(b"x").hexdigest(), "ver": "8.0.32.2300",
        "ip": "10.0.0.1:8080", "ipv6": "fe80::1c2d:3e4f:5a6b:7c8d", "mac": "02:00:00:00:00:00",
        "bssid": "ff:ff:ff:ff:ff:ff", "idfa": "00000000-0000-0000-0000-000000000000", "req": OAID,
        "img": "icon@2x.png", "price": 0.123456789, "score": 39.908712, "lng": 200.5, "phone": "13800138000",
        "order": "20260302123456789012", "big": 861234567890127123, "float": 1.38123456789e10,
        "time": "2026-03-02T10:00:00.123+08:00", "hex": "a4504617c9ef1b2d",
    }  # fmt: skip
    body = json.dumps(doc).encode()
    for path, data in (("/", body), ("/?" + urlencode({k: str(v) for k, v in doc.items()}), b""),
                       ("/", gzip.compress(body, mtime=0))):  # fmt: skip
        assert SCANNER.scan(rec(path, data)).findings == ()


def test_binary_is_not_text() -> None:
    """Random bytes (a photo) spell e-mail-shaped runs now and then; none is a finding."""
    import random

    rng = random.Random(5)
    noise = bytes(rng.getrandbits(8) for _ in range(200_000))
    planted = noise[:1000] + b"\xa1q@b.cn\xfe" + noise[1000:]
    assert SCANNER.scan(rec("/", planted, [("Content-Type", "application/octet-stream")])).findings == ()


# -- the profile first ---------------------------------------------------------------------------


def test_profile_match_gives_only_the_profile_finding() -> None:
    profile = ScanProfile(identifiers=(Identifier("imei", IMEI), Identifier("phone_number", PHONE)))
    both = Scanner(profile, patterns=True)
    other_imei = "352099001761481"
    body = json.dumps({"imei": IMEI, "imei2": other_imei, "tel": "+86" + PHONE, "mail": EMAIL}).encode()
    findings = both.scan(rec("/", body)).findings
    got = sorted((f.data_type, f.location, f.confidence) for f in findings)
    assert got == [
        ("email", "body.json:$.mail", "pattern"),
        ("imei", "body.json:$.imei", "profile"),
        ("imei", "body.json:$.imei2", "pattern"),
        ("phone_number", "body.json:$.tel", "profile"),
    ]
    plain = Scanner(profile).scan(rec("/", body)).findings
    assert [f for f in findings if f.confidence == "profile"] == list(plain)
    assert all(f.confidence == "profile" for f in plain)


def test_profile_point_gives_only_the_profile_location() -> None:
    from consentscope.detectors import GeoPoint

    point = GeoPoint(39.908712, 116.397455)
    body = json.dumps({"loc": {"lat": 39.908712, "lng": 116.397455}, "far": {"lat": 31.2304, "lng": 121.4737}}).encode()
    findings = Scanner(ScanProfile(location=point), patterns=True).scan(rec("/", body)).findings
    assert sorted((f.confidence, f.evidence[:13]) for f in findings if f.data_type == "location") == [
        ("pattern", "lat 31.2304, "), ("profile", "lat 39.908712")]  # fmt: skip


def test_off_by_default() -> None:
    path, body, headers = _carriers()["json"]
    assert not Scanner(ScanProfile()).patterns and SCANNER.patterns
    assert Scanner(ScanProfile()).scan(rec(path, body, headers)).findings == ()
    assert Finding("imei", (), "body", "x").confidence == "profile"


def test_demo_capture_findings_unchanged() -> None:
    """Patterns off: the demo capture's findings are byte-identical to those before patterns
    existed (the digest below was taken on the commit before them); on: the profile's
    findings are the same and every pattern value the profile names is left to it."""
    from consentscope.detectors import RequestRecord
    from consentscope.profile import load_profile
    from consentscope.readers.capture import read_capture

    profile = load_profile(ROOT / "captures" / "demo_profile.toml").scan_profile()
    records = [r for r in read_capture(str(ROOT / "captures" / "demo_session.mitm")) if isinstance(r, RequestRecord)]

    def digest(scanner: Scanner) -> tuple[str, int]:
        rows = []
        pattern = 0
        for r in records:
            res = scanner.scan(r)
            pattern += sum(f.confidence == "pattern" for f in res.findings)
            fs = [[f.data_type, list(f.encoding), f.location, f.evidence, f.detail, list(f.match)]
                  for f in res.findings if f.confidence == "profile"]  # fmt: skip
            rows.append([r.flow_id, fs, list(res.anomalies)])
        blob = json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest(), pattern

    before = "1ce4b312f818141c61f9d754055ed4b7f00232f2c872ee8575bcbecf50f8974f"
    assert digest(Scanner(profile)) == (before, 0)
    assert digest(Scanner(profile, patterns=True)) == (before, 0)  # the profile names every PI value sent
    bare = [f for r in records for f in SCANNER.scan(r).findings]
    assert {f.data_type for f in bare} >= {"imei", "oaid", "gaid", "mac", "phone_number", "email", "id_number",
                                            "location"}  # fmt: skip


# -- bounds ---------------------------------------------------------------------------------------


def test_candidates_per_view_are_bounded() -> None:
    scanner = Scanner(ScanProfile(), patterns=True, limits=Limits(max_pattern_candidates=100))
    body = (" ".join(["1234567.89"] * 500) + " " + IMEI).encode()
    res = scanner.scan(rec("/", body, [("Content-Type", "text/plain")]))
    assert res.findings == () and "pattern-candidates-limit" in res.anomalies
    res = SCANNER.scan(rec("/", body, [("Content-Type", "text/plain")]))
    assert [f.data_type for f in res.findings] == ["imei"] and DEFAULT_LIMITS.max_pattern_candidates >= 1000


# -- precision on a negative corpus ------------------------------------------------------------------


def test_no_false_findings_on_the_benchmark_corpus() -> None:
    """Requests the corpus planted nothing in yield no finding; in those it planted values
    in, every pattern finding is at a planted field (the benchmark plants the profile's
    values: patterns find them without the profile)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus import CONTACTS, LATITUDE, VALUES, generate_corpus_with_truth
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    clean = planted = 0
    for record, _, fields in generate_corpus_with_truth(1000, seed=11):
        findings = SCANNER.scan(record).findings
        if not fields:
            clean += 1
            assert findings == (), (record.path, findings)
            continue
        planted += len(findings)
        for f in findings:
            if f.data_type == "location":
                assert abs(float(f.evidence.split()[1].rstrip(",")) - LATITUDE) < 0.01, f
                continue
            value = f.evidence[f.match[0] : f.match[1]].lower()
            assert any(v.lower() in value for v in (*VALUES.values(), *CONTACTS)), (fields, f)
    assert clean > 850 and planted > 0


def test_no_false_findings_on_public_captures() -> None:
    """Real third-party captures: the only PI patterns find is the GAID the capture's notes
    name (``SOURCES.md``: 1kxun.pcap, ``5ac6a0ff-…``)."""
    if not PUBLIC.is_dir():
        pytest.skip("public captures absent")
    from consentscope.detectors import RequestRecord
    from consentscope.readers import CaptureError
    from consentscope.readers.capture import read_capture

    known = {("gaid", "5ac6a0ff-8d18-47bc-a902-2812cf0c251e")}
    requests = 0
    false = []
    for path in sorted(PUBLIC.rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".json"):
            continue
        try:
            for item in read_capture(str(path)):
                if isinstance(item, RequestRecord):
                    requests += 1
                    for f in SCANNER.scan(item).findings:
                        if (f.data_type, f.evidence[f.match[0] : f.match[1]]) not in known:
                            false.append((path.name, f))
        except CaptureError:
            continue
    assert requests > 1000 and false == []


def test_report_carries_confidence_last() -> None:
    from consentscope.reports.json_report import build_document
    from consentscope.session import judge
    from tests.reports.sessions import hostile_session

    result, _ = hostile_session()
    doc = build_document(judge([result]))
    assert doc["findings"] and all(list(f)[-1] == "confidence" and f["confidence"] == "profile"
                                   for f in doc["findings"])  # fmt: skip
