"""The committed demo capture and the benchmark corpus are what their generators promise.

The demo session is committed so ``make demo`` needs no generation step; these tests make
sure the committed bytes still come from ``captures/make_demo.py`` (so a change to the
script cannot silently drift from the file), that the file reads back as the requests the
script meant to send, and that the truth file describes it. The benchmark corpus must be
the same on every run and have the size mix its docstring states, or benchmark numbers
from two runs could not be compared.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.version import VERSION

from consentscope.profile import DEVICE_KEYS, PERSON_KEYS, id_number_ok, load_profile, luhn_ok
from consentscope.readers.flowfile import iter_flowfile

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
sys.path[:0] = [str(CAPTURES), str(ROOT / "benchmarks")]

import corpus  # noqa: E402  (benchmarks/corpus.py)
import make_demo  # noqa: E402  (captures/make_demo.py)

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
VALUE_STEPS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3", "upper", "nosep", "cc+86", "scaled1e6"}
DECODE_STEPS = {"base64", "gzip", "json", "protobuf"}


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((CAPTURES / "demo_truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def flows() -> list[http.HTTPFlow]:
    with (CAPTURES / "demo_session.mitm").open("rb") as fh:
        return list(io.FlowReader(fh).stream())  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- demo capture


def test_make_demo_reproduces_the_committed_files(tmp_path: Path, truth: dict) -> None:
    if truth["mitmproxy"].split(".")[0] != VERSION.split(".")[0]:
        pytest.skip(f"demo_session.mitm was written by mitmproxy {truth['mitmproxy']}, this is {VERSION}: "
                    "the serialisation may differ between major versions")
    out = tmp_path / "demo.mitm"
    r = subprocess.run([sys.executable, str(CAPTURES / "make_demo.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (CAPTURES / "demo_session.mitm").read_bytes()
    assert (tmp_path / "demo_truth.json").read_bytes() == (CAPTURES / "demo_truth.json").read_bytes()


def test_capture_reads_back_as_the_requests_the_script_builds(truth: dict) -> None:
    """Independent of the mitmproxy version: the committed file holds the script's requests."""
    records, built_truth = make_demo.build(make_demo.session())
    assert list(iter_flowfile(str(CAPTURES / "demo_session.mitm"))) == records
    assert {k: v for k, v in built_truth.items() if k != "mitmproxy"} == {k: v for k, v in truth.items() if k != "mitmproxy"}


def test_flow_count_and_hosts_match_the_truth(flows: list[http.HTTPFlow], truth: dict) -> None:
    assert len(flows) == truth["flows"] == 45
    assert all(isinstance(f, http.HTTPFlow) for f in flows)
    assert Counter(f.request.pretty_host for f in flows) == Counter(truth["hosts"])
    assert len({f.id for f in flows}) == len(flows)
    by_id = {f.id: f for f in flows}
    for row in truth["findings"] + truth["must_not_match"]:
        assert by_id[row["flow_id"]].request.pretty_host == row["host"], row


def test_flows_are_complete_and_timed_like_a_cold_start(flows: list[http.HTTPFlow]) -> None:
    times = [f.request.timestamp_start for f in flows]
    assert times[0] == START and times == sorted(times)
    assert all(1.0 <= b - a <= 5.0 for a, b in itertools.pairwise(times))
    for f in flows:
        assert f.response is not None and f.response.status_code == 200
        assert json.loads(f.response.content or b"") == {"code": 0, "msg": "ok"}
        assert f.client_conn.peername is not None and f.server_conn.peername is not None
        assert f.request.headers["Host"] == f.request.pretty_host
        if not f.request.pretty_host.endswith("demoshop.com.cn"):
            assert f.request.headers["User-Agent"].startswith("Dalvik/2.1.0 (Linux; U; Android 12;")


def test_consent_marker_splits_the_session(flows: list[http.HTTPFlow], truth: dict) -> None:
    [consent] = [f for f in flows if truth["consent_marker"] in f.request.path]
    assert consent.id == truth["consent_flow_id"] and consent.request.method == "POST"
    assert json.loads(consent.request.content or b"")["agree"] is True
    at = consent.request.timestamp_start
    when = {f.id: f.request.timestamp_start for f in flows}
    phases = Counter(row["phase"] for row in truth["findings"])
    assert phases["before-consent"] >= 10 and phases["after-consent"] >= 8
    for row in truth["findings"]:
        assert row["phase"] == ("before-consent" if when[row["flow_id"]] < at else "after-consent"), row


