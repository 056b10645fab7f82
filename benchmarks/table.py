"""Print ``reports/out/bench.json`` (written by the bench scripts) as one table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import FILE


def main() -> None:
    try:
        rows = json.loads(FILE.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        print(f"no bench results in {FILE}")
        return
    print()
    print(f"{'bench':8s} {'figure':44s} {'value':>14s} {'baseline (same run)':>34s} {'ratio':>7s}  aim")
    for r in rows:
        base = f"{r['baseline']} {r['baseline_value']:g}" if r["baseline_value"] is not None else "-"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        print(f"{r['bench']:8s} {r['figure']:44s} {r['value']:>10g} {r['unit']:3s} {base:>34s} {ratio:>7s}  {r['aim']}")
    print(f"(written to {FILE})")


if __name__ == "__main__":
    main()
