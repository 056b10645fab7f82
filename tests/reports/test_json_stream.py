"""The JSON report written in pieces (``iter_json``) is byte for byte what ``json.dumps`` of
the whole document gives: on the demo, on a hostile session (plain and redacted), on two
sessions at once, and for any JSON-like value (hypothesis)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import COMPILED
from consentscope.reports.json_report import _dumps, build_document, iter_json, render_json
from consentscope.session import judge
from tests.reports.sessions import hostile_session

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def reference(judgement, redacted: bool = False) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(build_document(judgement, redacted=redacted), ensure_ascii=False, indent=2) + "\n"


def test_hostile_session_plain_and_redacted() -> None:
    result, _ = hostile_session()
    judgement = judge([result])
    for redacted in (False, True):
        assert render_json(judgement, redacted=redacted) == reference(judgement, redacted)
    assert len(list(iter_json(judgement))) > 3  # in pieces, not one string


def test_two_sessions_and_an_empty_one() -> None:
    a, _ = hostile_session()
    b, _ = hostile_session()
    b.id = "second"
    empty, _ = hostile_session()
    empty.id, empty.findings, empty.contacts = "empty", [], []
    judgement = judge([a, b, empty])
    assert render_json(judgement) == reference(judgement)
    judgement = judge([empty])
    assert render_json(judgement) == reference(judgement)
    assert '"findings": []' in render_json(judgement)


def test_demo_replay_json_is_unchanged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from consentscope.cli import main

    out = tmp_path / "demo.json"
    main(["replay", str(CAPTURES / "demo_session.mitm"), "--profile", str(CAPTURES / "demo_profile.toml"),
          "--consent-marker", "/v1/privacy/consent", "--suppressions", str(CAPTURES / "demo_project.toml"),
          "--db", "", "--json", str(out), "-q"])
    text = out.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
    assert len(json.loads(text)["findings"]) > 10


_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
            | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\x00", "\x1f", "\x7f", '"', "\\",
                                                                                "\u2028", "\ud800"])))
_keys = st.text(max_size=5) | st.integers(-5, 5) | st.floats(allow_nan=False) | st.booleans() | st.none()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                       | st.dictionaries(_keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_values)
def test_dumps_is_json_dumps(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, indent=2)
    assert _dumps(value, 0) == expected
    nested = json.dumps({"k": [value]}, ensure_ascii=False, indent=2)
    assert _dumps({"k": [value]}, 0) == nested


def test_special_floats_and_refusals() -> None:
    for v in (math.inf, -math.inf, 1e16, 1e-7, -0.0):
        assert _dumps([v], 3) == json.dumps([v], indent=2).replace("\n", "\n" + "  " * 3)
    for bad in (object(), {(1, 2): 1}, b"bytes"):
        try:
            json.dumps(bad)
        except TypeError:
            pass
        else:  # pragma: no cover
            raise AssertionError
        try:
            _dumps(bad, 0)
        except TypeError:
            continue
        raise AssertionError(f"{bad!r} was rendered")


def test_many_findings_sharing_requests_across_chunks() -> None:
    """The findings array is written a request's shared keys once (``_finding_encoder``): still
    byte for byte json.dumps, over several chunks, with None and str-enum values, findings of
    one request at different destinations, and a value of another type in a finding's own keys."""
    from dataclasses import replace

    from consentscope.model import Phase
    from consentscope.reports import json_report

    result, _ = hostile_session()
    base = result.findings
    assert base
    many = []
    for i in range(json_report._CHUNK * 2 + 7):
        f = base[i % len(base)]
        many.append(replace(f, flow_id=f"f{i // 3}", time=f.time + i // 3, phase=Phase.AFTER_CONSENT if i % 2 else f.phase,
                            destination=base[(i // 2) % len(base)].destination,
                            finding=replace(f.finding, evidence=f"e{i}\n\"\u2028", location=f"{f.finding.location}{i % 5}",
                                            encoding=("base64", "md5")[: i % 3])))
    result.findings = many
    judgement = judge([result])
    assert render_json(judgement) == reference(judgement)
    assert render_json(judgement, redacted=True) == reference(judgement, redacted=True)
    if COMPILED:  # a compiled Finding refuses a field of another type when it is made
        with pytest.raises(TypeError):
            replace(many[5].finding, confidence=None)  # type: ignore[arg-type]
        return
    many[5] = replace(many[5], finding=replace(many[5].finding, confidence=None))  # type: ignore[arg-type]
    many[9] = replace(many[9], finding=replace(many[9].finding, evidence=7))  # type: ignore[arg-type]
    judgement = judge([result])
    assert render_json(judgement) == reference(judgement)
