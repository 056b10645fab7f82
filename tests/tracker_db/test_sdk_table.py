"""Issue 14: every SDK row's example host, alone and inside apps, with the answer it gets.

For each row of ``sdks.csv``: its example host names that SDK, vendor, Chinese name and
category; inside an app published by the SDK's owning company it is first-party
(``same-company``); inside an app of another group it is third-party (or ``os-service``
for OS vendors' services). The expected values come from the endpoint rules, so the test
checks the classifier end to end on every SDK the data names.
"""

from __future__ import annotations

import pytest

from consentscope.cli_trackers import split_target
from consentscope.destination import DestinationClassifier
from consentscope.tracker_db import Rule, SdkInfo, TrackerDB

DB = TrackerDB.shipped()
FIRST_RULE: dict[str, Rule] = DB.sdks()
INFOS: list[SdkInfo] = list(DB.sdk_info.values())


def _unrelated_app(group: str) -> str:
    return next(a.package for a in DB.apps.values() if a.group != group)


def _cases() -> list[tuple[SdkInfo, str | None, str]]:
    out: list[tuple[SdkInfo, str | None, str]] = []
    for info in INFOS:
        r = FIRST_RULE[info.sdk]
        alone = "os-service" if r.category == "os-vendor-service" else "third-party"
        out.append((info, None, alone))
        owners = [a.package for a in DB.apps.values() if a.company == info.company]
        out.extend((info, p, "first-party") for p in owners)
        out.append((info, _unrelated_app(r.group), alone))
    return out


CASES = _cases()


def test_table_covers_every_sdk() -> None:
    assert {c[0].sdk for c in CASES} == set(FIRST_RULE)
    assert len(INFOS) >= 300


@pytest.mark.parametrize(("info", "package", "relation"), CASES,
                         ids=[f"{c[0].example}|{c[1] or '-'}" for c in CASES])
def test_sdk_example(info: SdkInfo, package: str | None, relation: str) -> None:
    r = FIRST_RULE[info.sdk]
    host, path = split_target(info.example)
    d = DestinationClassifier(app_package=package, db=DB).classify(host, path=path)
    assert (d.sdk, d.vendor, d.category) == (info.sdk, r.vendor, r.category)
    assert d.name_zh == (info.name_zh or None)
    assert d.company == info.company
    assert d.relation == relation
    if relation == "first-party":
        assert d.decided_by == "same-company"
