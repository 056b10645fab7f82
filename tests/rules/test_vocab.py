"""Data-type names → vocabulary slugs, sensitivity, permission groups (rules/_vocab.py)."""

from __future__ import annotations

import pytest

from consentscope.appdata import pi_vocabulary
from consentscope.detectors import Finding
from consentscope.profile import DEVICE_KEYS, PERSON_KEYS
from consentscope.rules import permission_group, slug
from consentscope.rules._vocab import DATA_TYPE_SLUGS, is_sensitive
from tests.rules.builders import profile


@pytest.mark.parametrize(("dtype", "want"), [
    ("imei", "imei"), ("mac", "mac_address"), ("bluetooth_mac", "mac_address"), ("bssid", "wifi_info"),
    ("ssid", "wifi_info"), ("serial", "serial_number"), ("android_id", "android_id"), ("oaid", "oaid"),
    ("gaid", "gaid"), ("idfa", "idfa"), ("idfv", "idfv"), ("imsi", "imsi"), ("iccid", "iccid"), ("meid", "meid"),
    ("phone_number", "phone_number"), ("email", "email"), ("real_name", "real_name"), ("id_number", "id_number"),
    ("bank_card", "bank_card"), ("account_name", "account_id"), ("installed_apps", "installed_apps"),
    ("contacts", "contacts"), ("device_name", "device_id"), ("search_history", "search_history"),
    ("order_id", None),
])
def test_slugs(dtype: str, want: str | None) -> None:
    assert slug(Finding(dtype, (), "body", "x")) == want


def test_every_profile_key_has_a_slug() -> None:
    for key in (*DEVICE_KEYS, *PERSON_KEYS, "installed_apps", "contacts"):
        assert slug(Finding(key, (), "body", "x")) in pi_vocabulary(), key
    assert set(DATA_TYPE_SLUGS.values()) <= set(pi_vocabulary())


@pytest.mark.parametrize(("evidence", "encoding", "precision", "want"), [
    ("lat 39.908712, lon 116.397461", (), None, "location_precise"),
    ("lat 39.909, lon 116.398", (), None, "location_precise"),
    ("lat 39.91, lon 116.40", (), None, "location_coarse"),
    ("lat 39908712 (body.json:$.la), lon 116397461 (body.json:$.lo)", ("json", "scaled1e6"), None, "location_precise"),
    ("(unreadable)", (), 500.0, "location_precise"),
    ("(unreadable)", (), 5000.0, "location_coarse"),
])
def test_location_precision(evidence: str, encoding: tuple[str, ...], precision: float | None, want: str) -> None:
    assert slug(Finding("location", encoding, "body", evidence), profile(precision_m=precision)) == want


def test_sensitivity_follows_the_vocabulary() -> None:
    assert all(is_sensitive(s) for s in ("id_number", "bank_card", "contacts", "location_precise"))
    assert not any(is_sensitive(s) for s in ("imei", "installed_apps", "location_coarse", "phone_number", None))


@pytest.mark.parametrize(("name", "group"), [
    ("android.permission.ACCESS_FINE_LOCATION", "location"), ("ACCESS_COARSE_LOCATION", "location"),
    ("NSLocationWhenInUseUsageDescription", "location"), ("location", "location"),
    ("android.permission.READ_CONTACTS", "contacts"), ("READ_PHONE_STATE", "phone"),
    ("android.permission.RECORD_AUDIO", "microphone"), ("NSMicrophoneUsageDescription", "microphone"),
    ("CAMERA", "camera"), ("READ_SMS", "sms"), ("com.vendor.CUSTOM", "com.vendor.custom"),
])
def test_permission_groups(name: str, group: str) -> None:
    assert permission_group(name) == group
