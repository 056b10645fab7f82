"""Decompression and size bombs in every container, read in a subprocess whose memory is
limited (``RLIMIT_AS``) and measured (peak RSS): each file below decompresses to hundreds
of MB or a GiB, and the reader must stay far below that, name what it skipped, and still
find the small items after the bomb (issue 16).

The bomb files are written streaming (``gzip.open`` & co. fed by a generator), so the test
process itself never holds one either.
"""

from __future__ import annotations

import functools
import gzip
import json
import lzma
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import dpkt
import pytest
import zstandard
from mitmproxy.test import tflow

from consentscope.detectors import DEFAULT_LIMITS
from consentscope.readers.httpdns import MAX_HTTPDNS_RESPONSE_BYTES, TOO_LARGE, httpdns_response_body

from .test_pcap import REQUEST, ether, tcp_packet

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Address space the reading subprocess may use: Python with mitmproxy imported maps about
#: 400 MB; a reader holding the bomb (or a quarter of it) dies with MemoryError.
ADDRESS_SPACE = 800 * MiB
#: Peak resident memory the reading subprocess may reach, far below every bomb's size.
PEAK_RSS = 300 * MiB

_CHILD = textwrap.dedent("""
    import json, resource, sys
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    def peak_rss():  # VmHWM: this process image's own peak (ru_maxrss counts the parent's before exec)
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    from consentscope.detectors import DEFAULT_LIMITS, Limits, RequestRecord
    from consentscope.readers import CaptureError, Contact
    from consentscope.readers._open import open_maybe_compressed
    from consentscope.readers.flowfile import iter_flowfile
    from consentscope.readers.har import iter_har
    from consentscope.readers.pcap import iter_pcap
    kind, path, limits = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    limits = Limits(**limits) if limits else DEFAULT_LIMITS
    anomalies = {}
    hosts, error = [], None
    try:
        if kind == "mitm":
            with open_maybe_compressed(path) as fo:
                items = iter_flowfile(path, fo, anomalies)
                for item in items:
                    hosts.append([type(item).__name__, item.host, getattr(item, "via", None)])
        else:
            read = iter_har if kind == "har" else iter_pcap
            for item in read(path, limits=limits, anomalies=anomalies):
                hosts.append([type(item).__name__, item.host, getattr(item, "via", None)])
    except CaptureError as e:
        error = [e.offset, str(e)]
    print(json.dumps({"hosts": hosts, "anomalies": anomalies, "error": error, "peak": peak_rss()}))
""")


