"""Same findings as the reference: the scan output of seeded corpora, one digest per request.

``tests/detectors/data/scan_equivalence.json`` holds the digests the implementation gave
before the speed work of issue 15 (pyahocorasick matcher, eager JSON paths). The test
(``tests/detectors/test_scan_equivalence.py``) and the benchmark (``bench_detect.py``,
its "same findings" column) both compare against it: findings in order with encoding
chains, locations, evidence and confidence, anomalies, truncation and readability.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from corpus import full_profile_toml, generate_corpus
from sdk_corpus import generate_sdk_corpus

from consentscope.detectors import RequestRecord, Scanner, ScanProfile, ScanResult
from consentscope.profile import load_profile

REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "detectors" / "data" / "scan_equivalence.json"
#: requests per corpus: every SDK shape many times over, and the typical mix's categories
SDK_N = 300
TYPICAL_N = 200


def full_scan_profile() -> ScanProfile:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.toml"
        path.write_text(full_profile_toml(), encoding="utf-8")
        return load_profile(path).scan_profile()


def corpora() -> dict[str, tuple[list[RequestRecord], bool]]:
    """Name -> (records, patterns on)."""
    sdk = generate_sdk_corpus(SDK_N)
    return {"sdk": (sdk, False), "sdk+patterns": (sdk, True), "typical": (generate_corpus(TYPICAL_N, seed=5), False)}


def result_json(res: ScanResult) -> str:
    """Everything a scan returns, in order, as one canonical text."""
    findings = [[f.data_type, list(f.encoding), f.location, f.evidence, f.detail, list(f.match), f.confidence]
                for f in res.findings]
    return json.dumps({"findings": findings, "anomalies": list(res.anomalies), "truncated": res.body_scan_truncated,
                       "readability": res.readability}, ensure_ascii=False, sort_keys=True)


def digest(res: ScanResult) -> str:
    return hashlib.sha256(result_json(res).encode()).hexdigest()[:20]


def scan_all(profile: ScanProfile | None = None, fast_automaton: bool = False,
             backend: str = "") -> dict[str, list[ScanResult]]:
    profile = profile or full_scan_profile()
    # the digests were written before the SDK adapters were on by default: compare without them
    scanners = {False: Scanner(profile, adapters=(), fast_automaton=fast_automaton, matcher_backend=backend),
                True: Scanner(profile, patterns=True, adapters=(), fast_automaton=fast_automaton,
                              matcher_backend=backend)}
    return {name: [scanners[patterns].scan(r) for r in records] for name, (records, patterns) in corpora().items()}


def differing(results: dict[str, list[ScanResult]]) -> dict[str, list[int]]:
    """Per corpus, the requests whose output differs from the reference's."""
    expected = json.loads(REFERENCE.read_text())
    out = {}
    for name, res in results.items():
        want = expected[name]
        got = [digest(r) for r in res]
        out[name] = [i for i in range(max(len(got), len(want))) if i >= len(got) or i >= len(want) or got[i] != want[i]]
    return out


def write_reference() -> None:
    """Only for an intended change of findings: say so in the commit."""
    REFERENCE.write_text(json.dumps({name: [digest(r) for r in res] for name, res in scan_all().items()}, indent=0)
                         + "\n")
