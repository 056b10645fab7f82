"""Nothing unseen reads as clean (issue 11): every request gets a readability class, encrypted
payloads to SDKs become opaque-request contacts and a contact-only MIIT-3, the JSON says how
much was readable, and the verdicts say "cannot tell" where the traffic could not decide."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from captures._flowbuild import write_records
from consentscope.detectors import RequestRecord, Scanner
from consentscope.detectors._decode import decode_request
from consentscope.detectors._readability import readability
from consentscope.model import Readability

ROOT = Path(__file__).resolve().parent.parent
IMEI = "861234567890127"
T0 = 1_772_445_600.0
RNG = random.Random(11)


def rand(n: int) -> bytes:
    return bytes(RNG.getrandbits(8) for _ in range(n))


def aes_envelope(payload: dict) -> bytes:
    """How an SDK hides its batch: AES-GCM under a session key (the key itself would go
    RSA-encrypted beside it)."""
    key, nonce = AESGCM.generate_key(bit_length=128), os.urandom(12)
    batch = {**payload, "events": [{"id": i, "name": "page_view", "ts": T0 + i} for i in range(8)]}
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(batch).encode(), None)


def post(n: int, t: float, host: str, path: str, body: bytes, ctype: str = "application/octet-stream") -> RequestRecord:
    return RequestRecord(f"f{n}", T0 + t, "POST", "https", host, 443, path, (("Content-Type", ctype),), body)


def classify(record: RequestRecord) -> str:
    decoded = decode_request(record)
    return readability(record, decoded.views, decoded.body_scan_truncated)


@pytest.mark.parametrize(("body", "ctype", "want"), [
    (rand(600), "application/octet-stream", "opaque"),
    (aes_envelope({"imei": IMEI}), "application/octet-stream", "opaque"),
    (gzip.compress(rand(800), mtime=0), "application/octet-stream", "opaque"),
    (base64.b64encode(rand(600)), "text/plain", "opaque"),
    (json.dumps({"data": base64.b64encode(rand(900)).decode(), "v": 2}).encode(), "application/json", "opaque"),
    (b"data=" + base64.urlsafe_b64encode(rand(600)) + b"&k=1", "application/x-www-form-urlencoded", "opaque"),
    (json.dumps({"event": "launch", "ts": 1, "model": "Pixel 7", "os": "14"}).encode(), "application/json",
     "readable"),
    (base64.b64encode(gzip.compress(json.dumps({"e": "x" * 300}).encode())), "text/plain", "readable"),
    (b"\x00\x01\x02", "application/octet-stream", "readable"),  # too small to say
    (b"\xff\xd8\xff\xe0" + rand(5000), "image/jpeg", "readable"),  # a photo, not ciphertext
    ("用户反馈：应用很好用".encode() * 20, "text/plain", "readable"),
    (b"", "application/json", "empty"),
])
def test_readability_classes(body: bytes, ctype: str, want: str) -> None:
    assert classify(post(1, 0, "h.example", "/x", body, ctype)) == want


def test_a_query_string_is_a_payload_and_a_limit_is_truncated() -> None:
    assert classify(RequestRecord("f", T0, "GET", "https", "h.example", 443, "/x?a=1")) == Readability.READABLE
    assert classify(RequestRecord("f", T0, "GET", "https", "h.example", 443, "/x")) == Readability.EMPTY
    from consentscope.detectors import Limits

    big = post(1, 0, "h.example", "/x", json.dumps({"k": "v " * 5000}).encode(), "application/json")
    d = decode_request(big, Limits(max_body_scan_bytes=1024))
    assert readability(big, d.views, d.body_scan_truncated) == Readability.TRUNCATED


@pytest.fixture(scope="module")
def encrypted_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("opaque")
    records = [
        post(1, 1, "ulogs.umeng.com", "/unify_logs", aes_envelope({"imei": IMEI})),
        post(2, 2, "sdk.e.qq.com", "/launch", rand(700)),
        post(3, 3, "ulogs.umeng.com", "/unify_logs", gzip.compress(rand(900), mtime=0)),
        post(4, 4, "api.demoshop.com.cn", "/v1/config", json.dumps({"screen": "home", "n": 3}).encode(),
             "application/json"),
        post(5, 10, "api.demoshop.com.cn", "/v1/privacy/consent", b'{"agree": true}', "application/json"),
    ]
    capture = tmp / "opaque.mitm"
    write_records(records, capture)
    profile = tmp / "p.toml"
    profile.write_text(f'[app]\npackage = "com.demoshop"\nfirst_party_domains = ["demoshop.com.cn"]\n'
                       f'[device]\nimei = "{IMEI}"\n')
    return capture, profile


def replay(capture: Path, profile: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(profile),
                        "--db", "", "--json", str(out), *extra], capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    return r, (json.loads(out.read_text()) if out.exists() else {})


def test_encrypted_payloads_before_consent_are_evidence_not_clean(encrypted_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    capture, profile = encrypted_session
    r, doc = replay(capture, profile, tmp_path / "o.json", "--consent-marker", "/v1/privacy/consent")
    assert r.returncode == 0, r.stderr
    assert doc["findings"] == []  # nothing can be read out of ciphertext…
    opaque = [c for c in doc["contacts"] if c["via"] == "opaque-request"]
    # …but three transmissions to two SDKs before consent are proven
    assert [(c["host"], c["phase"], c["party"]) for c in opaque] == [
        ("ulogs.umeng.com", "before-consent", "third-party"), ("sdk.e.qq.com", "before-consent", "third-party"),
        ("ulogs.umeng.com", "before-consent", "third-party")]
    assert all(c["bytes"] > 200 and c["sdk"] and c["source"] == "flow" for c in opaque)
    cov = doc["coverage"]
    assert (cov["requests"], cov["opaque"], cov["readable"]) == (5, 3, 2)
    by_host = {d["host"]: d for d in cov["destinations"]}
    assert by_host["ulogs.umeng.com"]["opaque"] == 2 and by_host["api.demoshop.com.cn"]["readable"] == 2
    [miit3] = [v for v in doc["violations"] if v["rule"] == "MIIT-3"]
    assert miit3["check"] == "contact-only" and "3 request(s) carried" in miit3["explanation"]
    verdicts = {v["category"]: v for v in doc["verdicts"]}
    assert verdicts["MIIT-3"]["status"] == "violation"
    assert verdicts["MIIT-1"]["status"] == "cannot-tell" and "could not be read" in verdicts["MIIT-1"]["reason"]
    assert verdicts["MIIT-2"]["status"] == "cannot-tell"
    assert "not-seen" not in {verdicts[c]["status"] for c in ("MIIT-1", "MIIT-2", "MIIT-3", "MIIT-4")}
    assert "3 of 5 requests readable" not in r.stdout  # the console line says it the other way round
    assert "2 of 5 requests readable" in r.stdout


def test_without_a_consent_event_the_consent_categories_cannot_tell(encrypted_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    capture, profile = encrypted_session
    r, doc = replay(capture, profile, tmp_path / "o.json")
    assert r.returncode == 0, r.stderr
    verdicts = {v["category"]: v for v in doc["verdicts"]}
    for cat in ("MIIT-1", "MIIT-2", "MIIT-3"):
        assert verdicts[cat]["status"] == "cannot-tell", cat
    assert "no consent event" in verdicts["MIIT-1"]["reason"]


def test_a_readable_json_without_pi_is_no_contact(tmp_path: Path) -> None:
    capture = tmp_path / "clean.mitm"
    write_records([post(1, 1, "ulogs.umeng.com", "/x", json.dumps({"event": "launch", "n": 1}).encode(),
                        "application/json")], capture)
    profile = tmp_path / "p.toml"
    profile.write_text(f'[device]\nimei = "{IMEI}"\n')
    r, doc = replay(capture, profile, tmp_path / "o.json", "--consent-at", "2026-03-02T10:00:00Z")
    assert r.returncode == 0, r.stderr
    assert doc["contacts"] == [] and doc["coverage"]["readable"] == 1 and doc["coverage"]["opaque"] == 0
    verdicts = {v["category"]: v["status"] for v in doc["verdicts"]}
    assert verdicts["MIIT-1"] == verdicts["MIIT-3"] == "not-seen"


def test_scanner_reports_readability(encrypted_session) -> None:  # type: ignore[no-untyped-def]
    from consentscope.profile import load_profile

    _, profile = encrypted_session
    scanner = Scanner(load_profile(str(profile)).scan_profile())
    assert scanner.scan(post(1, 0, "h.example", "/x", rand(400))).readability == "opaque"
    assert scanner.scan(post(1, 0, "h.example", f"/x?imei={IMEI}", b"")).readability == "readable"


# ----------------------------------------------------------------------------- an incomplete capture


def _har_entry(n: int, url: str, body: str) -> dict:
    return {"startedDateTime": f"2026-03-02T10:00:{n:02d}.000Z", "time": 1,
            "request": {"method": "POST", "url": url, "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "postData": {"mimeType": "application/json", "text": body}},
            "response": {"status": 200}}


def _clean_har(path: Path, extra: list | None = None) -> Path:
    entries = [
        _har_entry(1, "https://api.demoshop.com.cn/v1/config", '{"screen": "home"}'),
        _har_entry(2, "https://api.demoshop.com.cn/v1/privacy/consent", '{"agree": true}'),
        _har_entry(3, "https://api.demoshop.com.cn/v1/cart", '{"items": 2}'),
        *(extra or []),
    ]
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": entries}}))
    return path


def test_a_capture_with_entries_the_reader_skipped_is_no_proof_of_absence(encrypted_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Records the reader skipped reach the session's anomalies and the coverage's
    ``skipped``, and no category is "not seen" from such a capture."""
    _, profile = encrypted_session
    marker = ("--consent-marker", "/v1/privacy/consent")
    r, clean = replay(_clean_har(tmp_path / "clean.har"), profile, tmp_path / "clean.json", *marker)
    assert r.returncode == 0, r.stderr
    clean_status = {v["category"]: v["status"] for v in clean["verdicts"]}
    assert "not-seen" in clean_status.values() and clean["coverage"]["skipped"] == {}

    deep: dict = {"request": {"url": "https://x.example.net/"}}
    for _ in range(200):  # deeper than Limits.max_har_depth: skipped unread, its bound named
        deep = {"a": deep}
    har = _clean_har(tmp_path / "holed.har", [{"not": "an entry"}, deep])
    r, doc = replay(har, profile, tmp_path / "holed.json", *marker)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert doc["coverage"]["skipped"] == {"har-entry-malformed": 1, "har-entry-too-deep": 1}
    assert doc["sessions"][0]["anomalies"] == {"har-entry-malformed": 1, "har-entry-too-deep": 1}
    status = {v["category"]: v for v in doc["verdicts"]}
    for cat, s in clean_status.items():
        if s == "not-seen" and cat != "MIIT-6":
            assert status[cat]["status"] == "cannot-tell", cat
            assert "har-entry-too-deep: 1" in status[cat]["reason"] and "无法读取" in status[cat]["reason_zh"]
    assert "not read: har-entry-malformed 1, har-entry-too-deep 1" in r.stdout


