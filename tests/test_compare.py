"""``consentscope compare``: a session and its "fixed" version (the before-consent requests
dropped, one new leak added) give fixed, persisting and new as expected, from session JSONs,
from two batch summaries and from a database; ``--fail-on-new`` is the CI gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentscope.compare import CHANGE_KEYS, COMPARE_FORMAT_VERSION
from consentscope.detectors import RequestRecord
from tests import batchkit as kit
from tests.batch_fixture import cli, load

pytestmark = pytest.mark.slow

NEW_HOST = "collect.new-tracker.example"
IMEI = "861234567890127"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("compare")
    records = kit.session_records(seed=12)
    consent_at = next(r.time for r in records if r.path == kit.CONSENT_PATH)
    fixed = [r for r in records if r.time >= consent_at]
    fixed.append(RequestRecord(flow_id="new-leak", time=fixed[-1].time + 1, method="GET", scheme="https",
                               host=NEW_HOST, port=443, path=f"/c?imei={IMEI}", headers=(("Host", NEW_HOST),)))
    (root / "old").mkdir()
    (root / "new").mkdir()
    old = kit.write_flows(records, root / "old" / "app_v1.mitm")  # session ids app_v1 and app_v2
    new = kit.write_flows(fixed, root / "new" / "app_v2.mitm")
    profile = kit.write_profile(root / "profile.toml")
    db = f"sqlite:///{root / 'c.db'}"
    for name, capture in (("old", old), ("new", new)):
        r = cli("replay", str(capture), "--profile", str(profile), "--consent-marker", kit.CONSENT_MARKER,
                "--json", str(root / f"{name}.json"), "--db", db, "-q")
        assert r.returncode == 0, r.stderr
    return {"root": root, "old": load(root / "old.json"), "new": load(root / "new.json"), "profile": profile,
            "db": db}


def test_fixed_persisting_and_new(pair: dict) -> None:
    root = pair["root"]
    r = cli("compare", str(root / "old.json"), str(root / "new.json"), "--json", str(root / "c.json"),
            "--html", str(root / "c.html"))
    assert r.returncode == 0, r.stderr
    doc = load(root / "c.json")
    assert doc["version"] == COMPARE_FORMAT_VERSION and doc["old"].endswith("old.json")
    assert all(tuple(c) == CHANGE_KEYS for c in doc["changes"])
    status = {(c["kind"], c["rule"], c["sdk"], c["data_type"], c["phase"]): c["status"] for c in doc["changes"]}
    old, new = pair["old"], pair["new"]
    before = {(f["sdk"], f["data_type"]) for f in old["findings"] if f["phase"] == "before-consent"}
    after = {(f["sdk"], f["data_type"]) for f in old["findings"] if f["phase"] == "after-consent"}
    assert before and after
    for sdk, t in before:
        assert status[("finding", None, sdk, t, "before-consent")] == "fixed"
    for sdk, t in after:
        assert status[("finding", None, sdk, t, "after-consent")] == "persisting"
    assert status[("finding", None, None, "imei", "after-consent")] == "new"
    new_rows = [c for c in doc["changes"] if c["status"] == "new" and c["kind"] == "finding"]
    assert [(c["host"], c["data_type"]) for c in new_rows] == [(NEW_HOST, "imei")]
    # the before-consent rule is fixed for every SDK it named; nothing before consent is left
    assert "MIIT-1.2" in {v["rule"] for v in old["violations"]}
    assert "MIIT-1.2" not in {v["rule"] for v in new["violations"]}
    miit12 = [c for c in doc["changes"] if c["rule"] == "MIIT-1.2"]
    assert miit12 and {c["status"] for c in miit12} == {"fixed"}
    assert {(c["sdk"], c["data_type"]) for c in miit12} == before
    html = (root / "c.html").read_text()
    assert NEW_HOST in html and "fixed" in html
    # the CI gate
    r = cli("compare", str(root / "old.json"), str(root / "new.json"), "--fail-on-new", "-q")
    assert r.returncode == 1 and "new" in r.stderr
    r = cli("compare", str(root / "new.json"), str(root / "new.json"), "--fail-on-new", "--json", str(root / "s.json"))
    assert r.returncode == 0
    assert {c["status"] for c in load(root / "s.json")["changes"]} == {"persisting"}


def test_summaries_and_database_compare_as_the_session_reports(pair: dict) -> None:
    root = pair["root"]
    r = cli("compare", str(root / "old.json"), str(root / "new.json"), "--json", str(root / "c0.json"))
    assert r.returncode == 0
    want = load(root / "c0.json")["changes"]
    for name in ("old", "new"):
        r = cli("audit", str(root / name), "--out", str(root / f"batch-{name}"), "--profile", str(pair["profile"]),
                "--consent-marker", kit.CONSENT_MARKER, "--workers", "1", "-q")
        assert r.returncode == 0, r.stderr
    r = cli("compare", str(root / "batch-old" / "summary.json"), str(root / "batch-new" / "summary.json"),
            "--json", str(root / "c1.json"))
    assert r.returncode == 0, r.stderr
    assert load(root / "c1.json")["changes"] == want
    r = cli("compare", "app_v1", "app_v2", "--db", pair["db"], "--json", str(root / "c2.json"))
    assert r.returncode == 0, r.stderr
    assert load(root / "c2.json")["changes"] == want
    r = cli("compare", "app_v1", "nope", "--db", pair["db"])
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr


def test_bad_sides_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    r = cli("compare", str(tmp_path / "x.json"), str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "neither a session report" in r.stderr and "Traceback" not in r.stderr
    r = cli("compare", str(tmp_path / "missing.json"), str(tmp_path / "x.json"))
    assert r.returncode == 2 and "missing.json: cannot read" in r.stderr


def _doc(app: str, *findings: tuple[str, str, str]) -> dict:
    """A session report reduced to what comparing reads: its app and its findings."""
    return {"sessions": [{"id": app, "app": app}], "violations": [],
            "findings": [{"flow_id": f"{app}-{i}", "host": h, "sdk": s, "data_type": t, "phase": "before-consent"}
                         for i, (h, s, t) in enumerate(findings)]}


def test_batches_are_paired_app_by_app() -> None:
    """Two apps sending the same thing to the same SDK: one fixed it, the other did not; an
    app left out of the re-test is not-retested, never fixed; a new app is all new."""
    from consentscope.compare import compare

    leak = ("ulogs.umeng.com", "Umeng", "imei")
    old = [_doc("com.a", leak), _doc("com.b", leak), _doc("com.c", leak)]
    new = [_doc("com.a"), _doc("com.b", leak), _doc("com.d", leak)]
    doc = compare(old, new)
    assert doc["version"] == COMPARE_FORMAT_VERSION == 2
    assert [(c["app"], c["status"]) for c in doc["changes"]] == [
        ("com.a", "fixed"), ("com.b", "persisting"), ("com.c", "not-retested"), ("com.d", "new")]
    # merged, as version 1 did, com.b's persisting leak would have hidden com.a's fix
    two = compare([_doc("com.a", leak)], [_doc("com.a-v2")])  # two single sessions: compared with each other
    assert [(c["app"], c["status"]) for c in two["changes"]] == [("com.a-v2", "fixed")]
