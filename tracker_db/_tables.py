"""Ownership, shared-infrastructure and app tables: who runs a domain, and who runs an app.

These answer what endpoint rules cannot: a host with no SDK rule may still belong to a
known company (ownership), be a tenant's bucket on a cloud (infrastructure), and the app
itself has an operator whose group decides "same-group-sdk". Read with the stdlib csv
module and checked per row, like the endpoint rules.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ._normalize import normalize_host
from ._rules import DataError

__all__ = [
    "App",
    "Company",
    "Infra",
    "Owner",
    "SdkInfo",
    "read_apps",
    "read_companies",
    "read_infra",
    "read_owners",
    "read_sdks",
    "suffix_get",
]

_COUNTRY = re.compile(r"[A-Z]{2}")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")

T = TypeVar("T")

#: What kind of shared service an infrastructure suffix is.
SERVICES = ("cloud-storage", "cdn", "compute", "serverless", "other")


@dataclass(frozen=True, slots=True)
class Owner:
    """The company and group behind a registrable domain."""

    domain: str
    company: str
    group: str
    country: str
    source: str
    #: Why a domain of an SDK vendor is answered by vendor only (no SDK rule covers it).
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Infra:
    """A shared-infrastructure suffix: hosts under it are tenants, not the provider."""

    pattern: str
    provider: str
    group: str
    country: str
    service: str
    source: str


@dataclass(frozen=True, slots=True)
class App:
    """A well-known app package and the company that publishes it.

    ``company`` is the publisher as a key of ``companies.csv``: an SDK whose owning
    company is the same is first-party to this app; one of another company of the same
    ``group`` is ``same-group-sdk``.
    """

    package: str
    app: str
    operator: str
    group: str
    country: str
    first_party_domains: tuple[str, ...]
    source: str
    company: str = ""
    app_zh: str = ""


@dataclass(frozen=True, slots=True)
class Company:
    """A company that owns SDKs or publishes apps, with its Chinese name and group."""

    company: str
    name_zh: str
    group: str
    country: str
    source: str


@dataclass(frozen=True, slots=True)
class SdkInfo:
    """What one SDK is called in Chinese, which company owns it, and a host it uses.

    ``example`` is a lookup target (a host, an IP, or ``host/path``) that the shipped
    rules must answer with this SDK; ``vendor_zh`` may be empty when ``companies.csv``
    names the vendor.
    """

    sdk: str
    name_zh: str
    vendor_zh: str
    company: str
    example: str
    where: str = ""


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}:1: missing columns {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def _check(path: Path, line: int, ok: bool, message: str) -> None:
    if not ok:
        raise DataError(f"{path}:{line}: {message}")


def _domain(path: Path, line: int, value: str) -> str:
    d = normalize_host(value)
    _check(path, line, d == value and "." in d, f"not a normalised domain: {value!r}")
    return d


def _source(path: Path, line: int, value: str) -> str:
    _check(path, line, value.startswith(("https://", "http://")), "source must be a public URL")
    return value


def read_owners(path: Path, v2fly_source: str | None = None) -> Iterator[Owner]:
    """Ownership rows; ``v2fly_source`` turns a ``v2fly_file`` column into a source URL."""
    cols = ("domain", "company", "group", "country")
    for line, r in _rows(path, cols + (("v2fly_file",) if v2fly_source else ("source",))):
        src = v2fly_source + r["v2fly_file"] if v2fly_source else r["source"]
        _check(path, line, bool(r["company"]), "empty company")
        _check(path, line, bool(_COUNTRY.fullmatch(r["country"])), "country must be ISO alpha-2")
        yield Owner(
            _domain(path, line, r["domain"]),
            r["company"],
            r["group"] or r["company"],
            r["country"],
            _source(path, line, src),
            r.get("reason", ""),
        )


def read_infra(path: Path) -> Iterator[Infra]:
    cols = ("pattern", "provider", "group", "country", "service", "source")
    for line, r in _rows(path, cols):
        _check(path, line, r["service"] in SERVICES, f"unknown service {r['service']!r}")
        _check(path, line, bool(r["provider"]), "empty provider")
        yield Infra(
            _domain(path, line, r["pattern"]),
            r["provider"],
            r["group"] or r["provider"],
            r["country"],
            r["service"],
            _source(path, line, r["source"]),
        )


def read_apps(path: Path) -> Iterator[App]:
    cols = ("package", "app", "operator", "group", "country", "first_party_domains", "source")
    for line, r in _rows(path, cols):
        _check(path, line, bool(_PACKAGE.match(r["package"])), f"bad package {r['package']!r}")
        _check(path, line, bool(r["operator"]), "empty operator")
        domains = tuple(_domain(path, line, d) for d in r["first_party_domains"].split())
        yield App(
            r["package"],
            r["app"],
            r["operator"],
            r["group"] or r["operator"],
            r["country"],
            domains,
            _source(path, line, r["source"]),
            r.get("company", "") or r["operator"],
            r.get("app_zh", ""),
        )


def read_companies(path: Path) -> Iterator[Company]:
    cols = ("company", "name_zh", "group", "country", "source")
    for line, r in _rows(path, cols):
        _check(path, line, bool(r["company"]), "empty company")
        _check(path, line, bool(r["name_zh"]), "empty name_zh")
        _check(path, line, bool(_COUNTRY.fullmatch(r["country"])), "country must be ISO alpha-2")
        yield Company(
            r["company"],
            r["name_zh"],
            r["group"] or r["company"],
            r["country"],
            _source(path, line, r["source"]),
        )


def read_sdks(path: Path) -> Iterator[SdkInfo]:
    cols = ("sdk", "name_zh", "vendor_zh", "company", "example")
    for line, r in _rows(path, cols):
        _check(path, line, bool(r["sdk"]), "empty sdk")
        _check(path, line, bool(r["company"]), "empty company")
        _check(path, line, bool(r["example"]), "empty example")
        yield SdkInfo(
            r["sdk"],
            r["name_zh"],
            r["vendor_zh"],
            r["company"],
            r["example"],
            f"{path.name}:{line}",
        )


def suffix_get(table: dict[str, T], host: str) -> T | None:
    """Value of the longest dotted suffix of ``host`` (itself included) found in ``table``."""
    i = 0
    while True:
        v = table.get(host[i:])
        if v is not None:
            return v
        j = host.find(".", i)
        if j < 0:
            return None
        i = j + 1


