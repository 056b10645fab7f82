"""MIIT-2.2 over-frequency (rules/_frequency.py): thresholds, observed numbers, background."""

from __future__ import annotations

import pytest

from consentscope.rules import Thresholds
from tests.rules.builders import only, session


def uploads(times: list[float], host: str = "api.demoshop.com.cn", dtype: str = "location") -> list[tuple]:
    return [(t, host, dtype) for t in times]


@pytest.mark.parametrize(("times", "check", "severity", "confidence"), [
    ([0, 10, 20, 30], "frequent+periodic", "medium", "medium"),
    ([0, 1, 25, 26], "frequent", "low", "medium"),
    ([0, 300, 600, 900], "periodic", "low", "low"),
])
def test_checks(times: list[float], check: str, severity: str, confidence: str) -> None:
    [v] = only(session(uploads(times), [(-1, "consent")]), "MIIT-2.2")
    assert (v.check, v.severity, v.confidence) == (check, severity, confidence)


def test_the_observed_rate_is_in_the_evidence() -> None:
    [v] = only(session(uploads([0, 10, 20, 30])), "MIIT-2.2")
    observed = dict(v.observed)
    assert observed["uploads"] == 4 and observed["median_interval_s"] == 10 and observed["per_minute"] == 6
    assert "4 times" in v.explanation and "every 10 s" in v.explanation and "6 per minute" in v.explanation
    assert v.flows == ("f0", "f10", "f20", "f30")


@pytest.mark.parametrize("times", [[0, 100, 250], [0, 10], [0, 45, 140, 150]])
def test_quiet_below_the_thresholds(times: list[float]) -> None:
    assert only(session(uploads(times)), "MIIT-2.2") == []


def test_thresholds_are_configurable() -> None:
    r = session(uploads([0, 10, 20, 30]))
    assert only(r, "MIIT-2.2", th=Thresholds(repeat_count=10)) == []
    [v] = only(session(uploads([0, 40, 100, 170])), "MIIT-2.2", th=Thresholds(repeat_interval_s=60))
    assert v.check == "frequent"
    with pytest.raises(ValueError, match="repeat_count"):
        Thresholds(repeat_count=1)


def test_one_request_is_one_upload_and_destinations_are_separate() -> None:
    same_flow = [(5, "api.demoshop.com.cn", "imei", "one"), (5, "api.demoshop.com.cn", "imei", "one"),
                 (5, "api.demoshop.com.cn", "imei", "one")]
    assert only(session(same_flow), "MIIT-2.2") == []
    split = uploads([0, 10], "ulogs.umeng.com", "imei") + uploads([20, 30], "api.demoshop.com.cn", "imei")
    assert only(session(split), "MIIT-2.2") == []


def test_data_types_in_the_same_requests_are_one_violation() -> None:
    items = [(t, "ulogs.umeng.com", d, f"r{t}") for t in (0, 10, 20) for d in ("imei", "android_id")]
    [v] = only(session(items), "MIIT-2.2")
    assert v.data_types == ("android_id", "imei") and v.destinations == ("Umeng Analytics (U-App)",)


def test_device_ids_and_location_in_the_background() -> None:
    r = session([(30, "ulogs.umeng.com", "imei"), (31, "api.demoshop.com.cn", "email"), (50, "ulogs.umeng.com", "oaid")],
                [(0, "consent"), (25, "background"), (40, "foreground")])
    [v] = [v for v in only(r, "MIIT-2.2") if v.check == "background"]
    assert v.flows == ("f30",) and v.events == ("1970-01-01T00:00:25.000Z",) and v.data_types == ("imei",)
