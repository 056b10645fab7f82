"""Migrate a tracker_db tree from format 1 to format 2 (maintainer tool, not shipped).

Format 2 adds ``sdks.csv`` (one row per SDK: ``name_zh``, ``vendor_zh``, owning
``company``, an ``example`` lookup target), ``companies.csv`` (company → Chinese name,
group, country, source), the ``company``/``app_zh`` columns of ``apps.csv`` and the
``reason`` column of ``ownership.csv``. This script adds what can be derived and leaves
the Chinese names empty for a person to fill in from the SDK's privacy policy:

- ``sdks.csv``: every SDK named by the endpoint files that has no row yet, with
  ``company`` = its vendor and ``example`` = its first host/suffix pattern (or the
  example of its first regex/CIDR rule); existing rows are kept as they are;
- ``apps.csv``: ``company`` = ``operator`` where empty;
- ``ownership.csv``: an empty ``reason`` column;
- ``tracker_db.toml``: ``format_version = 2`` and the ``sdks``/``companies`` lists.

    python tracker_db/tools/migrate_v1_to_v2.py [tracker_db directory]

Run it again after adding SDKs to the endpoint files: it only appends missing rows.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

SDK_COLUMNS = ("sdk", "name_zh", "vendor_zh", "company", "example")
COMPANY_COLUMNS = ("company", "name_zh", "group", "country", "source")


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or ()), list(r)


def _write(path: Path, columns: list[str] | tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in columns})


def _example(rule: dict[str, str]) -> str:
    if rule["kind"] in ("host", "suffix"):
        return rule["pattern"]
    if rule["kind"] == "path":
        return "unlisted.invalid" + rule["example"]
    return rule["example"]


def migrate(base: Path) -> None:
    meta_path = base / "tracker_db.toml"
    meta = meta_path.read_text(encoding="utf-8")
    endpoints = re.search(r"^endpoints\s*=\s*\[(.*?)\]", meta, re.M | re.S)
    files = re.findall(r'"([^"]+)"', endpoints.group(1)) if endpoints else []

    _, sdk_rows = _read(base / "sdks.csv")
    known = {r["sdk"] for r in sdk_rows}
    for name in files:
        _, rules = _read(base / name)
        for rule in rules:
            if rule["sdk"] in known:
                continue
            known.add(rule["sdk"])
            sdk_rows.append({"sdk": rule["sdk"], "company": rule["vendor"],
                             "example": _example(rule)})
    _write(base / "sdks.csv", SDK_COLUMNS, sdk_rows)

    if not (base / "companies.csv").exists():
        _write(base / "companies.csv", COMPANY_COLUMNS, [])

    cols, apps = _read(base / "apps.csv")
    for c in ("company", "app_zh"):
        if c not in cols:
            cols.append(c)
    for a in apps:
        a["company"] = a.get("company") or a["operator"]
    _write(base / "apps.csv", cols, apps)

    cols, owners = _read(base / "ownership.csv")
    if "reason" not in cols:
        cols.append("reason")
    _write(base / "ownership.csv", cols, owners)

    meta = re.sub(r"^format_version\s*=\s*1\s*$", "format_version = 2", meta, flags=re.M)
    if not re.search(r"^sdks\s*=", meta, re.M):
        meta += '\n# Per SDK: Chinese names, owning company, example host (format 2).\n'
        meta += 'sdks = ["sdks.csv"]\n'
    if not re.search(r"^companies\s*=", meta, re.M):
        meta += '\n# Companies owning SDKs or publishing apps: Chinese name, group (format 2).\n'
        meta += 'companies = ["companies.csv"]\n'
    meta_path.write_text(meta, encoding="utf-8")


if __name__ == "__main__":
    migrate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
