"""The fast flow reader (tnetstring straight to records) against mitmproxy's FlowReader path:
the same items, field for field and in the same order, on every public flow file, the demo
capture and flows the installed mitmproxy writes; mitmproxy reads whatever the fast path
declines; hostile bytes end in records or one CaptureError."""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http, version
from mitmproxy.io import FlowWriter, tnetstring
from mitmproxy.test import tflow

from consentscope.detectors import RequestRecord
from consentscope.readers import CaptureError, Contact
from consentscope.readers import flowfile as ff
from consentscope.readers.flowfile import _length_prefix, _read_exact, fast_records, iter_flowfile

from .test_fuzz import mutated

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "captures-public" / "mitmproxy"
DEMO = ROOT / "captures" / "demo_session.mitm"


def read_both(path: str) -> tuple[tuple, tuple]:
    """(items, error, anomalies) through the fast path and through mitmproxy only."""

    def run(fast: bool) -> tuple:
        items: list = []
        anomalies: dict[str, int] = {}
        error = None
        try:
            for item in iter_flowfile(path, anomalies=anomalies, fast=fast):
                items.append(item)
        except CaptureError as e:
            error = (str(e), e.offset)
        return items, error, anomalies

    return run(True), run(False)


def fast_share(path: str) -> tuple[int, int]:
    """(flows the fast path read, flows) of a file."""
    done = total = 0
    with open(path, "rb") as fo:
        while (prefix := _length_prefix(fo)) is not None:
            record = _read_exact(fo, prefix[1] + 1, prefix[0])
            total += 1
            done += fast_records(record, len(prefix[0])) is not None
    return done, total


def assert_same(path: str) -> list:
    fast, slow = read_both(path)
    assert fast == slow
    for a, b in zip(fast[0], slow[0], strict=True):  # equal and of the same types, field by field
        assert type(a) is type(b)
        for f in dataclasses.fields(a):
            assert type(getattr(a, f.name)) is type(getattr(b, f.name)), f.name
    return fast[0]


@pytest.mark.skipif(not SHARED.is_dir(), reason="public captures not present (../shared/captures-public is "
                                                 "outside the repo)")
@pytest.mark.parametrize("name", sorted(p.name for p in SHARED.glob("*.mitm")) if SHARED.is_dir() else [])
def test_public_flow_files_read_alike(name: str) -> None:
    assert_same(str(SHARED / name))


@pytest.mark.skipif(not SHARED.is_dir(), reason="public captures not present")
def test_public_files_of_recent_versions_take_the_fast_path() -> None:
    """Files mitmproxy 10/11 wrote (format 20, 21) are read without it; older ones by it."""
    shares = {p.name: fast_share(str(p)) for p in SHARED.glob("*.mitm")}
    assert shares["flows_event_stream.mitm"] == (2, 2)
    assert shares["dumpfile-19.mitm"] == (1, 1)
    assert shares["dumpfile-7.mitm"] == (0, 2)
    assert sum(d for d, _ in shares.values()) >= 4


def test_demo_capture_reads_alike_all_fast() -> None:
    items = assert_same(str(DEMO))
    assert len(items) > 40
    done, total = fast_share(str(DEMO))
    assert done == total == 45


def _httpdns_flow() -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request.host, f.request.path = "119.29.29.29", "/d?dn=mi.gdt.qq.com&id=1"
    f.request.headers.clear()
    f.response.headers["content-encoding"] = "gzip"
    f.response.raw_content = gzip.compress(b"183.1.2.3;183.1.2.4,300", mtime=0)
    return f


