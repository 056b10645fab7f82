"""HAR from browsers, proxies and tools: every public file loads; damage is named."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from consentscope.detectors import RequestRecord
from consentscope.readers import CaptureError
from consentscope.readers.capture import read_capture
from consentscope.readers.har import iter_har

SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures-public"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="public captures not present (../shared/captures-public is outside the repo)"
)
HARS = sorted(p.name for p in (SHARED / "mitmproxy").glob("*har")) if SHARED.is_dir() else []


@needs_shared
@pytest.mark.parametrize("name", HARS)
def test_public_har_files(name: str) -> None:
    row = next(r for r in json.loads((SHARED / "inventory.json").read_text()) if r["file"] == f"mitmproxy/{name}")
    path = str(SHARED / "mitmproxy" / name)
    if "error" in row:
        with pytest.raises(CaptureError) as e:
            list(read_capture(path))
        assert e.value.path == path and e.value.offset is not None and "line 5" in str(e.value)
        return
    records = [i for i in read_capture(path) if isinstance(i, RequestRecord)]
    assert len(records) == row["http_requests"]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.host] = counts.get(r.host, 0) + 1
    assert counts == row["hosts"]


@needs_shared
def test_har_and_flow_file_of_the_same_session_agree() -> None:
    base = SHARED / "mitmproxy"
    har = [r for r in read_capture(str(base / "flows_successful_log.har")) if isinstance(r, RequestRecord)]
    mitm = [r for r in read_capture(str(base / "flows_successful_log.mitm")) if isinstance(r, RequestRecord)]
    assert [(r.method, r.host, r.path) for r in har] == [(r.method, r.host, r.path) for r in mitm]


def _har(entries: list) -> bytes:
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": entries}}).encode()


def _entry(url: str, body: str | None = None, **post: str) -> dict:
    req: dict = {"method": "POST" if body is not None else "GET", "url": url, "httpVersion": "HTTP/2",
                 "headers": [{"name": ":authority", "value": "x"}, {"name": "Content-Encoding", "value": "gzip"},
                             {"name": "User-Agent", "value": "okhttp"}]}
    if body is not None:
        req["postData"] = {"mimeType": "application/json", "text": body, **post}
    return {"startedDateTime": "2026-03-02T18:00:00.250+08:00", "request": req, "response": {}}


def test_bodies_times_and_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.har.gz"
    path.write_bytes(gzip.compress(_har([
        _entry("https://sdk.example.net:8443/v1/log?imei=861234567890127", '{"a":1}'),
        _entry("https://sdk.example.net/b", "eyJhIjoxfQ==", encoding="base64"),
    ])))
    a, b = list(read_capture(str(path)))
    assert isinstance(a, RequestRecord) and isinstance(b, RequestRecord)
    assert (a.host, a.port, a.path, a.body) == ("sdk.example.net", 8443, "/v1/log?imei=861234567890127", b'{"a":1}')
    assert a.time == 1_772_445_600.25  # 18:00:00.250 +08:00 = 10:00:00.250Z
    assert [h for h, _ in a.headers] == ["User-Agent"]  # pseudo headers and Content-Encoding dropped
    assert b.body == b'{"a":1}'


def test_malformed_entry_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "b.har"
    path.write_bytes(_har([_entry("https://a.example.net/"), {"request": {}}, _entry("https://c.example.net/")]))
    got = []
    with pytest.raises(CaptureError) as e:
        for item in iter_har(str(path)):
            got.append(item)
    assert [r.host for r in got] == ["a.example.net", "c.example.net"]
    assert "entry #2 of 3" in str(e.value)
