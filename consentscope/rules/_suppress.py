"""The project file: findings a team has accepted, each with its reason, and rule thresholds.

TOML, read with the standard library; errors name the file and the entry::

    # consentscope project file
    [thresholds]                     # optional; defaults in consentscope.rules.Thresholds
    repeat_count = 3
    repeat_interval_s = 30
    regular_cv = 0.15
    reask_window_s = 172800

    [[accept]]                       # an SDK, for some rules
    sdk = "Tencent Bugly"            # SDK or vendor name as the report shows it (any case)
    rules = ["PIPL-23"]              # optional: rule IDs or prefixes ("MIIT-2"); default: all
    reason = "crash reports; entrusted processing, listed in the policy's SDK list"

    [[accept]]                       # one data type to one host (or any host under a domain)
    data_type = "location"
    host = "apilocate.amap.com"
    reason = "store finder: the user taps 'shops near me'"

    [[accept]]                       # one request
    flow = "8d7c0a52-…"
    reason = "the tester's own login"

    [[accept]]                       # a whole rule (no sdk/vendor/host/data_type/flow)
    rules = ["MIIT-6"]
    reason = "the re-ask came from the OS settings page"

    [declared]                       # optional: the privacy policy's lists (see _declared.py)
    data_types = ["phone_number", "location"]
    [[declared.sdk]]
    name = "Umeng Analytics (U-App)"
    data_types = ["android_id", "oaid"]

Selectors in one entry must all match (a value may be a string or a list of strings, any of
which matches). Accepted findings are taken out before the rules run and reported separately,
with the reason, as suppressed violations; nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from consentscope.errors import ConsentscopeError
from consentscope.files import read_toml
from consentscope.model import AuditContact, AuditFinding, SessionResult

from ._declared import Declared, DeclaredError, parse_declared
from ._evidence import contact_ref
from ._model import CATEGORIES, RULES_INFO, Thresholds


class SuppressionError(ConsentscopeError, ValueError):
    """A project file that cannot be used; the message names the file and the entry."""


SELECTORS = ("sdk", "vendor", "host", "data_type", "flow")
_KEYS = (*SELECTORS, "rules", "reason")


def rule_matches(rule: str, pattern: str, *, related: bool = True) -> bool:
    """``pattern`` is the rule's ID, its MIIT category, a dotted prefix of these ("MIIT-1"
    matches MIIT-1.2 and IDM-3.2, whose category is MIIT-1) or, with ``related``, one of the IDs
    the same evidence supports (regulations.md §10: sharing before consent also breaks PIPL-23).
    ``--fail-on`` uses related IDs; a project file's ``rules`` does not: accepting an SDK for
    PIPL-23 must not accept it for MIIT-3."""
    info = RULES_INFO[rule]
    ids = (rule, info.category, *info.related) if related else (rule, info.category)
    return any(i == pattern or i.startswith(pattern + ".") for i in ids)


def known_pattern(pattern: str) -> bool:
    return any(rule_matches(r, pattern) for r in RULES_INFO) or pattern in CATEGORIES


@dataclass(frozen=True, slots=True)
class Accept:
    reason: str
    sdk: tuple[str, ...] = ()
    vendor: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    data_type: tuple[str, ...] = ()
    flow: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    index: int = 0  # 1-based position in the file, for messages

    @property
    def whole_rule(self) -> bool:
        return not any(getattr(self, s) for s in SELECTORS)

    def applies_to(self, rule: str) -> bool:
        return not self.rules or any(rule_matches(rule, p, related=False) for p in self.rules)

    def describe(self) -> str:
        parts = [f"{s}={'|'.join(getattr(self, s))}" for s in SELECTORS if getattr(self, s)]
        if self.rules:
            parts.append(f"rules={'|'.join(self.rules)}")
        return ", ".join(parts) or "everything"

    def _host_ok(self, host: str) -> bool:
        h = host.lower().rstrip(".")
        return not self.host or any(h == x or h.endswith("." + x) for x in self.host)

    def _name_ok(self, sdk: str | None, vendor: str | None) -> bool:
        return (not self.sdk or (sdk or "").lower() in self.sdk) and (
            not self.vendor or (vendor or "").lower() in self.vendor)

    def matches_finding(self, f: AuditFinding) -> bool:
        if self.whole_rule:
            return True
        d = f.destination
        return (
            self._name_ok(d.sdk, d.vendor) and self._host_ok(f.host)
            and (not self.data_type or f.finding.data_type in self.data_type)
            and (not self.flow or f.flow_id in self.flow)
        )

    def matches_contact(self, c: AuditContact) -> bool:
        if self.whole_rule:
            return True
        if self.data_type:
            return False  # a bare connection carries no known data type
        d = c.destination
        return (
            self._name_ok(d.sdk, d.vendor) and self._host_ok(c.contact.host or c.contact.ip or "")
            and (not self.flow or contact_ref(c) in self.flow)
        )


@dataclass(frozen=True, slots=True)
class Suppressions:
    entries: tuple[Accept, ...] = ()
    thresholds: Thresholds | None = None
    path: str = ""
    #: the privacy policy's declared inventory, when the file has a [declared] table
    declared: Declared | None = None

    def for_rule(self, rule: str) -> tuple[Accept, ...]:
        return tuple(a for a in self.entries if a.applies_to(rule))


def _strings(value: object, where: str, *, lower: bool = False) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise SuppressionError(f"{where}: expected a non-empty string or a list of them")
    return tuple(v.strip().lower() if lower else v.strip() for v in items)


def parse_suppressions(data: dict, path: str = "<project file>") -> Suppressions:
    for key in data:
        if key not in ("accept", "thresholds", "declared", "format_version"):
            raise SuppressionError(
                f"{path}: {key}: unknown key; expected [[accept]] entries, [thresholds] and [declared]")
    if data.get("format_version", 1) != 1:
        raise SuppressionError(f"{path}: format_version: expected 1, got {data['format_version']!r}")
    thresholds = None
    if "thresholds" in data:
        table = data["thresholds"]
        names = {f.name: f.type for f in fields(Thresholds)}
        if not isinstance(table, dict):
            raise SuppressionError(f"{path}: thresholds: expected a table [thresholds]")
        for k, v in table.items():
            if k not in names:
                raise SuppressionError(f"{path}: thresholds.{k}: unknown key; expected one of {', '.join(names)}")
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SuppressionError(f"{path}: thresholds.{k}: expected a number, got {type(v).__name__}")
            if k == "repeat_count" and not isinstance(v, int):
                raise SuppressionError(f"{path}: thresholds.{k}: expected a whole number")
        try:
            thresholds = Thresholds(**table)
        except ValueError as e:
            raise SuppressionError(f"{path}: thresholds: {e}") from None
    entries = data.get("accept", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SuppressionError(f"{path}: accept: expected [[accept]] tables")
    out = []
    for i, entry in enumerate(entries, 1):
        where = f"{path}: accept #{i}"
        for k in entry:
            if k not in _KEYS:
                raise SuppressionError(f"{where}: {k}: unknown key; expected one of {', '.join(_KEYS)}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise SuppressionError(f"{where}: reason: every accepted finding needs a reason (a non-empty string)")
        values = {
            s: _strings(entry[s], f"{where}: {s}", lower=s in ("sdk", "vendor", "host"))
            for s in SELECTORS if s in entry
        }
        rules = _strings(entry["rules"], f"{where}: rules") if "rules" in entry else ()
        for r in rules:
            if not known_pattern(r):
                raise SuppressionError(f"{where}: rules: unknown rule {r!r}; expected IDs such as "
                                       f"{', '.join(list(RULES_INFO)[:4])}")
        if not values and not rules:
            raise SuppressionError(f"{where}: names nothing to accept: give sdk, vendor, host, data_type, flow "
                                   "or rules")
        if "host" in values:
            values["host"] = tuple(h.rstrip(".") for h in values["host"])
        out.append(Accept(reason.strip(), rules=rules, index=i, **values))
    declared = None
    if "declared" in data:
        try:
            declared = parse_declared(data["declared"])
        except DeclaredError as e:
            raise SuppressionError(f"{path}: {e}") from None
    return Suppressions(tuple(out), thresholds, path, declared)


def load_suppressions(path: str | Path) -> Suppressions:
    return parse_suppressions(read_toml(path, SuppressionError, "project file"), str(path))


@dataclass(frozen=True, slots=True)
class EntryUse:
    """How much of a session one entry accepted (the report shows unused entries too)."""

    entry: Accept
    findings: int
    contacts: int


def usage(suppressions: Suppressions, sessions: Iterable[SessionResult]) -> list[EntryUse]:
    sessions = list(sessions)
    return [
        EntryUse(
            a,
            0 if a.whole_rule else sum(a.matches_finding(f) for s in sessions for f in s.findings),
            0 if a.whole_rule else sum(a.matches_contact(c) for s in sessions for c in s.contacts),
        )
        for a in suppressions.entries
    ]


__all__ = [
    "Accept", "EntryUse", "SuppressionError", "Suppressions", "load_suppressions", "parse_suppressions",
    "rule_matches", "usage",
]