def fresh_flows() -> list:
    """Flows of every shape the reader must handle, made by the installed mitmproxy."""
    flows: list = []
    plain = tflow.tflow(resp=True)
    plain.request.path = "/log?imei=861234567890127"
    flows.append(plain)
    flows.append(tflow.twebsocketflow())
    connect = tflow.tflow()
    connect.request.method = "CONNECT"
    connect.request.path = ""
    flows.append(connect)
    flows.append(tflow.tflow(resp=False))  # no response
    odd = tflow.tflow(resp=True)
    odd.request.headers.fields = ((b"Host", b"caf\xe9.example.net"), (b"X-Raw", b"\xff\xfe\x00bin"),
                                  (b"host", b"second.example.net"))
    odd.request.raw_content = b""  # empty body
    flows.append(odd)
    h2 = tflow.tflow(resp=True)
    h2.request.http_version = "HTTP/2.0"
    h2.request.authority = "api.example.net:8443"
    h2.request.headers.clear()
    h2.request.raw_content = b'{"oaid":"x"}'
    flows.append(h2)
    h2_no_authority = tflow.tflow(resp=True)
    h2_no_authority.request.http_version = "HTTP/2.0"
    h2_no_authority.request.authority = ""
    flows.append(h2_no_authority)
    none_body = tflow.tflow(resp=True)
    none_body.request.raw_content = None
    flows.append(none_body)
    flows.append(_httpdns_flow())
    bad_dns = _httpdns_flow()
    bad_dns.response.headers["content-encoding"] = "br"
    bad_dns.response.raw_content = b"not brotli at all"
    flows.append(bad_dns)
    v6 = tflow.tflow(resp=True)
    v6.server_conn.peername = ("2001:db8::7", 443, 0, 0)
    v6.client_conn.sni = None
    v6.request.headers.clear()
    flows.append(v6)
    no_peer = tflow.tflow(resp=True)
    no_peer.server_conn.peername = None
    flows.append(no_peer)
    flows.append(tflow.tflow(err=True))
    trailers = tflow.tflow(resp=True)
    trailers.request.trailers = http.Headers(((b"x-checksum", b"abc"),))
    flows.append(trailers)
    modified = tflow.tflow(resp=True)
    modified.backup()
    modified.request.path = "/changed"
    flows.append(modified)
    flows.append(tflow.ttcpflow())  # not HTTP: mitmproxy reads it, nothing comes of it
    return flows


def write(flows: list, path: Path) -> None:
    with path.open("wb") as fh:
        w = FlowWriter(fh)
        for f in flows:
            w.add(f)


def test_fresh_flows_read_alike_and_fast(tmp_path: Path) -> None:
    path = tmp_path / "fresh.mitm"
    flows = fresh_flows()
    write(flows, path)
    items = assert_same(str(path))
    kinds = {type(i).__name__ + ":" + getattr(i, "kind", getattr(i, "via", "")) for i in items}
    assert {"RequestRecord:http", "RequestRecord:websocket", "Contact:http-connect", "Contact:httpdns"} <= kinds
    h2 = next(i for i in items if isinstance(i, RequestRecord) and i.http_version == "HTTP/2.0" and i.body)
    assert h2.host == "api.example.net"
    assert any(isinstance(i, Contact) and i.host == "mi.gdt.qq.com" and i.ip == "183.1.2.3" for i in items)
    assert any(isinstance(i, RequestRecord) and i.server_ip == "2001:db8::7" for i in items)
    fast, slow = read_both(str(path))
    assert fast[2] == slow[2] == {"httpdns-response-undecodable": 1} == {"httpdns-response-undecodable": 1}
    done, total = fast_share(str(path))
    assert (done, total) == (len(flows) - 1, len(flows))  # all but the TCP flow


def test_key_sets_are_those_the_installed_mitmproxy_writes() -> None:
    """The fast path's idea of a flow's shape is the installed mitmproxy's (else every flow
    would quietly go the slow way, or a new field be missed)."""
    assert version.FLOW_FORMAT_VERSION in ff.FAST_VERSIONS
    state = tflow.twebsocketflow().get_state()
    state.pop("backup")
    enc = {k.encode() for k in state}
    assert enc == ff._FLOW_KEYS
    assert {k.encode() for k in state["request"]} == ff._REQUEST_KEYS
    assert {k.encode() for k in state["response"]} == ff._RESPONSE_KEYS
    assert set(state["websocket"]) == ff._WEBSOCKET_KEYS


