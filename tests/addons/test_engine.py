"""The detector side of the live addon (addons/engine.py): the typed protocol, the Engine in
the order requests arrive, and a real detector process behind a Runner."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest

from consentscope.addons.engine import (
    Done,
    Engine,
    EngineConfig,
    Failure,
    Items,
    Log,
    Mark,
    NewSession,
    Result,
    Runner,
    Stop,
    Stopped,
)
from consentscope.detectors import RequestRecord
from consentscope.profile import load_profile
from tests.waiting import wait_for

IMEI = "861234567890127"
T0 = 1_772_445_600.0


@pytest.fixture
def config(tmp_path: Path) -> EngineConfig:
    p = tmp_path / "p.toml"
    p.write_text(f'[app]\npackage = "com.example.app"\n[device]\nimei = "{IMEI}"\n')
    return EngineConfig(profile=load_profile(str(p)), session="s1")


def req(n: int, path: str, t: float = 0.0) -> RequestRecord:
    return RequestRecord(f"f{n}", T0 + t, "GET", "https", "ulogs.umeng.com", 443, path)


def test_messages_pickle_across_the_process_boundary(config: EngineConfig) -> None:
    for msg in (Items("f", (req(1, "/a"),)), Mark(T0, "consent", "d", "device"), NewSession("s2"), Stop(),
                Result("f", ("LEAK",), "imei"), Done(("a", "b")), Log(20, "x"), Failure("x"), Stopped(1, 2, 3),
                config):
        assert pickle.loads(pickle.dumps(msg)) == msg


def test_engine_answers_in_order(config: EngineConfig) -> None:
    out: list = []
    engine = Engine(config, out.append)
    engine.handle(Items("f1", (req(1, f"/a?imei={IMEI}"),)))
    engine.handle(Items("f2", (req(2, "/nothing"),)))
    engine.handle(Mark(T0 + 5, "consent", "tap", "device"))
    engine.handle(Items("f3", (req(3, f"/b?imei={IMEI}", 6),)))
    engine.flush()
    results = [m for m in out if isinstance(m, Result)]
    assert [r.flow_id for r in results] == ["f1", "f3"]
    assert results[0].comment == "imei (before-consent)" and results[1].comment == "imei (after-consent)"
    assert any(isinstance(m, Done) and m.flow_ids == ("f2",) for m in out)
    assert any(isinstance(m, Log) and "consent recorded" in m.text for m in out)
    assert engine.stop() == Stopped(3, 2, 0)


def test_a_new_session_starts_a_new_timeline(config: EngineConfig) -> None:
    out: list = []
    engine = Engine(config, out.append)
    engine.handle(Mark(T0, "consent", "", "device"))
    engine.handle(NewSession("s2"))
    engine.handle(Items("f1", (req(1, f"/a?imei={IMEI}", 10),)))
    [result] = [m for m in out if isinstance(m, Result)]
    assert result.comment == "imei (before-consent)"  # the consent belonged to s1


def test_a_detector_process_stores_and_judges_the_session(tmp_path: Path, config: EngineConfig) -> None:
    db = tmp_path / "live.db"
    cfg = EngineConfig(profile=config.profile, session="s1", db_url=f"sqlite:///{db}")
    seen: list = []
    runner = Runner(cfg, seen.append, mode="process")
    runner.send(Items("f1", (req(1, f"/a?imei={IMEI}"),)))
    runner.send(Mark(T0 + 5, "consent", "tap", "device"))  # the request was before it: MIIT-1.2
    wait_for(lambda: any(isinstance(m, Result) for m in seen), "the detector's answer")
    stats = runner.close()
    assert stats == Stopped(1, 1, 0)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT data_type, phase FROM cs_findings").fetchall() == [("imei", "before-consent")]
        assert conn.execute("SELECT judged IS NOT NULL FROM cs_sessions").fetchone() == (1,)
        assert "MIIT-1.2" in {r for (r,) in conn.execute("SELECT rule FROM cs_violations")}
    assert not any(isinstance(m, Failure) for m in seen)
