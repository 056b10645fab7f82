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
    anomalies: dict[str, int] = {}
    with pytest.raises(CaptureError) as e:
        for item in iter_har(str(path), anomalies=anomalies):
            got.append(item)
    assert [r.host for r in got] == ["a.example.net", "c.example.net"]
    assert "entry #2 of 3" in str(e.value) and anomalies == {"har-entry-malformed": 1}


# ----------------------------------------------------------------------------- read as a stream


def _har_with_offsets(entries: list) -> tuple[bytes, list[tuple[int, int]]]:
    """A HAR document (pretty-printed, a BOM, members before and after the entries) and the
    (start, end) byte offsets of each entry in it."""
    head = b'\xef\xbb\xbf{"log": {\n  "version": "1.2",\n  "creator": {"name": "t", "version": "1"},\n  "entries": [\n'
    doc, spans = bytearray(head), []
    for i, e in enumerate(entries):
        text = json.dumps(e, indent=1).encode()
        spans.append((len(doc), len(doc) + len(text)))
        doc += text + (b",\n" if i < len(entries) - 1 else b"\n")
    doc += b'  ],\n  "pages": [{"id": "p1", "title": "caf\xc3\xa9"}]\n}}\n'
    return bytes(doc), spans


def _read_until_error(path: Path) -> tuple[list, CaptureError | None]:
    got: list = []
    try:
        for item in iter_har(str(path)):
            got.append(item)
    except CaptureError as e:
        return got, e
    return got, None


def test_truncated_at_every_byte_yields_exactly_the_complete_entries(tmp_path: Path) -> None:
    entries = [_entry(f"https://h{i}.example.net/p?q={i}", '{"k": "v\\"}"}' if i % 2 else None) for i in range(3)]
    doc, spans = _har_with_offsets(entries)
    whole = [r.host for r in iter_har(_write(tmp_path / "whole.har", doc))]
    assert whole == ["h0.example.net", "h1.example.net", "h2.example.net"]
    end_of_json = doc.rstrip().__len__()
    path = tmp_path / "cut.har"
    for cut in range(len(doc)):
        path.write_bytes(doc[:cut])
        got, error = _read_until_error(path)
        complete = [i for i, (_, end) in enumerate(spans) if end <= cut]
        assert [r.host for r in got] == [whole[i] for i in complete], cut
        if cut >= end_of_json:
            assert error is None, cut
            continue
        assert error is not None and error.path == str(path) and error.offset is not None, cut
        assert error.offset <= max(cut, 3), cut
        inside = [start for start, end in spans if start <= cut < end]
        if inside:  # cut inside an entry: the error names where that entry starts
            assert error.offset == inside[0] and "truncated in entry" in error.message, cut


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_memory_does_not_follow_the_file_size(tmp_path: Path) -> None:
    """A 24 MB HAR is read holding about one 1 MiB chunk (the whole-file json.load held
    twice the file and reserved a 2 GiB read buffer)."""
    import tracemalloc

    entry = _entry("https://sdk.example.net/v1/log?imei=861234567890127", '{"pad": "' + "x" * 3000 + '"}')
    entry["response"] = {"status": 200, "content": {"text": "y" * 8000, "size": 8000}}
    doc, _ = _har_with_offsets([entry] * 2000)
    path = _write(tmp_path / "big.har", doc)
    assert len(doc) > 20_000_000
    tracemalloc.start()
    try:
        n = sum(1 for _ in iter_har(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 2000
    assert peak < 6 * 1024 * 1024, peak


@pytest.mark.parametrize(("bad", "why"), [
    ({"deep": json.loads("[" * 100 + "]" * 100)}, "nested deeper than 64 levels"),
    ({"n": 10 ** 200}, "a number or literal longer than 100 characters"),
    ({"big": "z" * 5000}, "larger than 4096 bytes"),
])
def test_an_entry_breaking_a_bound_is_skipped_alone(tmp_path: Path, bad: dict, why: str) -> None:
    from consentscope.detectors import Limits

    entries = [_entry("https://a.example.net/"), {**_entry("https://b.example.net/"), **bad}, _entry("https://c.example.net/")]
    doc, spans = _har_with_offsets(entries)
    got = []
    with pytest.raises(CaptureError) as e:
        for item in iter_har(_write(tmp_path / "b.har", doc), limits=Limits(max_har_entry_bytes=4096)):
            got.append(item)
    assert [r.host for r in got] == ["a.example.net", "c.example.net"]
    assert f"entry #2 of 3 is malformed ({why})" in e.value.message and e.value.offset == spans[1][0]


@pytest.mark.parametrize(("doc", "message"), [
    (b'{"log": {"entries": [', "truncated in entry #1"),
    (b'{"log": {"entries": []}} x', "Extra data"),
    (b'[1, 2]', 'no top-level "log" object'),
    (b'{"log": {"entries": {"a": 1}}}', '"log.entries" is not a list'),
    (b'{"log": {"entries": [], "pages": [1 2]}}', "Expecting ',' delimiter"),
    (b'{"log": {"entries": [{"a": 1} {"b": 2}]}}', "Expecting ',' delimiter"),
])
def test_broken_documents_are_named(tmp_path: Path, doc: bytes, message: str) -> None:
    with pytest.raises(CaptureError) as e:
        list(iter_har(_write(tmp_path / "x.har", doc)))
    assert message in e.value.message and e.value.offset is not None


def test_zlib_har_is_inflated_as_it_is_read(tmp_path: Path) -> None:
    import zlib

    doc, _ = _har_with_offsets([_entry(f"https://z{i}.example.net/") for i in range(50)])
    data = zlib.compress(doc)
    assert [r.host for r in iter_har(_write(tmp_path / "a.zhar", data))] == [f"z{i}.example.net" for i in range(50)]
    got, error = _read_until_error(Path(_write(tmp_path / "cut.zhar", data[: len(data) * 3 // 4])))
    assert error is not None and 0 < len(got) < 50
