"""The device profile: the tester's list of the real values to look for (TOML).

Errors name the file and the key and say what was expected, so a tester can fix the
profile without reading code. Checksum failures (IMEI Luhn, ID-number check digit) are
warnings: a typo there is worth knowing, but the value may still be what the app sends.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from consentscope.appdata import app_types
from consentscope.detectors import GeoPoint, Identifier, ScanProfile
from consentscope.errors import ConsentscopeError
from consentscope.files import read_toml


class ProfileError(ConsentscopeError, ValueError):
    """A profile that cannot be used; the message names file and key."""


@dataclass(frozen=True, slots=True)
class AppInfo:
    package: str = ""
    name: str = ""
    app_type: str = ""
    first_party_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    path: str
    app: AppInfo = AppInfo()
    identifiers: tuple[Identifier, ...] = ()
    location: GeoPoint | None = None
    installed_apps: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def scan_profile(self) -> ScanProfile:
        """What the detectors need; the app's own package is not an "installed app" leak."""
        apps = tuple(p for p in self.installed_apps if p != self.app.package)
        return ScanProfile(self.identifiers, self.location, apps, self.contacts)

    @property
    def data_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.data_type for i in self.identifiers))


# ----------------------------------------------------------------------------- checks

Check = Callable[[str], str | None]  # returns an error text, or None


def _regex(pattern: str, expected: str) -> Check:
    rx = re.compile(pattern)
    return lambda v: None if rx.fullmatch(v) else f"expected {expected}, got {v!r}"


def _any(v: str) -> str | None:
    return None if v.strip() else "expected a non-empty string"


_HEX_MAC = r"[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}"
_UUID = r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"