def test_truth_rows_use_the_shared_vocabulary(truth: dict) -> None:
    profile_keys = set(DEVICE_KEYS) | set(PERSON_KEYS) | {"location", "installed_apps", "contacts"}
    for row in truth["findings"]:
        assert set(row) == {"flow_id", "host", "data_type", "encoding", "location", "phase"}
        assert row["data_type"] in profile_keys, row
        assert set(row["encoding"]) <= DECODE_STEPS | VALUE_STEPS, row
        assert "gzip" not in row["encoding"] or row["host"] != "api-access.pangolin-sdk-toutiao.com"  # transport
    # one finding per request for the list-like types
    per_flow = Counter((r["flow_id"], r["data_type"]) for r in truth["findings"])
    assert max(per_flow.values()) == 1
    types = {r["data_type"] for r in truth["findings"]}
    assert {"imei", "android_id", "mac", "oaid", "gaid", "phone_number", "email", "id_number", "serial", "bssid",
            "location", "installed_apps", "contacts"} <= types


def test_near_misses_are_in_the_capture(flows: list[http.HTTPFlow], truth: dict) -> None:
    """The values that must not match really are there, around the profile value."""
    profile = tomllib.loads((CAPTURES / "demo_profile.toml").read_text(encoding="utf-8"))
    by_id = {f.id: f for f in flows}
    assert {m["data_type"] for m in truth["must_not_match"]} == {"imei", "android_id"}
    for m in truth["must_not_match"]:
        value = profile["device"][m["data_type"]]
        assert value in m["value"] and len(m["value"]) > len(value)
        assert by_id[m["flow_id"]].request.query[m["location"].split(":", 1)[1]] == m["value"]
    imei = next(m["value"] for m in truth["must_not_match"] if m["data_type"] == "imei")
    assert imei.isdigit() and len(imei) == 20


def test_demo_profile_is_well_formed() -> None:
    profile = load_profile(CAPTURES / "demo_profile.toml")
    assert profile.warnings == ()
    raw = tomllib.loads((CAPTURES / "demo_profile.toml").read_text(encoding="utf-8"))
    dev, person = raw["device"], raw["person"]
    assert luhn_ok(dev["imei"]) and len(dev["imei"]) == 15
    assert id_number_ok(person["id_number"]) and person["id_number"].startswith("110105199")
    assert person["phone_number"][0] == "1" and person["phone_number"][1] in "3456789" and len(person["phone_number"]) == 11
    first_octet = int(dev["mac"].split(":")[0], 16)
    assert first_octet & 0b11 == 0  # globally administered, unicast: not a randomised MAC
    assert len(dev["android_id"]) == 16 and int(dev["android_id"], 16) >= 0
    assert profile.location is not None and profile.location.precision_m == 1000
    assert 39.4 < profile.location.latitude < 41.1 and 115.4 < profile.location.longitude < 117.5  # Beijing
    assert len(profile.installed_apps) == 8 and len(profile.contacts) == 3


# ----------------------------------------------------------------------------- benchmark corpus


def test_corpus_is_deterministic() -> None:
    first = corpus.generate_corpus(400, seed=5)
    assert corpus.generate_corpus(400, seed=5) == first
    assert corpus.generate_corpus(400, seed=6) != first


def test_corpus_has_the_promised_mix() -> None:
    n = 1000
    rows = corpus.generate_corpus_with_truth(n, seed=1)
    assert len(rows) == n
    limits = {name: (lo, hi) for name, _, lo, hi in corpus.MIX}
    counts = Counter(category for _, category, _ in rows)
    assert counts == {"api": 700, "sdk_batch": 200, "binary": 80, "large": 20}
    for record, category, _ in rows:
        lo, hi = limits[category]
        assert lo <= corpus.wire_size(record) <= hi, (category, corpus.wire_size(record))
    assert max(len(r.body) for r, _, _ in rows) <= 1024 * 1024
    assert sum(1 for _, _, planted in rows if planted) == n // 10
    batches = [dict(r.headers) for r, c, _ in rows if c == "sdk_batch"]
    assert any(h.get("Content-Encoding") == "gzip" for h in batches)
    assert any(h.get("Msg-Type") == "envelope/json" for h in batches)  # base64 of gzip, unlabelled
    assert all(r.host and r.headers[0] == ("Host", r.host) for r, _, _ in rows)


def test_full_profile_fills_every_key(tmp_path: Path) -> None:
    path = tmp_path / "full.toml"
    path.write_text(corpus.full_profile_toml(), encoding="utf-8")
    profile = load_profile(path)
    assert profile.warnings == ()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(raw["device"]) == set(DEVICE_KEYS) and set(raw["person"]) == set(PERSON_KEYS)
    assert set(raw["location"]) == {"latitude", "longitude", "precision_m"}
    assert raw["lists"]["installed_apps"] and raw["lists"]["contacts"] and raw["custom"]
    assert set(raw["app"]) == {"package", "name", "app_type", "first_party_domains"}


def test_corpus_as_a_flow_file_reads_back_unchanged(tmp_path: Path) -> None:
    records = corpus.generate_corpus(120, seed=3)
    path = tmp_path / "corpus.mitm"
    assert corpus.write_flow_file(records, path) == len(records)
    assert list(iter_flowfile(str(path))) == records
