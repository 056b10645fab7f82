"""Speed work must not change what is found: the full scan output (findings in order, with
encoding chains, locations, evidence and confidence; anomalies; truncation; readability)
on two seeded corpora equals what the reference implementation gave.

The reference is stored as one digest per request (``data/scan_equivalence.json``),
written by the implementation before the speed work (pyahocorasick matcher, eager JSON
paths). Regenerate it only for an intended change of findings, and say so in the commit:
``python tests/detectors/test_scan_equivalence.py --write``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest

from consentscope.detectors import Scanner, ScanResult
from consentscope.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).resolve().parent / "data" / "scan_equivalence.json"
#: requests per corpus: every SDK shape many times over, and the typical mix's categories
SDK_N = 300
TYPICAL_N = 200


def _corpora() -> dict[str, list]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus import full_profile_toml, generate_corpus
        from sdk_corpus import generate_sdk_corpus
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.toml"
        path.write_text(full_profile_toml(), encoding="utf-8")
        profile = load_profile(path).scan_profile()
    sdk = generate_sdk_corpus(SDK_N)
    typical = generate_corpus(TYPICAL_N, seed=5)
    plain = Scanner(profile)
    patterns = Scanner(profile, patterns=True)
    return {
        "sdk": [plain.scan(r) for r in sdk],
        "sdk+patterns": [patterns.scan(r) for r in sdk],
        "typical": [plain.scan(r) for r in typical],
    }


def result_json(res: ScanResult) -> str:
    """Everything a scan returns, in order, as one canonical text."""
    return json.dumps(
        {
            "findings": [
                [f.data_type, list(f.encoding), f.location, f.evidence, f.detail, list(f.match), f.confidence]
                for f in res.findings
            ],
            "anomalies": list(res.anomalies),
            "truncated": res.body_scan_truncated,
            "readability": res.readability,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def digest(res: ScanResult) -> str:
    return hashlib.sha256(result_json(res).encode()).hexdigest()[:20]


@pytest.fixture(scope="module")
def results() -> dict[str, list]:
    return _corpora()


def test_corpora_are_worth_comparing(results: dict[str, list]) -> None:
    sdk = results["sdk"]
    assert all(r.findings for r in sdk), "every SDK request carries profile values"
    chains = {f.encoding for r in sdk for f in r.findings}
    assert ("base64", "gzip", "json") in chains and ("protobuf",) in chains and ("gzip", "protobuf") in chains
    assert sum(bool(r.findings) for r in results["typical"]) >= 15


@pytest.mark.parametrize("name", ["sdk", "sdk+patterns", "typical"])
def test_scan_output_equals_reference(results: dict[str, list], name: str) -> None:
    expected = json.loads(EXPECTED.read_text())[name]
    got = [digest(r) for r in results[name]]
    assert len(got) == len(expected)
    diff = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert not diff, f"{len(diff)} requests differ, first #{diff[0]}: {result_json(results[name][diff[0]])}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        out = {name: [digest(r) for r in res] for name, res in _corpora().items()}
        EXPECTED.write_text(json.dumps(out, indent=0) + "\n")
        print(f"wrote {EXPECTED}")