def test_a_capture_that_ends_in_damage_is_no_proof_of_absence(encrypted_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, profile = encrypted_session
    text = _clean_har(tmp_path / "whole.har").read_bytes()
    cut = tmp_path / "cut.har"
    cut.write_bytes(text[: len(text) - 40])  # inside the last entry
    r, doc = replay(cut, profile, tmp_path / "cut.json", "--consent-marker", "/v1/privacy/consent")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert doc["sessions"][0]["requests"] == 2 and doc["sessions"][0]["errors"]
    status = {v["category"]: v for v in doc["verdicts"]}
    assert "not-seen" not in {s["status"] for c, s in status.items() if c != "MIIT-6"}
    assert any("end in damage" in s["reason"] for s in status.values())


def test_unscanned_parts_are_listed_in_the_coverage(tmp_path: Path) -> None:
    """A form of 30,000 fields passes the views limit (20,000): the request is truncated and
    the coverage names it with the part that went unscanned; the HTML report says so."""
    body = "&".join(f"k{i}=v{i}" for i in range(30_000)) + f"&imei={IMEI}"
    records = [post(1, 1, "api.demoshop.com.cn", "/v1/form", body.encode(), "application/x-www-form-urlencoded")]
    capture = tmp_path / "wide.mitm"
    write_records(records, capture)
    profile = tmp_path / "p.toml"
    profile.write_text(f'[app]\npackage = "com.demoshop"\nfirst_party_domains = ["demoshop.com.cn"]\n'
                       f'[device]\nimei = "{IMEI}"\n')
    html = tmp_path / "o.html"
    r, doc = replay(capture, profile, tmp_path / "o.json", "--html", str(html))
    assert r.returncode == 0, r.stderr
    cov = doc["coverage"]
    assert (cov["truncated"], cov["unscanned_requests"]) == (1, 1)
    [u] = cov["unscanned"]
    assert u["flow_id"] and u["url"] == "https://api.demoshop.com.cn/v1/form"
    assert u["part"].startswith("everything after body.form:k") and u["part"].endswith("(views-limit)")
    assert doc["sessions"][0]["coverage"]["unscanned"] == [u]
    page = html.read_text()
    assert 'class="unscanned-row"' in page and "(views-limit)" in page
    assert "1 scanned only in part" in r.stdout
