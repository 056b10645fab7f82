"""Small helpers the rules share: evidence tuples and sentences in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from consentscope.destination import Destination
from consentscope.model import AuditContact, AuditFinding, SessionResult, iso_time

from ._model import Violation

#: checks whose evidence is bare connections (``contact_violation``), not requests
CONTACT_CHECKS = frozenset({"contact-only", "undeclared-contact"})
#: names listed in one sentence before "and N more"
LIST_IN_SENTENCE = 5


def flows(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.flow_id for f in findings))


def contact_ref(c: AuditContact) -> str:
    """A contact's evidence reference: its flow id, else ``via:host``."""
    return c.contact.flow_id or f"{c.contact.via}:{c.contact.host or c.contact.ip}"


_KNOWN = ("third-party", "same-group-sdk", "os-service")


def recipient(d: Destination) -> str:
    """``first``, ``known`` (an SDK or another company) or ``unknown`` (may be the app's own
    servers on shared infrastructure)."""
    if d.party == "first-party":
        return "first"
    if d.sdk or d.relation in _KNOWN:
        return "known"
    return "unknown"


def data_types(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    return tuple(sorted({f.finding.data_type for f in findings}))


def who(f: AuditFinding) -> str:
    """A destination in words: the SDK's name, else the registrable domain, else the host."""
    d = f.destination
    return d.sdk or d.registrable_domain or f.host


def destinations(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    return tuple(sorted({who(f) for f in findings}))


def requests(findings: Sequence[AuditFinding]) -> int:
    return len({f.flow_id for f in findings})


def en_list(items: Sequence[str], limit: int = LIST_IN_SENTENCE) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return items[0] if items else ""


def zh_list(items: Sequence[str], limit: int = LIST_IN_SENTENCE) -> str:
    items = list(items)
    if len(items) > limit:
        return "、".join(items[:limit]) + f"等{len(items)}项"
    return "、".join(items)


def finding_violation(
    result: SessionResult, rule: str, severity: str, confidence: str, hits: Sequence[AuditFinding], check: str,
    en: str, zh: str, events: tuple[str, ...] = (),
) -> Violation:
    """A violation resting on requests; ``en``/``zh`` may use ``{n}`` (requests), ``{types}``
    and ``{who}`` (destinations), filled in each language's list style."""
    types, who = data_types(hits), destinations(hits)
    n = requests(hits)
    return Violation(
        rule, severity, confidence,
        en.format(n=n, types=en_list(types), who=en_list(who)),
        flows(hits), events, result.id, types,
        explanation_zh=zh.format(n=n, types=zh_list(types), who=zh_list(who)),
        check=check, destinations=who,
    )


def contact_violation(
    result: SessionResult, rule: str, hits: Sequence[AuditContact], check: str, en: str, zh: str,
    events: tuple[str, ...] = (),
) -> Violation:
    """A violation resting on bare connections (no content seen): always low severity and
    confidence. ``en``/``zh`` may use ``{count}`` and ``{sdks}`` (the SDKs contacted) and
    ``{first}`` (time, way and host of the earliest)."""
    sdks = tuple(sorted({c.destination.sdk or c.contact.host for c in hits}))
    c = min(hits, key=lambda c: c.contact.time).contact
    first = f"{iso_time(c.time)} ({c.via} {c.host})"
    return Violation(
        rule, "low", "low",
        en.format(count=len(sdks), sdks=en_list(sdks), first=first),
        tuple(dict.fromkeys(contact_ref(c) for c in hits)), events, result.id, (),
        explanation_zh=zh.format(count=len(sdks), sdks=zh_list(sdks), first=first),
        check=check, destinations=sdks,
    )
