"""Small helpers the rules share: evidence tuples and sentences in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from consentscope.destination import Destination
from consentscope.model import AuditContact, AuditFinding, SessionResult, iso_time
from consentscope.reports.i18n import DATA_TYPES_ZH, Words

from ._model import Violation

#: checks whose evidence is bare connections (``contact_violation``), not requests
CONTACT_CHECKS = frozenset({"contact-only", "undeclared-contact"})
#: names listed in one sentence before "and N more"
LIST_IN_SENTENCE = 5
#: the report's Chinese vocabulary (data types, SDK and vendor names from tracker_db, party,
#: category, connection kinds): the one source of the names ``explanation_zh`` uses
ZH = Words("zh")


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


def name_zh(d: Destination, host: str) -> str:
    """``who`` in Chinese: the SDK's Chinese name (tracker_db ``name_zh``), else the domain or host."""
    if d.sdk:
        return ZH.sdk(d.sdk, d.vendor, d.name_zh)
    return d.registrable_domain or host


def who_zh(f: AuditFinding) -> str:
    return name_zh(f.destination, f.host)


def destinations_zh(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    """``destinations`` in Chinese, in the same order (sorted by the English name)."""
    names: dict[str, str] = {}
    for f in findings:
        names.setdefault(who(f), who_zh(f))
    return tuple(names[k] for k in sorted(names))


def sdk_zh(sdk: str) -> str:
    """An SDK named by tracker_db (a hook log's caller) in Chinese; other names as written."""
    return ZH.sdk(sdk)


def types_zh(types: Sequence[str], limit: int = LIST_IN_SENTENCE) -> str:
    """Data types (finding ``data_type`` keys) as a Chinese list: IMEI(设备识别码)、已安装应用列表…"""
    return zh_list([data_type_zh(t) for t in types], limit)


def data_type_zh(data_type: str) -> str:
    """The report's Chinese name; a custom profile key that is a slug of the PI vocabulary
    (necessary_pi.yaml) its Chinese label there; any other custom key as written."""
    from consentscope.appdata import pi_vocabulary

    if data_type in DATA_TYPES_ZH:
        return DATA_TYPES_ZH[data_type]
    v = pi_vocabulary().get(data_type)
    return v["zh"] if v else data_type


def via_zh(via: str) -> str:
    return ZH.via(via)


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


def contact_zh(c: AuditContact) -> str:
    """A bare connection's destination in Chinese: the SDK's Chinese name, else the host."""
    d = c.destination
    return ZH.sdk(d.sdk, d.vendor, d.name_zh) if d.sdk else (c.contact.host or c.contact.ip or "?")


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
        explanation_zh=zh.format(n=n, types=types_zh(types), who=zh_list(destinations_zh(hits))),
        check=check, destinations=who,
    )


def contact_violation(
    result: SessionResult, rule: str, hits: Sequence[AuditContact], check: str, en: str, zh: str,
    events: tuple[str, ...] = (),
) -> Violation:
    """A violation resting on bare connections (no content seen): always low severity and
    confidence. ``en``/``zh`` may use ``{count}`` and ``{sdks}`` (the SDKs contacted) and
    ``{first}`` (time, way and host of the earliest)."""
    names: dict[str, str] = {}
    for h in hits:
        names.setdefault(h.destination.sdk or h.contact.host, contact_zh(h))
    sdks = tuple(sorted(names))
    c = min(hits, key=lambda c: c.contact.time).contact
    first = f"{iso_time(c.time)} ({c.via} {c.host})"
    first_zh = f"{iso_time(c.time)}（{via_zh(c.via)} {c.host}）"
    return Violation(
        rule, "low", "low",
        en.format(count=len(sdks), sdks=en_list(sdks), first=first),
        tuple(dict.fromkeys(contact_ref(c) for c in hits)), events, result.id, (),
        explanation_zh=zh.format(count=len(sdks), sdks=zh_list([names[k] for k in sdks]), first=first_zh),
        check=check, destinations=sdks,
    )
