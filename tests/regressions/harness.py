"""The one input check ``make fuzz`` runs and ``test_regressions`` replays.

An input is a target byte and the bytes for that target: a capture file (flow file, HAR,
pcap, pcapng, any of them gzip/xz/zstd compressed), a request for
``consentscope.detectors.decode_request``, or an HTTPDNS response body. The invariant for
every door: items of the two kinds, then the end or one ``CaptureError`` naming the file;
and what a capture gave goes through the whole sequence (audit, judge, JSON report written
as UTF-8). Anything else raised is a crash (a bug), and the fuzzer keeps the input that
raised it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from consentscope.detectors import RequestRecord, decode_request
from consentscope.readers import CaptureError, Contact
from consentscope.readers.capture import read_capture
from consentscope.readers.flowfile import iter_flowfile
from consentscope.readers.httpdns import httpdns_response_body

#: Target byte values (the first byte of an input, modulo their number).
FLOW, CAPTURE, DECODE, HTTPDNS = range(4)
TARGETS = 4

_ENCODINGS = ("", "gzip", "deflate", "br", "zstd", "identity", "gzip, br", "x-unknown")
_CTYPES = ("application/json", "application/x-www-form-urlencoded", "application/x-protobuf",
           "application/grpc", "multipart/form-data; boundary=b", "text/plain", "application/octet-stream", "")

_scratch: str | None = None


def _file(data: bytes) -> str:
    """A scratch file holding ``data`` (one per process, rewritten for each input)."""
    global _scratch
    if _scratch is None:
        fd, _scratch = tempfile.mkstemp(prefix="consentscope-fuzz-", suffix=".capture")
        os.close(fd)
    with open(_scratch, "wb") as fh:
        fh.write(data)
    return _scratch


def _drain(path: str, items: Iterator[object]) -> int:
    n = 0
    try:
        for item in items:
            assert isinstance(item, RequestRecord | Contact), type(item)
            n += 1
    except CaptureError as e:
        assert e.path == path, (e.path, path)
    return n


_audit_kit: tuple[object, object] | None = None


def _report(path: str) -> None:
    """The whole sequence on what a door read: audit, judge, and the JSON report written as
    UTF-8 (text the capture made up, such as bytes that are no UTF-8, must reach it)."""
    global _audit_kit
    from consentscope.detectors import Identifier, Scanner
    from consentscope.profile import Profile
    from consentscope.reports.json_report import iter_json
    from consentscope.session import audit_capture, judge

    if _audit_kit is None:
        profile = Profile(path="fuzz", identifiers=(Identifier("imei", "861234567890127"),))
        _audit_kit = (profile, Scanner(profile.scan_profile(), max_chain_depth=1))
    profile, scanner = _audit_kit
    result = audit_capture(path, "fuzz", profile, scanner)  # type: ignore[arg-type]
    "".join(iter_json(judge([result], profile))).encode("utf-8")  # type: ignore[arg-type]


def check(data: bytes) -> None:
    """Run one input; returns normally when the invariant holds, raises otherwise."""
    if not data:
        return
    target, rest = data[0] % TARGETS, data[1:]
    if target == FLOW:
        path = _file(rest)
        if _drain(path, iter_flowfile(path)):
            _report(path)
    elif target == CAPTURE:
        path = _file(rest)
        if _drain(path, read_capture(path)):
            _report(path)
    elif target == DECODE:
        encoding = _ENCODINGS[rest[0] % len(_ENCODINGS)] if rest else ""
        ctype = _CTYPES[rest[1] % len(_CTYPES)] if len(rest) > 1 else ""
        body = rest[2:]
        cut = body.find(b"\n")
        query, body = (body[:cut], body[cut + 1 :]) if 0 <= cut < 512 else (b"", body)
        headers = [("Content-Type", ctype)] if ctype else []
        if encoding:
            headers.append(("Content-Encoding", encoding))
        record = RequestRecord(
            flow_id="fuzz", time=0.0, method="POST", scheme="https", host="fuzz.example.net", port=443,
            path="/p?" + query.decode("latin-1"), headers=tuple(headers), body=body,
        )
        decode_request(record)
    else:
        encoding = _ENCODINGS[rest[0] % len(_ENCODINGS)] if rest else ""
        body, anomaly = httpdns_response_body(rest[1:], encoding)
        assert anomaly is None or body == b""


def cleanup() -> None:
    if _scratch is not None and os.path.exists(_scratch):
        os.unlink(_scratch)
