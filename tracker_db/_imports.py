"""Import tracker lists we cannot ship into the user's data directory.

Exodus/ETIP (ODbL) and the DuckDuckGo and Disconnect lists (CC BY-NC-SA) may not be
bundled with an MIT tool, but a user may download them and load them locally. Each parser
is a pure function from the parsed JSON document to rules carrying their dataset and
licence; ``import_file`` writes them as CSV next to a ``.licence`` file. Rows covered by
one of our own host rules are dropped: our rows win on conflict.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._hostregex import UnsafePattern, alternatives, host_regex
from ._index import TrackerDB
from ._normalize import normalize_host
from ._rules import RULE_COLUMNS, DataError, Rule
from ._userdata import trackers_dir

__all__ = [
    "FORMATS",
    "LICENCES",
    "MAX_IMPORT_BYTES",
    "ImportResult",
    "import_file",
    "parse_ddg_app_trackers",
    "parse_ddg_tracker_radar",
    "parse_disconnect",
    "parse_document",
    "parse_exodus",
]

#: Imports larger than this are refused: the real lists are a few MB.
MAX_IMPORT_BYTES = 256 * 1024 * 1024

_DOMAIN = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)+[a-z][a-z0-9-]*[a-z0-9]$")

_EXODUS_CATEGORIES = {
    "advertisement": "advertising",
    "analytics": "analytics",
    "crash reporting": "crash-reporting",
    "identification": "social/login",
    "location": "maps/location",
    "profiling": "analytics",
}

_DDG_CATEGORIES = [  # first match wins, in this order
    ("Fraud Prevention", "anti-fraud/device-fingerprint"),
    ("Online Payment", "payment"),
    ("Federated Login", "social/login"),
    ("SSO", "social/login"),
    ("Social - Share", "social/login"),
    ("Social Network", "social/login"),
    ("Ad Motivated Tracking", "advertising"),
    ("Advertising", "advertising"),
    ("Action Pixels", "advertising"),
    ("Ad Fraud", "anti-fraud/device-fingerprint"),
    ("Audience Measurement", "analytics"),
    ("Analytics", "analytics"),
    ("Third-Party Analytics Marketing", "analytics"),
    ("Session Replay", "analytics"),
    ("Tag Manager", "analytics"),
]

_DISCONNECT_CATEGORIES = {
    "Advertising": "advertising",
    "Analytics": "analytics",
    "Social": "social/login",
    "FingerprintingInvasive": "anti-fraud/device-fingerprint",
    "FingerprintingGeneral": "anti-fraud/device-fingerprint",
}

LICENCES = {
    "exodus": "ODbL-1.0",
    "ddg-tracker-radar": "CC-BY-NC-SA-4.0",
    "ddg-app-trackers": "CC-BY-NC-SA-4.0",
    "disconnect": "CC-BY-NC-SA-4.0",
}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: rows written, rows our data already answers, rows skipped."""

    path: Path
    written: int
    shadowed: int
    skipped: int


def _rule(fmt: str, domain: str, sdk: str, vendor: str, category: str, source: str) -> Rule | None:
    d = normalize_host(domain)
    if not _DOMAIN.match(d) or not sdk:
        return None
    return Rule(
        kind="suffix",
        pattern=d,
        sdk=sdk.strip(),
        vendor=(vendor or sdk).strip(),
        group=(vendor or sdk).strip(),
        category=category,
        country="",
        source=source,
        dataset=fmt,
        licence=LICENCES[fmt],
    )


def _regex_rule(fmt: str, part: str, sdk: str, category: str, source: str) -> Rule | None:
    """A real regular expression of an imported signature, when it is safe and sampled."""
    try:
        pattern, example = host_regex(part)
    except UnsafePattern:
        return None
    if not _DOMAIN.match(example) or not sdk:
        return None
    return Rule(kind="regex", pattern=pattern, sdk=sdk.strip(), vendor=sdk.strip(), group=sdk.strip(),
                category=category, country="", source=source, example=example, dataset=fmt, licence=LICENCES[fmt])


def _exodus_rules(signature: str, sdk: str, category: str, source: str) -> Iterator[Rule | None]:
    """An Exodus ``network_signature``: plain domains as suffix rules, real expressions as
    regex rules (see ``_hostregex``); None for what cannot be used safely."""
    for part in alternatives(signature):
        p = part.strip("^$").replace("\\.", ".")
        p = p.removeprefix(".*").removeprefix(".").removesuffix("$")
        if p and _DOMAIN.match(p.lower()):
            yield _rule("exodus", p, sdk, "", category, source)
        else:
            yield _regex_rule("exodus", part, sdk, category, source)


def parse_exodus(doc: object) -> Iterator[Rule | None]:
    """Exodus API ``/api/trackers`` (``{"trackers": {id: {...}}}``) or ETIP list shape."""
    if not isinstance(doc, dict) or "trackers" not in doc:
        raise ValueError("not an Exodus trackers document (no 'trackers' key)")
    trackers = doc["trackers"]
    items = trackers.values() if isinstance(trackers, dict) else trackers
    for t in items:
        if not isinstance(t, dict):
            yield None
            continue
        cats = [str(c).lower() for c in t.get("categories") or ()]
        category = next((_EXODUS_CATEGORIES[c] for c in cats if c in _EXODUS_CATEGORIES), "other")
        tid = t.get("id")
        source = (
            f"https://reports.exodus-privacy.eu.org/en/trackers/{tid}/"
            if tid is not None
            else str(t.get("website") or "https://reports.exodus-privacy.eu.org/")
        )
        signature = str(t.get("network_signature") or "")
        if not signature.strip():
            yield None
            continue
        yield from _exodus_rules(signature, str(t.get("name") or ""), category, source)


