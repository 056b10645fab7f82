"""Permission checks from the timeline: MIIT-6, IDM-3.1, IDM-3.3 (rules/_permissions.py)."""

from __future__ import annotations

import pytest

from consentscope.rules import Thresholds
from tests.rules.builders import only, session

LOC = "android.permission.ACCESS_FINE_LOCATION"


@pytest.mark.parametrize(("events", "reasks"), [
    ([(0, "permission-denied", "location"), (3600, "permission-asked", "location")], 1),
    ([(0, "permission-denied", LOC), (60, "permission-asked", "android.permission.ACCESS_COARSE_LOCATION")], 1),
    ([(0, "permission-denied", "location"), (3600, "permission-asked", "camera")], 0),
    ([(0, "permission-denied", "location"), (50 * 3600, "permission-asked", "location")], 0),
    ([(0, "permission-denied", "location"), (10, "permission-granted", "location"),
      (20, "permission-asked", "location")], 0),
    ([(0, "permission-denied", "contacts"), (100, "permission-denied", "contacts")], 1),  # dialog shown again
    ([(0, "permission-asked", "sms"), (1, "permission-denied", "sms"), (9, "permission-asked", "sms"),
      (10, "permission-denied", "sms"), (20, "permission-asked", "sms")], 2),
])
def test_reask_after_denial(events: list[tuple], reasks: int) -> None:
    got = only(session([], events), "MIIT-6")
    assert sum(dict(v.observed)["reasks"] for v in got) == reasks
    assert all(v.confidence == "low" for v in got)


def test_reask_window_is_a_threshold() -> None:
    r = session([], [(0, "permission-denied", "location"), (3600, "permission-asked", "location")])
    assert only(r, "MIIT-6", th=Thresholds(reask_window_s=600)) == []
    [v] = only(r, "MIIT-6")
    assert v.events == ("1970-01-01T00:00:00.000Z", "1970-01-01T01:00:00.000Z") and "1.0 h" in v.explanation


def test_pi_permission_before_the_consent_decision() -> None:
    r = session([], [(5, "permission-asked", LOC), (6, "permission-asked", "POST_NOTIFICATIONS"), (20, "consent")])
    [v] = only(r, "IDM-3.1")
    assert v.category == "MIIT-7" and dict(v.observed)["permissions"] == "location"
    assert v.events == ("1970-01-01T00:00:05.000Z", "1970-01-01T00:00:20.000Z")
    assert only(session([], [(20, "consent"), (25, "permission-asked", LOC)]), "IDM-3.1") == []
    assert only(session([], [(5, "permission-asked", LOC)]), "IDM-3.1") == []  # no decision recorded


def test_location_data_after_the_permission_was_denied() -> None:
    r = session([(30, "apilocate.amap.com", "bssid"), (31, "ulogs.umeng.com", "imei"), (60, "apilocate.amap.com", "ssid")],
                [(0, "consent"), (20, "permission-denied", LOC), (50, "permission-granted", LOC)])
    [v] = only(r, "IDM-3.3")
    assert v.flows == ("f30",) and v.data_types == ("bssid",) and v.events == ("1970-01-01T00:00:20.000Z",)
    assert only(session([(30, "apilocate.amap.com", "bssid")], [(0, "consent")]), "IDM-3.3") == []
