"""Our data-type names (profile keys) in the vocabulary of ``necessary_pi.yaml``.

Decisions, each with its reason:

- ``mac`` and ``bluetooth_mac`` → ``mac_address`` (the vocabulary has one slug for both).
- ``bssid`` and ``ssid`` → ``wifi_info`` (its definition: SSID, BSSID, Wi-Fi list).
- ``serial`` → ``serial_number``; ``account_name`` → ``account_id``.
- ``device_name`` → ``device_id``: a user-set device name ("Zhang Wei's Redmi") names the
  device and often the person; the vocabulary has no closer slug than its umbrella.
- ``location`` → ``location_precise`` when the coordinates sent have 3 or more decimals
  (about 110 m or better) or are scaled integers (1e5/1e6, GPS resolution); ``location_coarse``
  when they have 2 or fewer (city block to city). When the evidence cannot be read, the
  profile's ``precision_m`` decides: 1000 m or less means precise.
- Every other name that is a vocabulary slug maps to itself (``imei``, ``oaid``,
  ``phone_number``, ``installed_apps``, ``contacts``, and custom names such as
  ``search_history``); other custom names have no slug and are ignored by the scope rules
  (they still count as personal information for MIIT-1.2 and MIIT-3).

Sensitivity is the vocabulary's: GB/T 35273-2020 "sensitive" or a PIPL Art. 28 category.
Installed-app lists and device identifiers are personal information but not sensitive
(regulations.md §7); they are never necessary for any of the 39 types, so CAC-NPI-5 flags them.
"""

from __future__ import annotations

import re

from consentscope.appdata import AppType, pi_vocabulary
from consentscope.detectors import Finding
from consentscope.profile import Profile

DATA_TYPE_SLUGS: dict[str, str] = {
    "mac": "mac_address",
    "bluetooth_mac": "mac_address",
    "bssid": "wifi_info",
    "ssid": "wifi_info",
    "serial": "serial_number",
    "device_name": "device_id",
    "account_name": "account_id",
}

#: Behaviour data that targeted push and precision marketing run on (MIIT-4, regulations.md §2).
BEHAVIOUR_SLUGS = frozenset({"installed_apps", "browsing_history", "search_history", "app_usage_records"})

#: Slugs a necessary list may name for the same value: the user's own number given as an
#: order's contact phone; a type that may require precise location may require coarse.
_ALSO_ALLOWED = {"contact_phone": ("phone_number",), "location_precise": ("location_coarse",)}

_COORD = re.compile(r"lat\s+(-?\d+(?:\.(\d+))?)")


def location_slug(finding: Finding, profile: Profile | None) -> str:
    if any(step.startswith("scaled") for step in finding.encoding):
        return "location_precise"
    m = _COORD.search(finding.evidence)
    if m is not None:
        return "location_precise" if len(m.group(2) or "") >= 3 else "location_coarse"
    precise = profile is None or profile.location is None or profile.location.precision_m <= 1000
    return "location_precise" if precise else "location_coarse"


def slug(finding: Finding, profile: Profile | None = None) -> str | None:
    """The vocabulary slug of a finding's data type, or None if it has none."""
    if finding.data_type == "location":
        return location_slug(finding, profile)
    s = DATA_TYPE_SLUGS.get(finding.data_type, finding.data_type)
    return s if s in pi_vocabulary() else None


def is_sensitive(s: str | None) -> bool:
    if s is None:
        return False
    v = pi_vocabulary().get(s, {})
    return v.get("gbt35273") == "sensitive" or bool(v.get("pipl_art28"))


def group(s: str | None) -> str:
    return pi_vocabulary().get(s or "", {}).get("group", "") if s else ""


def is_device_or_location(s: str | None) -> bool:
    """Device identifiers, app lists and location: the data M164-1.2 names for background reads."""
    return group(s) in ("device", "location")


def allowed_slugs(app_type: AppType) -> frozenset[str]:
    allowed = set(app_type.necessary_pi)
    for s in app_type.necessary_pi:
        allowed.update(_ALSO_ALLOWED.get(s, ()))
    return frozenset(allowed)


def label(s: str, lang: str = "en") -> str:
    """A slug in words ("IMEI", "精确位置（经纬度 / GPS 定位）")."""
    v = pi_vocabulary().get(s)
    if v is None:
        return s
    return v["zh"] if lang == "zh" else v["en"]


# ----------------------------------------------------------------------------- permissions

#: Android and iOS permission names → the permission group a user sees in the dialog.
_PERMISSION_GROUPS = (
    ("location", ("location",)),
    ("contacts", ("contacts", "get_accounts", "addressbook")),
    ("phone", ("phone_state", "phone_numbers", "call_phone", "read_phone")),
    ("call_log", ("call_log",)),
    ("sms", ("sms", "mms", "wap_push")),
    ("camera", ("camera",)),
    ("microphone", ("record_audio", "microphone")),
    ("calendar", ("calendar",)),
    ("storage", ("storage", "media_images", "media_video", "media_audio", "photo")),
    ("nearby_devices", ("bluetooth", "nearby")),
    ("notifications", ("notification",)),
    ("app_list", ("query_all_packages", "installed_apps", "app_list")),
)


def permission_group(name: str) -> str:
    """``android.permission.ACCESS_FINE_LOCATION``, ``location``, ``NSLocationWhenInUse…`` → ``location``.
    Unknown names are kept as written (lower case), so a re-ask of the same name still matches."""
    text = name.strip().lower()
    text = text.removeprefix("android.permission.")
    for group_name, needles in _PERMISSION_GROUPS:
        if any(n in text for n in needles):
            return group_name
    return text