def read_bounded(kind: str, path: Path, limits: dict[str, int] | None = None, peak: int = PEAK_RSS) -> dict[str, Any]:
    """Read ``path`` in a memory-limited subprocess; what it found (its peak RSS under ``peak``)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ADDRESS_SPACE), kind, str(path), json.dumps(limits or {})],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["peak"] < peak, f"peak RSS {result['peak'] / MiB:.0f} MiB"
    return result


def _writer(kind: str, path: Path) -> BinaryIO:
    if kind == "gzip":
        return gzip.open(path, "wb", compresslevel=1)  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "wb", preset=0)  # type: ignore[return-value]
    return zstandard.ZstdCompressor(level=1).stream_writer(path.open("wb"))  # type: ignore[return-value]


def write_compressed(kind: str, path: Path, chunks: Iterable[bytes]) -> None:
    """Stream ``chunks`` into a gzip/xz/zstd file (never all in memory)."""
    with _writer(kind, path) as fh:
        for chunk in chunks:
            fh.write(chunk)


def repeated(byte: bytes, n: int, piece: int = 4 * MiB) -> Iterator[bytes]:
    block = byte * piece
    while n > 0:
        yield block[: min(n, piece)]
        n -= piece


#: Decompressed size of each bomb: xz is slow to write (16 s per GiB), so smaller.
SIZES = {"gzip": GiB, "zstd": GiB, "xz": 384 * MiB}


# --- tnetstrings with a body too large to build in memory ---


class Big:
    """A bytes value of ``n`` repeated bytes, written in pieces."""

    def __init__(self, n: int) -> None:
        self.n = n


def _tn_payload_len(obj: object) -> int:
    return sum(len(c) if isinstance(c, bytes) else c.n for c in _tn_parts(obj, payload_only=True))


def _tn_parts(obj: object, payload_only: bool = False) -> Iterator[bytes | Big]:
    """mitmproxy's tnetstring encoding, yielding pieces (a ``Big`` stands for its bytes)."""
    if isinstance(obj, Big):
        payload: list[bytes | Big] = [obj]
        tag = b","
    elif isinstance(obj, dict):
        payload = [p for k, v in obj.items() for p in (*_tn_parts(k), *_tn_parts(v))]
        tag = b"}"
    elif isinstance(obj, list | tuple):
        payload = [p for v in obj for p in _tn_parts(v)]
        tag = b"]"
    elif isinstance(obj, bytes):
        payload, tag = [obj], b","
    elif isinstance(obj, str):
        payload, tag = [obj.encode()], b";"
    elif isinstance(obj, bool):
        payload, tag = [b"true" if obj else b"false"], b"!"
    elif isinstance(obj, int):
        payload, tag = [str(obj).encode()], b"#"
    elif isinstance(obj, float):
        payload, tag = [repr(obj).encode()], b"^"
    elif obj is None:
        payload, tag = [], b"~"
    else:
        raise TypeError(type(obj))
    if payload_only:
        yield from payload
        return
    size = sum(len(p) if isinstance(p, bytes) else p.n for p in payload)
    yield str(size).encode() + b":"
    yield from payload
    yield tag


def tnetstring_chunks(obj: object) -> Iterator[bytes]:
    for part in _tn_parts(obj):
        if isinstance(part, Big):
            yield from repeated(b"A", part.n)
        else:
            yield part


def flow_state(host: str, body: bytes | Big = b"") -> dict:
    f = tflow.tflow(resp=True)
    f.request.host = host
    f.request.path = "/log?imei=861234567890127"
    state = f.get_state()
    state["response"]["content"] = body
    return state


