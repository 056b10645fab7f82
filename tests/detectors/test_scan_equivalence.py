"""Speed work must not change what is found: the full scan output (findings in order, with
encoding chains, locations, evidence and confidence; anomalies; truncation; readability)
on two seeded corpora equals what the reference implementation gave, request by request.

The reference digests (``data/scan_equivalence.json``) were written by the implementation
before the speed work of issue 15; ``benchmarks/equivalence.py`` holds the corpora and the
digest. Regenerate only for an intended change of findings, and say so in the commit:
``python tests/detectors/test_scan_equivalence.py --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import equivalence  # benchmarks/equivalence.py

from consentscope.detectors._match import HYPERSCAN


@pytest.fixture(scope="module")
def results() -> dict[str, list]:
    return equivalence.scan_all()


def test_corpora_are_worth_comparing(results: dict[str, list]) -> None:
    sdk = results["sdk"]
    assert all(r.findings for r in sdk), "every SDK request carries profile values"
    chains = {f.encoding for r in sdk for f in r.findings}
    assert ("base64", "gzip", "json") in chains and ("protobuf",) in chains and ("gzip", "protobuf") in chains
    assert sum(bool(r.findings) for r in results["typical"]) >= 15
    assert any(f.confidence == "pattern" for r in results["sdk+patterns"] for f in r.findings)


@pytest.mark.parametrize("name", ["sdk", "sdk+patterns", "typical"])
def test_scan_output_equals_reference(results: dict[str, list], name: str) -> None:
    diff = equivalence.differing({name: results[name]})[name]
    first = f"first #{diff[0]}: {equivalence.result_json(results[name][diff[0]])}" if diff else ""
    assert not diff, f"{len(diff)} of {len(results[name])} requests differ, {first}"


@pytest.fixture(scope="module", params=["hyperscan", "dfa"])
def fast_results(request: pytest.FixtureRequest) -> tuple[str, dict[str, list]]:
    if request.param == "hyperscan" and not HYPERSCAN:
        pytest.skip("hyperscan does not import here (no wheel for this platform): the DFA stands in")
    return request.param, equivalence.scan_all(fast_automaton=True, backend=request.param)


@pytest.mark.parametrize("name", ["sdk", "sdk+patterns", "typical"])
def test_fast_matchers_give_the_reference_output(fast_results: tuple[str, dict[str, list]], name: str) -> None:
    """The matchers built to scan for long (the live detector's: Hyperscan, or without it the
    DFA automaton) find what the compact automaton finds, in the same order."""
    backend, fast = fast_results
    diff = equivalence.differing({name: fast[name]})[name]
    assert not diff, f"{len(diff)} of {len(fast[name])} requests differ with {backend}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        equivalence.write_reference()
        print(f"wrote {equivalence.REFERENCE}")
