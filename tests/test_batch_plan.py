"""Planning a batch: inputs, manifests (CSV and JSON), sidecars, and task keys that change
exactly when something that changes a result changes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from consentscope.batch import BatchError, Defaults, Task, TaskOutcome, plan, run_task
from tests import batchkit as kit


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "caps" / "deep").mkdir(parents=True)
    kit.write_flows(kit.session_records(seed=3, n=6), tmp_path / "caps" / "a.mitm")
    kit.write_har(kit.session_records(seed=4, n=6), tmp_path / "caps" / "deep" / "b.har")
    (tmp_path / "caps" / "notes.txt").write_text("not a capture")
    kit.write_profile(tmp_path / "p.toml")
    return tmp_path


def _plan(folder: Path, *inputs: str, **kw: object) -> list[Task]:
    return plan([str(folder / i) for i in inputs] or [str(folder / "caps")],
                Defaults(profile=str(folder / "p.toml"), **kw))  # type: ignore[arg-type]


def test_folder_is_walked_recursively_in_order_and_globs_match(folder: Path) -> None:
    tasks = _plan(folder)
    assert [Path(t.capture).name for t in tasks] == ["a.mitm", "b.har"]
    assert [Path(t.capture).name for t in _plan(folder, "caps/**/*.har")] == ["b.har"]
    assert all(len(t.key) == 64 and len(t.sha256) == 64 for t in tasks)
    assert tasks[0].session_id.startswith("a-") and tasks[1].session_id.startswith("b-")


def test_the_key_changes_with_every_input_that_changes_the_result(folder: Path) -> None:
    key = _plan(folder)[0].key
    assert _plan(folder)[0].key == key  # deterministic
    assert _plan(folder, consent_marker="/x")[0].key != key
    assert _plan(folder, depth=2)[0].key != key
    with (folder / "p.toml").open("a") as fh:  # the profile's last table is [custom]
        fh.write('another_id = "value123"\n')
    assert _plan(folder)[0].key != key  # the profile's contents
    key = _plan(folder)[0].key
    (folder / "caps" / "a.mitm.toml").write_text('[audit]\nkeylog = "keys.txt"\n')
    with_keylog = _plan(folder)[0].key
    assert with_keylog != key
    (folder / "caps" / "keys.txt").write_text("CLIENT_RANDOM 00 11\n")
    assert _plan(folder)[0].key != with_keylog  # the keylog's contents, though nothing reads it yet
    key = _plan(folder)[0].key
    with (folder / "caps" / "a.mitm").open("ab") as fh:
        fh.write(b"\0")
    assert _plan(folder)[0].key != key  # the capture's contents


def test_json_manifest_and_sidecar_precedence(folder: Path) -> None:
    kit.write_profile(folder / "other.toml", package="com.example.other")
    (folder / "caps" / "a.mitm.toml").write_text('[audit]\nprofile = "../other.toml"\nlabel = "from sidecar"\n'
                                                 'consent_marker = "/from-sidecar"\n')
    (folder / "m.json").write_text(json.dumps([{"capture": "caps/a.mitm", "label": "from manifest"},
                                               {"capture": "caps/deep/b.har", "app_package": "com.x"}]))
    a, b = plan([str(folder / "m.json")], Defaults(profile=str(folder / "p.toml"), consent_marker="/cli"))
    assert (a.label, a.consent_marker, Path(a.profile or "").name) == ("from manifest", "/from-sidecar", "other.toml")
    assert (b.app_package, b.consent_marker, Path(b.profile or "").name) == ("com.x", "/cli", "p.toml")
    assert a.shown == str(folder / "caps" / "a.mitm")
    (folder / "caps" / "a.mitm.toml").write_text('[audit]\ncolour = "red"\n')
    with pytest.raises(BatchError, match=r"a\.mitm\.toml: audit\.colour: unknown key"):
        plan([str(folder / "m.json")], Defaults())
    (folder / "m.json").write_text(json.dumps([{"label": "no capture"}]))
    with pytest.raises(BatchError, match=r"m\.json item 1: capture: empty"):
        plan([str(folder / "m.json")], Defaults())


def test_a_task_and_its_outcome_cross_process_boundaries(folder: Path) -> None:
    (task,) = _plan(folder, "caps/a.mitm", consent_marker=kit.CONSENT_MARKER)
    assert pickle.loads(pickle.dumps(task)) == task
    outcome = run_task(task)
    assert outcome.status == "ok" and outcome.result is not None and outcome.judgement is not None
    back = pickle.loads(pickle.dumps(outcome))
    assert isinstance(back, TaskOutcome)
    assert [f.finding for f in back.result.findings] == [f.finding for f in outcome.result.findings]  # type: ignore[union-attr]
    assert [v.rule for v in back.judgement.verdicts[0].violations] == \
        [v.rule for v in outcome.judgement.verdicts[0].violations]  # type: ignore[union-attr]


def test_csv_rows_are_named_by_row_and_line(folder: Path) -> None:
    manifest = folder / "m.csv"
    manifest.write_text('capture,label,consent_at\ncaps/a.mitm,"two\nlines",\ncaps/deep/b.har,,soon\n')
    with pytest.raises(BatchError, match=r"m\.csv row 3 \(line 4\): consent_at: expected an ISO 8601 time"):
        plan([str(manifest)], Defaults())
    manifest.write_text('capture,label\ncaps/a.mitm,"two\nlines"\n')
    (task,) = plan([str(manifest)], Defaults())
    assert task.label == "two\nlines"
