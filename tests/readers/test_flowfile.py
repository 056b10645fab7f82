"""mitmproxy flow files: every version mitmproxy reads loads; damage keeps what was complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from consentscope.detectors import RequestRecord
from consentscope.readers import CaptureError, Contact
from consentscope.readers.flowfile import iter_flowfile

SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures-public" / "mitmproxy"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="public captures not present (../shared/captures-public is outside the repo)"
)

IMEI = "861234567890127"


@needs_shared
@pytest.mark.parametrize("name", sorted(p.name for p in SHARED.glob("*.mitm")) if SHARED.is_dir() else [])
def test_public_flow_files(name: str) -> None:
    inventory = json.loads((SHARED.parent / "inventory.json").read_text())
    row = next(r for r in inventory if r["file"] == f"mitmproxy/{name}")
    path = str(SHARED / name)
    if "cannot read" in row.get("mitmproxy_11_0_2", ""):
        with pytest.raises(CaptureError) as e:
            list(iter_flowfile(path))
        assert e.value.path == path and e.value.offset == 0
        return
    items = list(iter_flowfile(path))
    records = [i for i in items if isinstance(i, RequestRecord) and i.kind == "http"]
    assert len(records) == row["http_requests"]
    hosts = {r.host for r in records}
    assert hosts == set(row["hosts"])


def make_flows(n: int) -> list:
    flows = []
    for i in range(n):
        f = tflow.tflow(resp=True)
        f.request.host = f"sdk{i}.example.net"
        f.request.path = f"/log?imei={IMEI}&i={i}"
        f.request.timestamp_start = 1_772_445_600.0 + i
        flows.append(f)
    return flows


def write_flows(path: Path, flows: list) -> list[int]:
    """Write flows, returning the byte offset after each."""
    ends = []
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        for f in flows:
            w.add(f)
            fh.flush()
            ends.append(fh.tell())
    return ends


def test_truncated_file_yields_complete_flows_then_names_offset(tmp_path: Path) -> None:
    path = tmp_path / "cut.mitm"
    ends = write_flows(path, make_flows(4))
    data = path.read_bytes()
    for cut in (ends[2] + 1, ends[2] + 50, ends[3] - 1):
        path.write_bytes(data[:cut])
        got: list = []
        with pytest.raises(CaptureError) as e:
            for item in iter_flowfile(str(path)):
                got.append(item)
        assert [r.host for r in got] == ["sdk0.example.net", "sdk1.example.net", "sdk2.example.net"]
        assert e.value.offset == ends[2]
        assert str(path) in str(e.value) and f"at byte {ends[2]}" in str(e.value)


def test_garbage_file_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mitm"
    path.write_bytes(b"12:not a flow at all,")
    with pytest.raises(CaptureError) as e:
        list(iter_flowfile(str(path)))
    assert e.value.offset == 0


def test_connect_and_websocket_become_items(tmp_path: Path) -> None:
    ws = tflow.twebsocketflow()
    items = []
    from consentscope.readers.flowfile import flow_to_records

    items = flow_to_records(ws)
    assert isinstance(items[0], RequestRecord)
    client_msgs = [m for m in ws.websocket.messages if m.from_client]
    assert [i.kind for i in items[1:]] == ["websocket"] * len(client_msgs)
    connect = tflow.tflow()
    connect.request.method = "CONNECT"
    assert isinstance(flow_to_records(connect)[0], Contact)


def test_cli_replay_of_truncated_capture_keeps_findings(tmp_path: Path) -> None:
    path = tmp_path / "cut.mitm"
    ends = write_flows(path, make_flows(3))
    path.write_bytes(path.read_bytes()[: ends[1] + 10])
    profile = tmp_path / "p.toml"
    profile.write_text(f'[device]\nimei = "{IMEI}"\n')
    out = tmp_path / "out.json"
    r = subprocess.run(
        [sys.executable, "-m", "consentscope", "replay", str(path), "--profile", str(profile),
         "--json", str(out), "--db", "", "-q"],
        capture_output=True, text=True,
    )
    assert r.returncode == 2
    assert f"{path} at byte {ends[1]}" in r.stderr
    assert "Traceback" not in r.stderr
    doc = json.loads(out.read_text())
    assert [f["host"] for f in doc["findings"]] == ["sdk0.example.net", "sdk1.example.net"]
    assert doc["sessions"][0]["errors"] and str(path) in doc["sessions"][0]["errors"][0]


# --- flows too large to hand to mitmproxy (issue 16) ---


def _read(path: Path, **kw: object) -> tuple[list, CaptureError | None]:
    got: list = []
    try:
        for item in iter_flowfile(str(path), **kw):  # type: ignore[arg-type]
            got.append(item)
    except CaptureError as e:
        return got, e
    return got, None


def test_a_flow_over_the_limit_is_skipped_and_named(tmp_path: Path) -> None:
    from consentscope.readers.flowfile import FLOW_TOO_LARGE

    flows = make_flows(4)
    flows[1].request.content = b"x" * 200_000
    path = tmp_path / "big.mitm"
    write_flows(path, flows)
    anomalies: dict[str, int] = {}
    got, error = _read(path, anomalies=anomalies, max_flow_bytes=100_000)
    assert error is None
    assert [r.host for r in got] == ["sdk0.example.net", "sdk2.example.net", "sdk3.example.net"]
    assert anomalies == {FLOW_TOO_LARGE: 1}
    got, error = _read(path)  # the default (64 MiB) keeps it
    assert error is None and len(got) == 4


def test_a_file_cut_inside_a_skipped_flow_names_its_start(tmp_path: Path) -> None:
    flows = make_flows(3)
    flows[1].request.content = b"x" * 200_000
    path = tmp_path / "cut.mitm"
    ends = write_flows(path, flows)
    path.write_bytes(path.read_bytes()[: ends[0] + 150_000])
    anomalies: dict[str, int] = {}
    got, error = _read(path, anomalies=anomalies, max_flow_bytes=100_000)
    assert [r.host for r in got] == ["sdk0.example.net"]
    assert error is not None and error.offset == ends[0] and "flow #2" in str(error)
    assert anomalies == {}  # not counted: the flow was never whole


@pytest.mark.parametrize("tail", [b"", b"12", b"123", b"1234567890123:", b"x", b"12x:", b":"])
def test_damage_in_a_length_prefix_keeps_the_flows_before(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "tail.mitm"
    ends = write_flows(path, make_flows(2))
    path.write_bytes(path.read_bytes() + tail)
    got, error = _read(path)
    assert [r.host for r in got] == ["sdk0.example.net", "sdk1.example.net"]
    if tail:
        assert error is not None and error.offset == ends[1]
    else:
        assert error is None


def test_damage_in_a_compressed_flow_file_names_the_flow(tmp_path: Path) -> None:
    import gzip

    from consentscope.readers._open import open_maybe_compressed

    plain = tmp_path / "f.mitm"
    ends = write_flows(plain, make_flows(3))
    packed = bytearray(gzip.compress(plain.read_bytes(), mtime=0))
    packed[len(packed) // 2 :] = b"\x00" * (len(packed) - len(packed) // 2)  # the deflate stream breaks
    path = tmp_path / "f.mitm.gz"
    path.write_bytes(bytes(packed))
    got: list = []
    with pytest.raises(CaptureError) as e, open_maybe_compressed(str(path)) as fo:
        for item in iter_flowfile(str(path), fo):
            got.append(item)
    assert e.value.offset in [0, *ends] and e.value.offset == (ends[len(got) - 1] if got else 0)
    assert e.value.path == str(path)


def test_an_httpdns_answer_in_a_flow_file_is_decoded_bounded(tmp_path: Path) -> None:
    import gzip

    from consentscope.readers.flowfile import flow_to_records

    f = tflow.tflow(resp=True)
    f.request.host, f.request.path = "203.0.113.53", "/d?dn=a.example.net"
    f.response.headers["content-encoding"] = "gzip"
    f.response.raw_content = gzip.compress(b"203.0.113.7,60")
    contacts = [i for i in flow_to_records(f) if isinstance(i, Contact) and i.via == "httpdns"]
    assert [(c.host, c.ip) for c in contacts] == [("a.example.net", "203.0.113.7")]
    f.response.raw_content = gzip.compress(b" " * 10_000_000)  # 10 KB of gzip, 10 MB of text
    anomalies: dict[str, int] = {}
    assert [i for i in flow_to_records(f, anomalies=anomalies) if isinstance(i, Contact)] == []
    assert anomalies == {"httpdns-response-too-large": 1}