DEVICE_KEYS: dict[str, Check] = {
    "imei": _regex(r"\d{14,16}", "14 to 16 digits"),
    "meid": _regex(r"[0-9A-Fa-f]{14}", "14 hex digits"),
    "imsi": _regex(r"\d{14,15}", "14 or 15 digits"),
    "iccid": _regex(r"\d{18,22}[Ff]?", "18 to 22 digits"),
    "serial": _any,
    "android_id": _regex(r"[0-9A-Fa-f]{8,16}", "8 to 16 hex digits"),
    "oaid": _any,
    "gaid": _regex(_UUID, "a UUID"),
    "idfa": _regex(_UUID, "a UUID"),
    "idfv": _regex(_UUID, "a UUID"),
    "mac": _regex(_HEX_MAC, "a MAC address such as aa:bb:cc:dd:ee:ff"),
    "bluetooth_mac": _regex(_HEX_MAC, "a MAC address such as aa:bb:cc:dd:ee:ff"),
    "bssid": _regex(_HEX_MAC, "a MAC address such as aa:bb:cc:dd:ee:ff"),
    "ssid": _any,
    "device_name": _any,
}
PERSON_KEYS: dict[str, Check] = {
    "phone_number": _regex(r"\+?[\d\s-]{6,20}", "a phone number of digits, optional +, spaces, dashes"),
    "email": _regex(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "real_name": _any,
    "id_number": _regex(r"\d{17}[\dXx]|\d{15}", "an 18-character resident ID number"),
    "bank_card": _regex(r"[\d ]{12,23}", "12 to 19 digits"),
    "account_name": _any,
}
APP_KEYS = {"package", "name", "app_type", "first_party_domains"}
LOCATION_KEYS = {"latitude", "longitude", "precision_m"}
LIST_KEYS = {"installed_apps", "contacts"}
SECTIONS = ("app", "device", "person", "location", "lists", "custom")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_ok(value: str) -> bool:
    """GB 11643-1999 check digit of an 18-character resident ID number."""
    if len(value) != 18 or not value[:17].isdigit():
        return len(value) == 15 and value.isdigit()
    total = sum(int(ch) * w for ch, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def _checksum_warning(key: str, value: str) -> str | None:
    if key == "imei" and len(value) == 15 and not luhn_ok(value):
        return "fails the IMEI Luhn check (typo?)"
    if key == "id_number" and not id_number_ok(value):
        return "fails the ID-number check digit (typo?)"
    if key == "bank_card":
        digits = value.replace(" ", "")
        if not luhn_ok(digits):
            return "fails the bank-card Luhn check (typo?)"
    return None


# ----------------------------------------------------------------------------- loading


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown key; did you mean 'imei'? expected one of …``: the closest known name first."""
    choices = list(known)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    close.sort(key=lambda c: sorted(c) != sorted(name))  # two letters swapped (imie → imei) first
    hint = f" did you mean {close[0]!r}?" if close else ""
    return f"unknown {what};{hint} expected one of {', '.join(choices)}"


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; raises ProfileError naming file and key."""
    return parse_profile(read_toml(path, ProfileError, "profile"), str(path))


def parse_profile(data: dict, path: str = "<profile>") -> Profile:
    def fail(key: str, msg: str) -> ProfileError:
        return ProfileError(f"{path}: {key}: {msg}")

    for section, body in data.items():
        if section not in SECTIONS:
            raise fail(section, unknown("section", section, SECTIONS))
        if not isinstance(body, dict):
            raise fail(section, "expected a table like [" + section + "]")

    warnings: list[str] = []
    identifiers: list[Identifier] = []

    def strings(key: str, value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return list(value)
        raise fail(key, f"expected a string or a list of strings, got {type(value).__name__}")

    for section, table in (("device", DEVICE_KEYS), ("person", PERSON_KEYS)):
        for key, value in data.get(section, {}).items():
            if key not in table:
                raise fail(f"{section}.{key}", unknown("key", key, table))
            for v in strings(f"{section}.{key}", value):
                v = v.strip()
                err = table[key](v)
                if err:
                    raise fail(f"{section}.{key}", err)
                warn = _checksum_warning(key, v)
                if warn:
                    warnings.append(f"{path}: {section}.{key}: {warn}")
                identifiers.append(Identifier(key, v))

    for key, value in data.get("custom", {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise fail(f"custom.{key}", "names must be letters, digits and _")
        for v in strings(f"custom.{key}", value):
            if not v.strip():
                raise fail(f"custom.{key}", "expected a non-empty string")
            identifiers.append(Identifier(key, v.strip()))

    app = _parse_app(data.get("app", {}), fail)
    location = _parse_location(data.get("location", {}), fail)
    lists = data.get("lists", {})
    for key in lists:
        if key not in LIST_KEYS:
            raise fail(f"lists.{key}", unknown("key", key, sorted(LIST_KEYS)))
    installed = tuple(strings("lists.installed_apps", lists["installed_apps"])) if "installed_apps" in lists else ()
    contacts = tuple(strings("lists.contacts", lists["contacts"])) if "contacts" in lists else ()
    return Profile(path, app, tuple(identifiers), location, installed, contacts, tuple(warnings))


def _parse_app(table: dict, fail: Callable[[str, str], ProfileError]) -> AppInfo:
    for key, value in table.items():
        if key not in APP_KEYS:
            raise fail(f"app.{key}", unknown("key", key, sorted(APP_KEYS)))
        if key == "first_party_domains":
            if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
                raise fail("app.first_party_domains", "expected a list of domain names")
        elif not isinstance(value, str):
            raise fail(f"app.{key}", f"expected a string, got {type(value).__name__}")
    app_type = table.get("app_type", "")
    if app_type and app_type not in app_types():
        raise fail("app.app_type", f"unknown app type {app_type!r}; `consentscope profile types` lists the 39 slugs")
    domains = tuple(d.strip().lower().lstrip(".") for d in table.get("first_party_domains", []))
    return AppInfo(table.get("package", ""), table.get("name", ""), app_type, domains)


def _parse_location(table: dict, fail: Callable[[str, str], ProfileError]) -> GeoPoint | None:
    if not table:
        return None
    for key, value in table.items():
        if key not in LOCATION_KEYS:
            raise fail(f"location.{key}", unknown("key", key, sorted(LOCATION_KEYS)))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"location.{key}", f"expected a number, got {type(value).__name__}")
    if "latitude" not in table or "longitude" not in table:
        raise fail("location", "needs both latitude and longitude")
    lat, lon = float(table["latitude"]), float(table["longitude"])
    if not -90 <= lat <= 90:
        raise fail("location.latitude", f"expected -90 to 90, got {lat}")
    if not -180 <= lon <= 180:
        raise fail("location.longitude", f"expected -180 to 180, got {lon}")
    precision = float(table.get("precision_m", 1000))
    if not 0 < precision <= 100_000:
        raise fail("location.precision_m", f"expected 1 to 100000 metres, got {precision}")
    return GeoPoint(lat, lon, precision)


TEMPLATE = '''\
# consentscope device profile: the real values of the test device and test person.
# consentscope looks for each value in every request, plain, hashed (md5, sha*, sm3),
# encoded (base64, hex, url, JSON escapes) and chained (md5 of upper-cased MAC…).
# Fill in what you know; delete or leave out what you don't. Keys not listed here are errors.
# A key may also take a list of strings (a dual-SIM phone has two IMEIs).

[app]
package = "com.example.app"            # the app under test (Android package / iOS bundle id)
name = "Example App"
app_type = "online_shopping"            # one of 39 CAC types: `consentscope profile types`
first_party_domains = ["example.com"]   # registrable domains of the app's operator

[device]
imei = "861234567890127"                # Settings > About phone, or *#06#
# meid = "A1000012345678"
# imsi = "460001234567890"
# iccid = "89860012345678901234"
serial = "R58M12ABCDE"
android_id = "9774d56d682e549c"         # adb shell settings get secure android_id
oaid = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
gaid = "38400000-8cf0-11bd-b23e-10b96e40000d"
# idfa = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
# idfv = "..."
mac = "a4:50:46:1f:2c:9e"               # Wi-Fi MAC (the real one, not a randomised one)
# bluetooth_mac = "a4:50:46:1f:2c:9f"
bssid = "f4:83:cd:12:34:56"             # the access point the phone is connected to
ssid = "TestLab-5G"
device_name = "Zhang's Phone"

[person]
phone_number = "13812345678"            # +86 and spacing variants are found automatically
email = "tester@example.com"
real_name = "张伟"
id_number = "110105199003071239"        # Chinese resident ID (18 characters)
# bank_card = "6222021234567890128"
# account_name = "zhangwei88"

[location]
latitude = 39.9087
longitude = 116.3975
precision_m = 1000                      # a coordinate within this many metres is a match

[lists]
installed_apps = ["com.tencent.mm", "com.eg.android.AlipayGphone", "com.sina.weibo"]
contacts = ["13900001111", "13700002222"]

[custom]
# order_id = "20260302-0042"            # anything else you want found, reported by its name
'''


def template_values(profile: Profile) -> list[str]:
    """The keys whose values are still ``TEMPLATE``'s examples (a profile from `profile init`
    nobody filled in is valid, and finds nothing of the real device)."""
    import tomllib

    example = parse_profile(tomllib.loads(TEMPLATE), "<template>")
    values = {(i.data_type, i.value) for i in example.identifiers}
    keys = [i.data_type for i in profile.identifiers if (i.data_type, i.value) in values]
    if profile.location is not None and example.location is not None and (
        (profile.location.latitude, profile.location.longitude)
        == (example.location.latitude, example.location.longitude)
    ):
        keys.append("location")
    return list(dict.fromkeys(keys))