def _ddg_category(categories: Iterable[object]) -> str:
    cats = {str(c) for c in categories}
    return next((ours for theirs, ours in _DDG_CATEGORIES if theirs in cats), "other")


def _ddg_owner(entry: dict) -> tuple[str, str]:
    owner = entry.get("owner") or {}
    if not isinstance(owner, dict):
        return "", ""
    return str(owner.get("displayName") or owner.get("name") or ""), str(owner.get("name") or "")


def parse_ddg_tracker_radar(doc: object) -> Iterator[Rule | None]:
    """One Tracker Radar domain file (``domains/<region>/<domain>.json``)."""
    if not isinstance(doc, dict) or "domain" not in doc:
        raise ValueError("not a Tracker Radar domain file (no 'domain' key)")
    sdk, vendor = _ddg_owner(doc)
    source = "https://github.com/duckduckgo/tracker-radar"
    yield _rule(
        "ddg-tracker-radar", str(doc["domain"]), sdk, vendor,
        _ddg_category(doc.get("categories") or ()), source,
    )


def parse_ddg_app_trackers(doc: object) -> Iterator[Rule | None]:
    """App Tracking Protection blocklist (``{"trackers": {domain: {"owner": …}}}``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("trackers"), dict):
        raise ValueError("not a DuckDuckGo app tracker blocklist (no 'trackers' object)")
    source = "https://github.com/duckduckgo/android"
    for domain, entry in doc["trackers"].items():
        if not isinstance(entry, dict):
            yield None
            continue
        sdk, vendor = _ddg_owner(entry)
        yield _rule(
            "ddg-app-trackers", str(domain), sdk, vendor,
            _ddg_category(entry.get("categories") or ()), source,
        )


def parse_disconnect(doc: object) -> Iterator[Rule | None]:
    """Disconnect ``services.json``: category → [{company: {homepage: [domains]}}]."""
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict):
        raise ValueError("not a Disconnect services.json (no 'categories' object)")
    source = "https://github.com/disconnectme/disconnect-tracking-protection"
    for cat_name, entries in doc["categories"].items():
        category = _DISCONNECT_CATEGORIES.get(str(cat_name), "other")
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                yield None
                continue
            for company, sites in entry.items():
                if not isinstance(sites, dict):
                    yield None
                    continue
                for domains in sites.values():
                    if not isinstance(domains, list):
                        continue  # flags such as "dnt": "eff" or "session-replay": "true"
                    for d in domains:
                        name = str(company)
                        yield _rule("disconnect", str(d), name, name, category, source)


FORMATS: dict[str, Callable[[object], Iterator[Rule | None]]] = {
    "exodus": parse_exodus,
    "ddg-tracker-radar": parse_ddg_tracker_radar,
    "ddg-app-trackers": parse_ddg_app_trackers,
    "disconnect": parse_disconnect,
}


def parse_document(fmt: str, doc: object) -> tuple[list[Rule], int]:
    """Rules of one parsed document, deduplicated (first wins), and the skipped count."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    seen: set[str] = set()
    rules: list[Rule] = []
    skipped = 0
    for r in FORMATS[fmt](doc):
        if r is None:
            skipped += 1
        elif r.pattern not in seen:
            seen.add(r.pattern)
            rules.append(r)
    return rules, skipped


def _load(path: Path) -> list[object]:
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    docs = []
    for f in files:
        if f.stat().st_size > MAX_IMPORT_BYTES:
            raise DataError(f"{f}: larger than {MAX_IMPORT_BYTES} bytes")
        try:
            docs.append(json.loads(f.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{f}: not JSON: {e}") from None
    return docs


def import_file(path: Path, fmt: str, shipped: TrackerDB | None = None) -> ImportResult:
    """Parse ``path`` (a file, or a directory of Tracker Radar files) and store it."""
    rules: list[Rule] = []
    skipped = 0
    for doc in _load(path):
        try:
            got, n = parse_document(fmt, doc)
        except ValueError as e:
            raise DataError(f"{path}: {e}") from None
        rules.extend(got)
        skipped += n
    ours = shipped if shipped is not None else TrackerDB.shipped()
    kept = [r for r in rules if ours.lookup_host(r.pattern) is None]
    out_dir = trackers_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{fmt}.csv"
    tmp = out.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*RULE_COLUMNS, "dataset", "licence"])
        for r in sorted({r.pattern: r for r in kept}.values(), key=lambda r: r.pattern):
            w.writerow([getattr(r, c) for c in RULE_COLUMNS] + [r.dataset, r.licence])
    tmp.replace(out)
    out.with_suffix(".licence").write_text(LICENCES[fmt] + "\n", encoding="utf-8")
    TrackerDB.reset_default()
    return ImportResult(out, len({r.pattern for r in kept}), len(rules) - len(kept), skipped)


