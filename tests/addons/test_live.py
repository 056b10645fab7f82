"""The addon in mitmproxy's test harness: options, hooks, commands, device page, storage."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from consentscope.addons.live import ConsentScope, _Tee, parse_domains, parse_regex

IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    p = tmp_path / "p.toml"
    p.write_text(
        f'[app]\npackage = "com.example.app"\nfirst_party_domains = ["example.com"]\n'
        f'[device]\nimei = "{IMEI}"\nandroid_id = "{ANDROID_ID}"\n'
    )
    return p


def flow(host: str, path: str, body: bytes = b"", t: float = 1_772_445_600.0):  # type: ignore[no-untyped-def]
    f = tflow.tflow()
    f.request.host = host
    f.request.headers["Host"] = host
    f.request.path = path
    f.request.content = body
    f.request.timestamp_start = t
    return f


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(("fn", "value", "ok"), [
    (parse_regex, "/v1/agree", True),
    (parse_regex, "([", False),
    (parse_domains, ["a.example.com, b.example.org"], True),
    (parse_domains, ["not a domain"], False),
])
def test_option_parsers(fn, value, ok) -> None:  # type: ignore[no-untyped-def]
    if ok:
        fn(value)
    else:
        with pytest.raises(ValueError):
            fn(value)


def test_bad_options_are_options_errors(profile: Path, tmp_path: Path) -> None:
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        bad = tmp_path / "bad.toml"
        bad.write_text("[device]\nimei = 1\n")
        with pytest.raises(exceptions.OptionsError, match=r"consentscope_profile: .*device\.imei"):
            tctx.configure(addon, consentscope_profile=str(bad))
        with pytest.raises(exceptions.OptionsError, match="consentscope_consent_marker"):
            tctx.configure(addon, consentscope_profile=str(profile), consentscope_consent_marker="([")
        with pytest.raises(exceptions.OptionsError, match="consentscope_max_body"):
            tctx.configure(addon, consentscope_profile=str(profile), consentscope_max_body=10)


def test_findings_phases_and_storage(profile: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}",
            consentscope_session="s1", consentscope_consent_marker=r"/privacy/agree",
        )
        md5 = hashlib.md5(IMEI.encode()).hexdigest()
        before = flow("ulogs.umeng.com", f"/log?d={md5}", t=100.0)
        agree = flow("api.example.com", "/privacy/agree", t=200.0)
        after = flow("api.example.com", "/v1/me", body=json.dumps({"aid": ANDROID_ID}).encode(), t=300.0)
        replayed = flow("ulogs.umeng.com", f"/log?i={IMEI}", t=400.0)
        replayed.live = False
        for f in (before, agree, after, replayed):
            addon.request(f)
        addon.done()
    assert addon.errors == 0 and addon.findings == 2
    assert addon.requests == 3  # the request without findings is reported too (batched as "done")
    assert db.stat().st_mode & 0o077 == 0
    got = rows(db, "select host, data_type, phase, party, encoding from cs_findings order by time")
    assert got == [
        ("ulogs.umeng.com", "imei", "before-consent", "third-party", '["md5"]'),
        ("api.example.com", "android_id", "after-consent", "first-party", '["json"]'),
    ]
    assert rows(db, "select event, source from cs_events") == [("consent", "marker")]
    assert rows(db, "select requests from cs_sessions where id='s1'") == [(3,)]
    # the session was judged when the proxy stopped: the IMEI went to Umeng before consent
    judged = rows(db, "select rule, \"check\", flows from cs_violations where session_id='s1'")
    assert ("MIIT-1.2", "before-consent", json.dumps([before.id])) in judged
    assert any(r[0] == "MIIT-3" and before.id in r[2] for r in judged)
    assert all(after.id not in r[2] for r in judged if r[0] in ("MIIT-1.2", "MIIT-3"))
    assert rows(db, "select judged is not null from cs_sessions where id='s1'") == [(1,)]


def test_device_page_and_command_marks(profile: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}", consentscope_session="s2"
        )
        page = flow("consentscope.invalid", "/")
        addon.request(page)
        assert page.response is not None and page.response.status_code == 200
        assert b"/consent" in page.response.content
        agree = flow("consentscope.invalid", "/consent", t=50.0)
        addon.request(agree)
        assert agree.response is not None and b"Recorded: consent" in agree.response.content
        tctx.command(addon.mark, "withdraw")
        with pytest.raises(exceptions.CommandError):
            tctx.command(addon.mark, "maybe")
        addon.done()
    events = rows(db, "select event, source from cs_events order by time")
    assert events == [("consent", "device"), ("withdrawal", "command")]


def test_new_session_from_device(profile: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}", consentscope_session="first"
        )
        addon.request(flow("consentscope.invalid", "/session/new?label=app2"))
        addon.request(flow("ulogs.umeng.com", f"/?i={IMEI}", t=10.0))
        addon.done()
    sessions = [r[0] for r in rows(db, "select id from cs_sessions order by created")]
    assert sessions[0] == "first" and sessions[1].endswith("-app2")
    assert rows(db, "select session_id from cs_findings") == [(sessions[1],)]
    # both sessions were judged as they ended; without a consent event nothing can be
    # called "before consent", so neither has a violation
    assert rows(db, "select count(*) from cs_sessions where judged is null") == [(0,)]
    assert rows(db, "select count(*) from cs_violations") == [(0,)]


def test_our_errors_never_reach_mitmproxy(profile: Path) -> None:
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentscope_profile=str(profile))
        f = flow("ulogs.umeng.com", "/")
        f.request = None  # type: ignore[assignment] - a broken flow object
        addon.request(f)  # must not raise
        addon.done()
    assert addon.errors == 1  # counted, logged, not raised


def test_tee_keeps_prefix_and_passes_everything() -> None:
    tee = _Tee(1024)
    chunks = [b"a" * 700, b"b" * 700, b""]
    assert [tee(c) for c in chunks] == chunks
    assert len(tee.buf) == 1024 and tee.overflow


def test_websocket_messages_from_the_client_are_scanned(profile: Path, tmp_path: Path) -> None:
    from mitmproxy import websocket

    db = tmp_path / "ws.db"
    addon = ConsentScope()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}",
                       consentscope_session="ws")
        f = tflow.twebsocketflow()
        f.request.host = "push.example.net"
        f.request.headers["Host"] = "push.example.net"
        f.websocket.messages.append(websocket.WebSocketMessage(1, True, json.dumps({"aid": ANDROID_ID}).encode()))
        addon.websocket_message(f)
        f.websocket.messages.append(websocket.WebSocketMessage(1, False, json.dumps({"aid": ANDROID_ID}).encode()))
        addon.websocket_message(f)  # from the server: not the phone's data
        addon.done()
    assert rows(db, "select host, data_type, method from cs_findings") == [("push.example.net", "android_id", "WS")]


def test_answers_read_together_are_shown_once(profile: Path, caplog: pytest.LogCaptureFixture) -> None:
    """On mitmproxy's event loop, the findings of the answers read in one go (one frame: one
    batch of requests) make one log record and one ``update`` for all their flows: mitmproxy
    hands every log record and every update to each of its addons in turn, and once per flow
    was a large part of what the addon cost the proxy. Every flow is still marked and
    commented, every line logged."""
    import asyncio
    import logging
    import time

    class Updates:
        def __init__(self) -> None:
            self.calls: list[list] = []

        def update(self, flows: list) -> None:
            self.calls.append(list(flows))

    addon, updates = ConsentScope(), Updates()
    flows = [flow("ulogs.umeng.com", f"/log?i={IMEI}&n={n}") for n in range(5)]
    quiet = flow("api.example.com", "/v1/nothing")

    async def run() -> None:
        with taddons.context(addon, updates) as tctx:
            tctx.configure(addon, consentscope_profile=str(profile))
            assert addon.runner is not None and addon.runner.answers_on_loop
            for f in [*flows, quiet]:  # one batch to the detector, so one frame of answers
                addon.request(f)
            deadline = time.monotonic() + 60
            while (addon.requests < 6 or addon._shown) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            addon.done()

    with caplog.at_level(logging.WARNING, logger="consentscope"):
        asyncio.run(run())
    assert addon.requests == 6 and addon.findings == 5 and addon.errors == 0
    shown = [r.getMessage() for r in caplog.records if r.name == "consentscope" and "imei" in r.getMessage()]
    assert len(shown) == 1
    assert [line.split(" ->")[0] for line in shown[0].splitlines()] == ["LEAK imei plain"] * 5
    assert updates.calls == [flows]
    for f in flows:
        assert f.marked == ":warning:" and f.comment == "consentscope: imei (before-consent)"
    assert not quiet.marked and not quiet.comment