def _record(state: dict) -> tuple[bytes, int]:
    data = tnetstring.dumps(state)
    return data, data.index(b":") + 1


def test_odd_flows_go_to_mitmproxy() -> None:
    """Anything not in the shape the fast path knows is declined (mitmproxy decides)."""
    base = tflow.tflow(resp=True).get_state()
    assert fast_records(*_record(base)) is not None
    cases = []
    for mutate in (
        lambda s: s.update(version=19),
        lambda s: s.update(type="tcp"),
        lambda s: s.update(extra=1),
        lambda s: s["request"].update(port="443"),
        lambda s: s["request"].update(method="GET"),  # text, not bytes
        lambda s: s["request"].pop("trailers"),
        lambda s: s["request"].update(headers=[[b"a", "b"]]),
        lambda s: s["request"].update(timestamp_start=None),
        lambda s: s["client_conn"].update(sni=5),
        lambda s: s["server_conn"].update(peername=[]),
        lambda s: s["server_conn"].pop("peername"),
        lambda s: s.update(client_conn=None),
        lambda s: s.update(websocket={"messages": [(1, True, b"x", 0, False, False)], "closed_by_client": None,
                                      "close_code": None, "close_reason": None, "timestamp_end": None}),
        lambda s: s.update(websocket={"messages": [(7, True, b"x", 1.0, False, False)], "closed_by_client": None,
                                      "close_code": None, "close_reason": None, "timestamp_end": None}),
    ):
        state = tflow.tflow(resp=True).get_state()
        mutate(state)
        cases.append(fast_records(*_record(state)))
    assert cases == [None] * len(cases)


def test_leniency_outside_the_fields_records_come_from(tmp_path: Path) -> None:
    """On purpose: a flow damaged only where no record reads (here its error) is read by the
    fast path, where mitmproxy refuses the whole file from that flow on."""
    state = tflow.tflow(resp=True).get_state()
    state["error"] = {"bogus": 1}
    path = tmp_path / "odd.mitm"
    path.write_bytes(tnetstring.dumps(state))
    fast, slow = read_both(str(path))
    assert [i.flow_id for i in fast[0]] == [state["id"]] and fast[1] is None
    assert slow[0] == [] and slow[1] is not None


@pytest.mark.parametrize("cut", [1, 10, 200, -2, -1])
def test_truncated_fast_flow_names_the_offset(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.mitm"
    write([tflow.tflow(resp=True), tflow.tflow(resp=True)], path)
    data = path.read_bytes()
    first = len(tnetstring.dumps(tnetstring.load(io.BytesIO(data))))
    path.write_bytes(data[: first + cut] if cut > 0 else data[:cut])
    fast, slow = read_both(str(path))
    assert fast == slow and len(fast[0]) == 1 and fast[1] is not None and fast[1][1] == first


FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seed() -> bytes:
    buf = io.BytesIO()
    w = FlowWriter(buf)
    for f in (tflow.tflow(resp=True), tflow.twebsocketflow(), _httpdns_flow()):
        f.id = "00000000-0000-4000-8000-000000000000"  # deterministic seed bytes
        f.timestamp_created = 1.0
        w.add(f)
    return buf.getvalue()


SEED = _seed()


@FUZZ
@given(mutated(SEED))
def test_fuzz_fast_reader_yields_items_or_one_capture_error(data: bytes) -> None:
    fd, path = tempfile.mkstemp(suffix=".mitm")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            for item in iter_flowfile(path):
                assert isinstance(item, RequestRecord | Contact)
        except CaptureError as e:
            assert e.path == path
    finally:
        os.unlink(path)


@FUZZ
@given(mutated(SEED), st.integers(0, 40))
def test_fuzz_fast_records_declines_or_reads(data: bytes, start: int) -> None:
    """The fast path alone never raises: items, or None (mitmproxy then reads the flow)."""
    got = fast_records(data, min(start, len(data)))
    assert got is None or all(isinstance(i, RequestRecord | Contact) for i in got)