def test_the_tnetstring_writer_matches_mitmproxy() -> None:
    from mitmproxy.io import tnetstring

    state = flow_state("a.example.net", b"body")
    ours = b"".join(tnetstring_chunks(state))
    theirs = tnetstring.dumps(state)
    assert tnetstring.loads(ours) == tnetstring.loads(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_flow_file_with_a_huge_body_is_skipped_and_the_flows_after_it_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"bomb.mitm.{kind}"

    def flows() -> Iterator[bytes]:
        yield from tnetstring_chunks(flow_state("before.example.net"))
        yield from tnetstring_chunks(flow_state("bomb.example.net", Big(SIZES[kind])))
        for i in range(3):
            yield from tnetstring_chunks(flow_state(f"after{i}.example.net"))

    write_compressed(kind, path, flows())
    assert path.stat().st_size < 20 * MiB
    got = read_bounded("mitm", path)
    assert got["error"] is None
    assert [h[1] for h in got["hosts"]] == ["before.example.net", "after0.example.net", "after1.example.net",
                                            "after2.example.net"]
    assert got["anomalies"] == {"flow-too-large": 1}


def test_flow_file_cut_inside_a_huge_flow_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.mitm.gz"
    head = b"".join(tnetstring_chunks(flow_state("before.example.net")))
    big = tnetstring_chunks(flow_state("bomb.example.net", Big(256 * MiB)))
    budget = 128 * MiB  # the file ends half-way through the big flow

    def cut() -> Iterator[bytes]:
        nonlocal budget
        yield head
        for chunk in big:
            if budget <= 0:
                return
            yield chunk[:budget]
            budget -= len(chunk)

    write_compressed("gzip", path, cut())
    got = read_bounded("mitm", path)
    assert [h[1] for h in got["hosts"]] == ["before.example.net"]
    assert got["error"] is not None and got["error"][0] == len(head)
    assert "flow #2" in got["error"][1]


# --- HAR ---


def _har_entry(host: str, text: str | None = None) -> bytes:
    entry = {"startedDateTime": "2026-03-02T18:00:00.250+08:00",
             "request": {"method": "POST", "url": f"https://{host}/p?imei=861234567890127", "httpVersion": "HTTP/1.1",
                         "headers": [], "postData": {"mimeType": "text/plain", "text": text or "x"}},
             "response": {"status": 200, "content": {"text": ""}}}
    return json.dumps(entry).encode()


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_har_with_a_huge_entry_is_read_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"bomb.har.{kind}"
    big = _har_entry("bomb.example.net", "@@BODY@@")
    pre, post = big.split(b"@@BODY@@")

    def doc() -> Iterator[bytes]:
        yield b'{"log": {"version": "1.2", "creator": {"name": "t"}, "entries": ['
        yield _har_entry("before.example.net") + b","
        yield pre
        yield from repeated(b"A", SIZES[kind])
        yield post
        for i in range(3):
            yield b"," + _har_entry(f"after{i}.example.net")
        yield b"]}}"

    write_compressed(kind, path, doc())
    # an entry is held until it passes Limits.max_har_entry_bytes (256 MiB), then dropped:
    # memory follows that bound, not the 1 GiB in the file
    got = read_bounded("har", path, peak=DEFAULT_LIMITS.max_har_entry_bytes + 128 * MiB)
    hosts = [h[1] for h in got["hosts"] if h[0] == "RequestRecord"]
    assert hosts == ["before.example.net", "after0.example.net", "after1.example.net", "after2.example.net"]
    assert got["anomalies"] == {"har-entry-too-large": 1}  # over Limits.max_har_entry_bytes: skipped, named
    assert got["error"] is not None and "entry #2" in got["error"][1]  # and named at the end


# --- pcap ---

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_SEGMENT = 65000  # the most one IPv4 packet carries, so a GiB is 16,500 packets


def _record(frame: bytes, t: int) -> bytes:
    return struct.pack("<IIII", 1_772_445_600 + t, 0, len(frame), len(frame)) + frame


def _segment(seq: int, data: bytes, sport: int, flags: int = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH) -> bytes:
    return ether(tcp_packet(seq, data, flags=flags, sport=sport))


@functools.cache
def _bulk_template(sport: int) -> bytes:
    return _segment(1, b"A" * _SEGMENT, sport)


def _bulk(seq: int, sport: int) -> bytes:
    """A full segment of filler at ``seq``: one frame built by dpkt, its sequence number
    patched (the readers ignore checksums, as captures with offloading need)."""
    frame = bytearray(_bulk_template(sport))
    frame[38:42] = struct.pack(">I", seq & 0xFFFFFFFF)  # 14 Ethernet + 20 IPv4 + 4
    return bytes(frame)


def _small_requests(sports: Iterable[int], t: int) -> Iterator[bytes]:
    for sport in sports:
        request = REQUEST.replace(b"sdk.example.net", f"after{sport}.example.net".encode())
        yield _record(_segment(1, request, sport), t)
        yield _record(_segment(1 + len(request), b"", sport, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK), t)


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_pcap_with_a_huge_stream_is_read_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"bomb.pcap.{kind}"
    size = SIZES[kind]
    head = b"POST /upload HTTP/1.1\r\nHost: bomb.example.net\r\nContent-Length: %d\r\n\r\n" % size

    def packets() -> Iterator[bytes]:
        yield _PCAP_HEADER
        yield _record(_segment(1, head, 41000), 0)
        seq = 1 + len(head)
        for _ in range(size // _SEGMENT):
            yield _record(_bulk(seq, 41000), 1)
            seq += _SEGMENT
        yield _record(_segment(seq, b"", 41000, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK), 1)
        yield from _small_requests(range(42000, 42003), 2)

    write_compressed(kind, path, packets())
    got = read_bounded("pcap", path)
    assert got["error"] is None
    records = [h[1] for h in got["hosts"] if h[0] == "RequestRecord"]
    assert records == ["bomb.example.net", "after42000.example.net", "after42001.example.net", "after42002.example.net"]
    assert got["anomalies"] == {"tcp-stream-truncated": 1}  # kept up to Limits.max_stream_bytes, named


def test_many_parallel_tcp_streams_stay_within_the_open_stream_budget(tmp_path: Path) -> None:
    """400 directions open at once, each over ``max_stream_bytes``, 800 MB in all: the
    budget of bytes held across them (``max_open_stream_bytes``) assembles the least
    recently active early, so memory follows the budget, not the capture."""
    path = tmp_path / "parallel.pcap.gz"
    streams, per_stream = 400, 2 * MiB
    limits = {"max_stream_bytes": 1 * MiB, "max_open_stream_bytes": 32 * MiB}

    def packets() -> Iterator[bytes]:
        yield _PCAP_HEADER
        heads = {}
        for i in range(streams):
            heads[i] = (b"POST /u HTTP/1.1\r\nHost: s%d.example.net\r\nContent-Length: %d\r\n\r\n" % (i, per_stream))
            yield _record(_segment(1, heads[i], 20000 + i), 0)
        for k in range(per_stream // _SEGMENT):  # round-robin: every stream stays open to the end
            for i in range(streams):
                yield _record(_bulk(1 + len(heads[i]) + k * _SEGMENT, 20000 + i), 1)
        yield from _small_requests(range(42000, 42002), 2)

    write_compressed("gzip", path, packets())
    got = read_bounded("pcap", path, limits)
    assert got["error"] is None
    records = {h[1] for h in got["hosts"] if h[0] == "RequestRecord"}
    assert {f"s{i}.example.net" for i in range(streams)} <= records
    assert {"after42000.example.net", "after42001.example.net"} <= records
    # streams the budget assembles early are named, and so are those over max_stream_bytes
    assert set(got["anomalies"]) == {"tcp-stream-truncated", "tcp-open-bytes-limit"}


# --- HTTPDNS responses ---


_ANSWER = b'{"host":"a.example.net","ips":["203.0.113.7"],"ttl":60}'


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "gzip, br"])
def test_httpdns_answers_decode_in_every_encoding(encoding: str) -> None:
    import brotli

    pack = {"gzip": lambda b: gzip.compress(b), "deflate": zlib.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress}
    data = _ANSWER
    for coding in encoding.split(", "):
        data = pack[coding](data)
    assert httpdns_response_body(data, encoding) == (_ANSWER, None)


def test_httpdns_raw_deflate_and_unknown_encodings() -> None:
    c = zlib.compressobj(wbits=-15)
    raw = c.compress(_ANSWER) + c.flush()
    assert httpdns_response_body(raw, "deflate") == (_ANSWER, None)
    assert httpdns_response_body(_ANSWER, "x-custom") == (b"", "httpdns-response-undecodable")
    assert httpdns_response_body(b"not gzip at all", "gzip") == (b"", "httpdns-response-undecodable")
    assert httpdns_response_body(b"A" * (MAX_HTTPDNS_RESPONSE_BYTES + 1), None) == (b"", TOO_LARGE)


_HTTPDNS_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    def peak_rss():  # VmHWM: this process image's own peak (ru_maxrss counts the parent's before exec)
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    from consentscope.readers.httpdns import httpdns_response_body
    body = open(sys.argv[2], "rb").read()
    t = time.monotonic()
    out, anomaly = httpdns_response_body(body, sys.argv[3])
    print(json.dumps({"out": len(out), "anomaly": anomaly, "seconds": time.monotonic() - t, "peak": peak_rss()}))
""")


def compressed_bytes(encoding: str, chunks: Iterable[bytes]) -> bytes:
    """A small compressed body of a large stream, compressed piece by piece."""
    import brotli

    if encoding == "br":
        b = brotli.Compressor(quality=5)
        return b"".join([*(b.process(c) for c in chunks), b.finish()])
    c = zstandard.ZstdCompressor(level=19).compressobj() if encoding == "zstd" else zlib.compressobj(9, wbits=31)
    return b"".join([*(c.compress(d) for d in chunks), c.flush()])


#: Decoded size of each HTTPDNS bomb, whose compressed form fits the 64 KiB raw cap (gzip
#: tops out near 1000:1, so its bomb is 60 MiB; brotli and zstd reach a GiB in 2-33 KB).
_HTTPDNS_BOMB = {"gzip": 60 * MiB, "br": GiB, "zstd": GiB}


@pytest.mark.parametrize("encoding", sorted(_HTTPDNS_BOMB))
def test_httpdns_response_bomb_is_refused_in_bounded_memory(tmp_path: Path, encoding: str) -> None:
    bomb = compressed_bytes(encoding, repeated(b" ", _HTTPDNS_BOMB[encoding]))
    assert len(bomb) <= MAX_HTTPDNS_RESPONSE_BYTES  # decoded, not refused for its raw size
    path = tmp_path / "bomb.body"
    path.write_bytes(bomb)
    proc = subprocess.run([sys.executable, "-c", _HTTPDNS_CHILD, str(ADDRESS_SPACE), str(path), encoding],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert (got["out"], got["anomaly"]) == (0, "httpdns-response-too-large")
    assert got["peak"] < PEAK_RSS and got["seconds"] < 5


def test_httpdns_bomb_in_a_flow_file_names_the_anomaly(tmp_path: Path) -> None:
    """The flow file door: a 1 GiB gzip bomb as an HTTPDNS answer costs nothing and is named."""
    from mitmproxy import io

    zipped = tmp_path / "bomb.gz"
    write_compressed("gzip", zipped, repeated(b" ", 1 * GiB))
    bomb = zipped.read_bytes()
    good = tflow.tflow(resp=True)
    good.request.host, good.request.path = "203.0.113.53", "/d?dn=a.example.net"
    good.response.headers["content-encoding"] = "gzip"
    good.response.raw_content = gzip.compress(b"203.0.113.7;203.0.113.8,60")
    bad = tflow.tflow(resp=True)
    bad.request.host, bad.request.path = "203.0.113.53", "/d?dn=b.example.net"
    bad.response.headers["content-encoding"] = "gzip"
    bad.response.raw_content = bomb
    path = tmp_path / "httpdns.mitm"
    with path.open("wb") as fh:
        w = io.FlowWriter(fh)
        w.add(bad)
        w.add(good)
    got = read_bounded("mitm", path)
    assert got["error"] is None
    assert ["Contact", "a.example.net", "httpdns"] in got["hosts"]
    assert not any(h[1] == "b.example.net" for h in got["hosts"])
    assert got["anomalies"] == {"httpdns-response-too-large": 1}




def test_the_live_response_hook_refuses_an_httpdns_bomb(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The live door: the same bounded decoding, and the anomaly named in the log."""
    import logging
    import sqlite3

    from mitmproxy.test import taddons

    from consentscope.addons.live import ConsentScope

    profile = tmp_path / "p.toml"
    profile.write_text('[app]\npackage = "com.example.app"\n[device]\nimei = "861234567890127"\n')
    db = tmp_path / "live.db"
    flow = tflow.tflow(resp=True)
    flow.request.scheme, flow.request.host, flow.request.port = "http", "119.29.29.29", 80
    flow.request.path = "/d?dn=ulogs.umeng.com&ttl=1"
    flow.response.headers["content-encoding"] = "br"
    flow.response.raw_content = compressed_bytes("br", repeated(b" ", GiB))
    addon = ConsentScope()
    with caplog.at_level(logging.WARNING, logger="consentscope"), taddons.context(addon) as tctx:
        tctx.configure(addon, consentscope_profile=str(profile), consentscope_db=f"sqlite:///{db}",
                       consentscope_session="s")
        addon.request(flow)
        addon.response(flow)
        addon.done()
    assert addon.errors == 0
    assert "httpdns-response-too-large" in caplog.text
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from cs_contacts where via = 'httpdns'").fetchone() == (0,)
    con.close()
