"""Profiles: the template is valid, mistakes are named by file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from consentscope.profile import TEMPLATE, ProfileError, id_number_ok, load_profile, luhn_ok


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_template_loads_with_every_section(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, TEMPLATE))
    assert profile.app.app_type == "online_shopping"
    assert {"imei", "mac", "phone_number", "email", "real_name", "id_number"} <= set(profile.data_types)
    assert profile.location is not None and profile.location.precision_m == 1000
    assert profile.installed_apps and profile.contacts
    assert profile.warnings == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[device]\nimie = '861234567890127'\n", "device.imie: unknown key"),
        ("[device]\nimei = 861234567890127\n", "device.imei: expected a string"),
        ("[device]\nimei = 'abc'\n", "device.imei: expected 14 to 16 digits"),
        ("[device]\nmac = 'zz:00'\n", "device.mac: expected a MAC address"),
        ("[location]\nlatitude = 91.0\nlongitude = 10\n", "location.latitude: expected -90 to 90"),
        ("[location]\nlatitude = 30.0\nlongitude = 190\n", "location.longitude: expected -180 to 180"),
        ("[location]\nlatitude = '30'\nlongitude = 10\n", "location.latitude: expected a number"),
        ("[location]\nlatitude = 30.0\n", "location: needs both latitude and longitude"),
        ("[app]\napp_type = 'casino'\n", "app.app_type: unknown app type 'casino'"),
        ("[app]\nfirst_party_domains = 'x.com'\n", "app.first_party_domains: expected a list"),
        ("[lists]\napps = []\n", "lists.apps: unknown key"),
        ("[hardware]\nimei = '1'\n", "hardware: unknown section"),
        ("[device\n", "not valid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(e.value).startswith(str(path))
    assert message in str(e.value)


def test_checksums_warn_but_load(tmp_path: Path) -> None:
    text = "[device]\nimei = '861234567890123'\n[person]\nid_number = '110105199003071231'\n"
    profile = load_profile(write(tmp_path, text))
    assert len(profile.identifiers) == 2
    assert any("device.imei" in w and "Luhn" in w for w in profile.warnings)
    assert any("person.id_number" in w and "check digit" in w for w in profile.warnings)


def test_checksum_functions() -> None:
    assert luhn_ok("861234567890127") and not luhn_ok("861234567890123")
    assert id_number_ok("110105199003071239")
    assert not id_number_ok("110105199003071231") and not id_number_ok("11010519900307123X")


def test_lists_of_values_and_custom(tmp_path: Path) -> None:
    profile = load_profile(
        write(
            tmp_path,
            "[device]\nimei = ['861234567890127', '861234567890136']\n[custom]\norder_id = 'SO-2026-0042'\n",
        )
    )
    assert [(i.data_type, i.value) for i in profile.identifiers] == [
        ("imei", "861234567890127"), ("imei", "861234567890136"), ("order_id", "SO-2026-0042"),
    ]


def test_own_package_is_not_an_installed_app(tmp_path: Path) -> None:
    profile = load_profile(
        write(tmp_path, "[app]\npackage = 'com.a.b'\n[lists]\ninstalled_apps = ['com.a.b', 'com.c.d']\n")
    )
    assert profile.scan_profile().installed_apps == ("com.c.d",)


def test_cli_profile_init_and_check(tmp_path: Path) -> None:
    out = tmp_path / "new.toml"
    run = [sys.executable, "-m", "consentscope", "profile"]
    r = subprocess.run([*run, "init", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o077 == 0
    r = subprocess.run([*run, "check", str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and "ok:" in r.stdout
    bad = write(tmp_path, "[device]\nimei = 5\n")
    r = subprocess.run([*run, "check", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    expected = f"consentscope: error: {bad}: device.imei: expected a string or a list of strings, got int"
    assert r.stderr.strip() == expected
    assert "Traceback" not in r.stderr
