"""Replays every input ``make fuzz`` (or a bug report) found breaking the invariant.

Each ``*.bin`` here is one input for ``harness.check``: a target byte and the bytes for it.
A crash found by the fuzzer is copied here from ``build/fuzz/crashes/`` when it is fixed,
so it can never come back; the ``.txt`` beside it, when present, says what it was.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import harness

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*.bin"))


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """A hang is a failure after 60 s, not a stuck run."""
    def expire(*_: object) -> None:
        raise TimeoutError("regression input still running after 60 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        harness.cleanup()


def test_there_are_cases() -> None:
    assert CASES, "tests/regressions/ holds no *.bin inputs"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_regression_input_holds_the_invariant(case: Path) -> None:
    harness.check(case.read_bytes())
