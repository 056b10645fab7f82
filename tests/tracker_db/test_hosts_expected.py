"""Real hostnames and the answers their sources give (``hosts_expected.csv``).

Each row was written from the source named by the matching tracker_db row (vendor
documentation, SDK code, v2fly or AWAvenue lists), not from running the classifier.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from consentscope.destination import DestinationClassifier
from consentscope.tracker_db import TrackerDB

TABLE = Path(__file__).with_name("hosts_expected.csv")


def _rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def test_table_is_large_enough() -> None:
    assert len({r["host"] for r in ROWS}) >= 100


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['host']}|{r['app_package']}" for r in ROWS])
def test_expected(row: dict[str, str], shipped_db: TrackerDB) -> None:
    clf = DestinationClassifier(app_package=row["app_package"] or None, db=shipped_db)
    d = clf.classify(row["host"])
    assert d.sdk == (row["sdk"] or None)
    assert d.group == (row["group"] or None)
    assert d.category == (row["category"] or None)
    assert d.relation == row["relation"]
    assert d.party == ("first-party" if row["relation"] == "first-party" else "third-party")
