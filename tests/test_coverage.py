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
