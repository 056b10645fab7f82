"""Generated captures for batch tests and the batch benchmark: the same kind of session as
flow file, HAR and pcap, with a consent request in the middle, and a full profile.

Everything comes from ``benchmarks/corpus.py`` (seeded), so the same arguments give the same
bytes. Bodies are kept small (and without Content-Encoding, which HAR cannot carry), so a
session is a few hundred kilobytes and a batch of hundreds stays quick.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "benchmarks", ROOT / "captures"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from corpus import full_profile_toml, generate_corpus  # noqa: E402

from consentscope.detectors import RequestRecord  # noqa: E402

CONSENT_PATH = "/v1/privacy/consent"
CONSENT_MARKER = "/v1/privacy/consent"
MAX_BODY = 48 * 1024


def session_records(seed: int, n: int = 24, *, consent: bool = True) -> list[RequestRecord]:
    """``n`` requests of the corpus mix (small bodies, no Content-Encoding), with the consent
    request after two thirds of them."""
    picked = []
    for r in generate_corpus(n * 3, seed=seed):
        if len(r.body) <= MAX_BODY and not any(k.lower() == "content-encoding" for k, _ in r.headers):
            picked.append(r)
        if len(picked) == n:
            break
    t0 = picked[0].time
    picked = [replace(r, time=t0 + i * 0.5) for i, r in enumerate(picked)]
    if consent:
        at = 2 * len(picked) // 3
        host = "api.demoshop.com.cn"
        mark = RequestRecord(flow_id=f"consent-{seed}", time=picked[at].time - 0.25, method="POST", scheme="https",
                             host=host, port=443, path=CONSENT_PATH,
                             headers=(("Host", host), ("Content-Type", "application/json")), body=b'{"agree":1}',
                             sni=host, server_ip="198.51.100.10")
        picked.insert(at, mark)
    return picked


def write_flows(records: list[RequestRecord], path: Path) -> Path:
    from _flowbuild import write_records

    write_records(records, path)
    return path


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_har(records: list[RequestRecord], path: Path) -> Path:
    entries = []
    for r in records:
        req: dict = {"method": r.method, "url": f"{r.scheme}://{r.host}{r.path}", "httpVersion": r.http_version,
                     "headers": [{"name": k, "value": v} for k, v in r.headers]}
        if r.body:
            req["postData"] = {"mimeType": dict(r.headers).get("Content-Type", ""),
                               "text": base64.b64encode(r.body).decode(), "encoding": "base64"}
        entries.append({"_id": r.flow_id, "startedDateTime": _iso(r.time), "request": req, "response": {},
                        "serverIPAddress": r.server_ip})
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "batchkit"}, "entries": entries}}))
    return path


def write_pcap(records: list[RequestRecord], path: Path) -> Path:
    """Plain HTTP on port 80, one TCP connection per request, full-size segments."""
    import dpkt

    eth = b"\x04" * 6 + b"\x02" * 6 + b"\x08\x00"
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, r in enumerate(records):
            head = [f"{r.method} {r.path} HTTP/1.1", f"Host: {r.host}"]
            head += [f"{k}: {v}" for k, v in r.headers if k.lower() not in ("host", "content-length")]
            stream = ("\r\n".join([*head, f"Content-Length: {len(r.body)}"]) + "\r\n\r\n").encode() + r.body
            dst = socket.inet_aton(r.server_ip or "203.0.113.5")
            t = r.time
            for off in range(0, len(stream), 1448):
                last = off + 1448 >= len(stream)
                tcp = dpkt.tcp.TCP(sport=20000 + i, dport=80, seq=1 + off,
                                   flags=dpkt.tcp.TH_ACK | (dpkt.tcp.TH_FIN if last else 0),
                                   data=stream[off:off + 1448])
                ip = dpkt.ip.IP(src=socket.inet_aton("10.0.2.16"), dst=dst, p=6, data=tcp)
                ip.len = len(bytes(ip))
                frame = eth + bytes(ip)
                sec, usec = divmod(round(t * 1e6), 1_000_000)
                fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
                t += 0.0001
    return path


def write_profile(path: Path, package: str = "com.example.consentdemo") -> Path:
    text = full_profile_toml().replace('package = "com.example.consentdemo"', f'package = "{package}"')
    path.write_text(text)
    return path
