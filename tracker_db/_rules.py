"""Endpoint rules: the CSV files we ship, read with the stdlib and checked row by row.

The data is plain CSV so that a person can review a change in a pull request. Every row
is checked when loaded (kind, category, source, pattern syntax) and a bad row is reported
as ``file:line: message`` — the same shape as every other input error in consentscope.
"""

from __future__ import annotations

import csv
import ipaddress
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from consentscope.errors import ConsentscopeError

from ._normalize import normalize_host

__all__ = [
    "CATEGORIES",
    "CATEGORY_ZH",
    "FORMAT_VERSION",
    "KINDS",
    "RULE_COLUMNS",
    "DataError",
    "Rule",
    "load_rules",
    "read_rules",
]

#: Version of the tracker_db file format; bumped on every change of columns or meaning.
#: 2: ``sdks.csv`` (Chinese names, owning company, example host per SDK) and
#: ``companies.csv``; ``apps.csv`` gains ``company`` and ``app_zh``; ``ownership.csv``
#: gains ``reason``. Migrate a version-1 tree with ``tools/migrate_v1_to_v2.py``.
FORMAT_VERSION = 2

KINDS = ("host", "suffix", "regex", "path", "cidr")

CATEGORIES = (
    "analytics",
    "advertising",
    "push",
    "crash-reporting",
    "attribution",
    "social/login",
    "payment",
    "maps/location",
    "anti-fraud/device-fingerprint",
    "customer-service",
    "cloud-storage",
    "httpdns",
    "os-vendor-service",
    "other",
)

#: Chinese names of the categories, as Chinese privacy policies and SDK lists write them.
CATEGORY_ZH = {
    "analytics": "统计分析",
    "advertising": "广告",
    "push": "消息推送",
    "crash-reporting": "崩溃与性能监测",
    "attribution": "归因与深度链接",
    "social/login": "社交分享与登录",
    "payment": "支付",
    "maps/location": "地图与定位",
    "anti-fraud/device-fingerprint": "风控与设备识别",
    "customer-service": "在线客服",
    "cloud-storage": "云存储",
    "httpdns": "HTTPDNS域名解析",
    "os-vendor-service": "手机厂商服务",
    "other": "其他",
}

#: Columns every endpoint CSV has, in this order. ``example`` is a host (regex rules),
#: path (path rules) or IP (cidr rules) that the rule must match: it documents the rule
#: and lets the validation test prove that no other rule shadows it.
RULE_COLUMNS = (
    "kind",
    "pattern",
    "sdk",
    "vendor",
    "group",
    "category",
    "country",
    "source",
    "example",
)

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")


class DataError(ConsentscopeError, ValueError):
    """A tracker_db file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One endpoint rule and the SDK it names."""

    kind: str
    pattern: str
    sdk: str
    vendor: str
    group: str
    category: str
    country: str
    source: str
    example: str = ""
    where: str = ""
    dataset: str = "consentscope"
    licence: str = "MIT"

    @property
    def label(self) -> str:
        """How the rule is shown in answers: ``suffix:umeng.com``."""
        return f"{self.kind}:{self.pattern}"

    @property
    def answer(self) -> tuple[str, str, str, str, str]:
        """What the rule says, for comparing overlapping rules."""
        return (self.sdk, self.vendor, self.group, self.category, self.country)


def _check_pattern(kind: str, pattern: str) -> str:
    """The pattern in canonical form, or ValueError saying what is wrong."""
    if kind in ("host", "suffix"):
        p = normalize_host(pattern)
        if p != pattern:
            raise ValueError(f"{kind} pattern must be written normalised as {p!r}")
        labels = p.split(".")
        if len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
            raise ValueError(f"not a domain name: {pattern!r}")
        return p
    if kind in ("regex", "path"):
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"bad regular expression: {e}") from None
        return pattern
    if kind == "cidr":
        try:
            net = ipaddress.ip_network(pattern, strict=True)
        except ValueError as e:
            raise ValueError(f"bad cidr: {e}") from None
        return str(net)
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def read_rules(
    path: Path, *, dataset: str = "consentscope", licence: str = "MIT"
) -> Iterator[Rule]:
    """Rules of one CSV file, each checked; raises DataError naming file and line.

    Optional ``dataset`` and ``licence`` columns (imported lists) override the defaults.
    """
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in RULE_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}:1: missing columns {', '.join(missing)}")
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            values = {c: (row.get(c) or "").strip() for c in RULE_COLUMNS}
            try:
                yield _rule(
                    values,
                    where,
                    (row.get("dataset") or "").strip() or dataset,
                    (row.get("licence") or "").strip() or licence,
                )
            except ValueError as e:
                raise DataError(f"{path}:{reader.line_num}: {e}") from None


def _rule(v: dict[str, str], where: str, dataset: str, licence: str) -> Rule:
    for c in ("kind", "pattern", "sdk", "vendor", "category", "source"):
        if not v[c]:
            raise ValueError(f"empty {c}")
    if v["category"] not in CATEGORIES:
        raise ValueError(f"unknown category {v['category']!r}")
    if not v["source"].startswith(("https://", "http://")):
        raise ValueError("source must be a public URL")
    if v["country"] and not re.fullmatch(r"[A-Z]{2}", v["country"]):
        raise ValueError(f"country must be an ISO 3166 alpha-2 code: {v['country']!r}")
    if v["kind"] in ("regex", "path", "cidr") and not v["example"]:
        raise ValueError(f"{v['kind']} rules need an example that they match")
    pattern = _check_pattern(v["kind"], v["pattern"])
    return Rule(
        kind=v["kind"],
        pattern=pattern,
        sdk=v["sdk"],
        vendor=v["vendor"],
        group=v["group"] or v["vendor"],
        category=v["category"],
        country=v["country"],
        source=v["source"],
        example=v["example"],
        where=where,
        dataset=dataset,
        licence=licence,
    )


def _package_dir() -> Path:
    return Path(str(resources.files(__package__)))


def load_meta() -> dict:
    """``tracker_db.toml``: format version and the explicit list of data files."""
    with (_package_dir() / "tracker_db.toml").open("rb") as f:
        meta = tomllib.load(f)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        hint = (
            "; migrate with tracker_db/tools/migrate_v1_to_v2.py"
            if version == 1 and FORMAT_VERSION == 2 else ""
        )
        raise DataError(
            f"tracker_db.toml: format_version {version!r}, this code reads {FORMAT_VERSION}{hint}"
        )
    for key in ("sdks", "companies"):
        if not meta.get(key):
            raise DataError(f"tracker_db.toml: format {FORMAT_VERSION} needs a {key!r} list")
    return meta


def package_dir() -> Path:
    """Where the shipped data files are."""
    return _package_dir()


def load_rules() -> list[Rule]:
    """Every shipped endpoint rule, in file order."""
    base = _package_dir()
    rules: list[Rule] = []
    for name in load_meta()["endpoints"]:
        rules.extend(read_rules(base / name))
    return rules
