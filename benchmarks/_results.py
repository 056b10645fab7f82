"""One table for ``make bench``: every figure with its baseline from the same run, the ratio
and the aim, printed at the end and kept as ``reports/out/bench.json`` so a later change can
be compared with this one. Each bench script calls ``record``; ``table.py`` prints."""

from __future__ import annotations

import json
import os
from pathlib import Path

OUT = Path(os.environ.get("CONSENTSCOPE_BENCH_OUT", Path(__file__).resolve().parent.parent / "reports" / "out"))
FILE = OUT / "bench.json"
#: bumped when the file's shape changes
VERSION = 1


def record(bench: str, figure: str, value: float, unit: str, baseline: float | None = None,
           baseline_name: str = "", aim: str = "", higher_is_better: bool = True,
           ratio: float | None = None) -> None:
    """Add (or replace) one row: ``value`` against ``baseline`` measured in the same run.
    ``ratio``: the figure's own ratio, where it is not ``value`` over ``baseline`` (the median
    of per-round ratios is not the ratio of the medians)."""
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        doc = json.loads(FILE.read_text())
    except (OSError, ValueError):
        doc = {"version": VERSION, "rows": []}
    if ratio is None and baseline:
        ratio = value / baseline if higher_is_better else baseline / value
    row = {"bench": bench, "figure": figure, "value": round(value, 4), "unit": unit, "baseline": baseline_name,
           "baseline_value": round(baseline, 4) if baseline is not None else None,
           "ratio": round(ratio, 3) if ratio is not None else None, "aim": aim}
    doc["rows"] = [r for r in doc["rows"] if (r["bench"], r["figure"]) != (bench, figure)] + [row]
    FILE.write_text(json.dumps(doc, indent=2) + "\n")
