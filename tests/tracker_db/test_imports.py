"""Importing lists we cannot ship, in each list's real shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from consentscope.tracker_db import DataError, TrackerDB, import_file, parse_document

EXODUS = {
    "trackers": {
        "1": {"id": 1, "name": "Teemo", "code_signature": "com.databerries.|com.geolocstation.",
              "network_signature": "databerries\\.com|geolocstation\\.com",
              "website": "https://www.teemo.co", "categories": ["Advertisement", "Location"],
              "documentation": [], "creation_date": "2017-09-24"},
        "27": {"id": 27, "name": "Google Firebase Analytics",
               "code_signature": "com.google.firebase.analytics.",
               "network_signature": "firebase\\.com|app-measurement\\.com",
               "website": "https://firebase.google.com/", "categories": ["Analytics"]},
        "99": {"id": 99, "name": "Odd", "code_signature": "x.",
               "network_signature": "^[a-z]+\\.odd-(cdn|api)\\.net$", "categories": []},
        "100": {"id": 100, "name": "No network", "code_signature": "y.",
                "network_signature": "", "categories": ["Analytics"]},
    }
}

RADAR = {
    "domain": "adnxs-simple.example",
    "owner": {"name": "Example Ads, Inc.", "displayName": "Example Ads",
              "privacyPolicy": "https://example.org/privacy", "url": "https://example.org"},
    "source": ["DuckDuckGo"], "prevalence": 0.01, "sites": 900, "subdomains": ["ib", "acdn"],
    "cnames": [], "fingerprinting": 1, "resources": [],
    "categories": ["Ad Motivated Tracking", "Advertising"], "performance": {}, "cookies": 0.0,
    "types": {}, "nameservers": [],
}

APP_TDS = {
    "version": "2024.1",
    "trackers": {
        "adcolony.example": {"owner": {"name": "AdColony Inc", "displayName": "AdColony"},
                             "default": "block", "categories": ["Advertising"]},
        "umeng.com": {"owner": {"name": "Alibaba", "displayName": "Alibaba"},
                      "default": "block", "categories": ["Analytics"]},
        "ulogs.umeng.com": {"owner": {"name": "Alibaba", "displayName": "Alibaba"},
                            "default": "block", "categories": ["Analytics"]},
    },
    "entities": {"AdColony Inc": {"properties": ["adcolony.example"], "displayName": "AdColony"}},
    "packageNames": {"com.example.app": "Example"},
}

DISCONNECT = {
    "license": "Copyright 2010-2020 Disconnect, Inc. ... CC BY-NC-SA 4.0",
    "categories": {
        "Advertising": [
            {"33Across": {"http://33across.com/": ["33across.example", "tynt.example"]}}
        ],
        "Social": [{"Example Social": {"https://social.example/": ["social.example"],
                                       "dnt": "eff"}}],
        "FingerprintingInvasive": [{"Fp Co": {"https://fp.example/": ["fp.example"]}}],
    },
}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONSENTSCOPE_DATA_DIR", str(tmp_path / "data"))
    TrackerDB.reset_default()
    yield tmp_path / "data"
    TrackerDB.reset_default()


def _write(tmp_path: Path, name: str, doc: object) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def test_parse_exodus() -> None:
    rules, skipped = parse_document("exodus", EXODUS)
    got = {r.pattern: (r.sdk, r.category, r.source) for r in rules}
    assert got["databerries.com"] == (
        "Teemo", "advertising", "https://reports.exodus-privacy.eu.org/en/trackers/1/"
    )
    assert got["app-measurement.com"][1] == "analytics"
    # A real regular expression (its "|" inside a group is not a split) becomes one regex
    # rule with an example host it matches; an empty signature is skipped.
    [odd] = [r for r in rules if r.kind == "regex"]
    assert (odd.pattern, odd.example, odd.sdk) == (r"[a-z]+\.odd-(cdn|api)\.net", "a.odd-cdn.net", "Odd")
    assert skipped == 1
    assert all(r.licence == "ODbL-1.0" and r.dataset == "exodus" for r in rules)


@pytest.mark.parametrize(("signature", "kept"), [
    (r"api[0-9]*\.track\.example", {("regex", r"(?:[a-z0-9_-]+\.)*api[0-9]*\.track\.example", "api0.track.example")}),
    (r".*\.crashlytics\.com", {("suffix", "crashlytics.com", "")}),
    (r"(a+)+\.redos\.example", set()),  # a quantified group could backtrack for long: refused
    (r"ads(?=x)\.example", set()),  # look-arounds are outside the safe subset
    (r"[^.]+\.example", set()),  # so are negated classes
    ("[a-z]" * 100 + r"\.example", set()),  # longer than any real signature
])
def test_exodus_regexes_are_taken_only_when_safe(signature: str, kept: set) -> None:
    doc = {"trackers": {"5": {"id": 5, "name": "T", "network_signature": signature, "categories": []}}}
    rules, skipped = parse_document("exodus", doc)
    assert {(r.kind, r.pattern, r.example) for r in rules} == kept
    assert skipped == (0 if kept else 1)


def test_imported_regex_rules_name_hosts(tmp_path: Path, data_dir: Path) -> None:
    import_file(_write(tmp_path, "e.json", EXODUS), "exodus")
    m = TrackerDB.default().lookup("edge.odd-api.net")
    assert m is not None and m.sdk == "Odd" and m.dataset == "exodus"
    assert TrackerDB.default().lookup("odd-api.net.attacker.example") is None  # the whole host must match


def test_parse_tracker_radar() -> None:
    rules, _ = parse_document("ddg-tracker-radar", RADAR)
    assert [(r.pattern, r.sdk, r.vendor, r.category) for r in rules] == [
        ("adnxs-simple.example", "Example Ads", "Example Ads, Inc.", "advertising")
    ]


def test_parse_disconnect() -> None:
    rules, _ = parse_document("disconnect", DISCONNECT)
    got = {r.pattern: (r.sdk, r.category) for r in rules}
    assert got == {
        "33across.example": ("33Across", "advertising"),
        "tynt.example": ("33Across", "advertising"),
        "social.example": ("Example Social", "social/login"),
        "fp.example": ("Fp Co", "anti-fraud/device-fingerprint"),
    }


@pytest.mark.parametrize(
    ("fmt", "doc"),
    [("exodus", {"nope": 1}), ("ddg-tracker-radar", []), ("ddg-app-trackers", {"trackers": []}),
     ("disconnect", {"categories": None})],
)
def test_wrong_shape_is_refused(fmt: str, doc: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_document(fmt, doc)


def test_import_app_trackers_our_rows_win(tmp_path: Path, data_dir: Path) -> None:
    res = import_file(_write(tmp_path, "android-tds.json", APP_TDS), "ddg-app-trackers")
    assert (res.written, res.shadowed) == (1, 2)  # umeng.com and ulogs.umeng.com are ours
    with res.path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["pattern"] == "adcolony.example"
    assert rows[0]["licence"] == "CC-BY-NC-SA-4.0"
    assert (data_dir / "trackers" / "ddg-app-trackers.licence").read_text().strip() == (
        "CC-BY-NC-SA-4.0"
    )
    db = TrackerDB.default()
    m = db.lookup("x.adcolony.example")
    assert m is not None and (m.dataset, m.licence, m.sdk) == (
        "ddg-app-trackers", "CC-BY-NC-SA-4.0", "AdColony"
    )
    u = db.lookup("ulogs.umeng.com")
    assert u is not None and u.dataset == "consentscope"


def test_import_directory_of_radar_files(tmp_path: Path, data_dir: Path) -> None:
    d = tmp_path / "domains" / "US"
    d.mkdir(parents=True)
    _write(d, "a.json", RADAR)
    _write(d, "b.json", {**RADAR, "domain": "other-tracker.example", "categories": ["SSO"]})
    res = import_file(tmp_path / "domains", "ddg-tracker-radar")
    assert res.written == 2
    m = TrackerDB.default().lookup("other-tracker.example")
    assert m is not None and m.category == "social/login"


def test_reimport_replaces(tmp_path: Path, data_dir: Path) -> None:
    import_file(_write(tmp_path, "e.json", EXODUS), "exodus")
    small = {"trackers": {"1": EXODUS["trackers"]["1"]}}
    res = import_file(_write(tmp_path, "e.json", small), "exodus")
    assert res.written == 2
    assert TrackerDB.default().lookup("app-measurement.com").dataset == "consentscope"


def test_bad_json_names_file(tmp_path: Path, data_dir: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    with pytest.raises(DataError, match=r"broken\.json: not JSON"):
        import_file(p, "exodus")
    with pytest.raises(DataError, match=r"broken2\.json: not an Exodus"):
        import_file(_write(tmp_path, "broken2.json", {"x": 1}), "exodus")
