"""One-line text for findings, shared by the CLI and the live proxy log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from consentscope.model import AuditContact, AuditFinding, SessionResult, Via

if TYPE_CHECKING:
    from consentscope.rules import Violation

_PHASE_TEXT = {
    "before-consent": "BEFORE consent",
    "after-consent": "after consent",
    "after-refusal": "AFTER REFUSAL",
    "after-withdrawal": "AFTER WITHDRAWAL",
    "no-consent-recorded": "no consent recorded",
}


def finding_line(f: AuditFinding) -> str:
    """``LEAK imei md5 -> umeng.com [Umeng, analytics, third-party] BEFORE consent``"""
    d = f.destination
    disguise = ">".join(f.finding.encoding) or "plain"
    who = ", ".join(x for x in (d.sdk, d.category, d.party) if x)
    return (
        f"LEAK {f.finding.data_type} {disguise} -> {f.host} [{who}] "
        f"{_PHASE_TEXT.get(f.phase, f.phase)}"
    )


#: what a contact of each kind means, in the live log
_CONTACT_TEXT: dict[str, str] = {
    Via.TLS_FAILED: "PINNED",
    Via.TLS_PASSTHROUGH: "PASSTHROUGH",
    Via.OPAQUE_REQUEST: "OPAQUE",
}


def contact_line(c: AuditContact) -> str | None:
    """``PINNED ulogs.umeng.com [Umeng …, third-party] BEFORE consent: content not visible``,
    for contacts whose content could not be read; None for the others."""
    word = _CONTACT_TEXT.get(c.contact.via)
    if word is None:
        return None
    d = c.destination
    who = ", ".join(x for x in (d.sdk, d.category, d.party) if x)
    size = f", {c.contact.size} bytes" if c.contact.size is not None else ""
    return (f"{word} {c.contact.host or c.contact.ip} [{who}] {_PHASE_TEXT.get(c.phase, c.phase)}: "
            f"content not visible{size}")


def violations_line(violations: Sequence[Violation]) -> str:
    """``3 violations: MIIT-1.2, MIIT-3, PIPL-23 (1 accepted)``"""
    active = [v for v in violations if not v.suppressed]
    accepted = len(violations) - len(active)
    rules = ", ".join(dict.fromkeys(v.rule for v in active))
    text = f"{len(active)} violation{'s' if len(active) != 1 else ''}" + (f": {rules}" if rules else "")
    return text + (f" ({accepted} accepted)" if accepted else "")


def coverage_line(r: SessionResult) -> str:
    """``2 of 5 requests readable; 3 requests or connections to Umeng, GDT could not be read``"""
    c = r.coverage
    text = f"{c.readable + c.empty} of {c.requests} requests readable"
    unread = [d for d in c.sorted() if d.opaque or d.truncated or d.unread_connections]
    if unread:
        who = sorted({d.sdk or d.host for d in unread})
        n = c.opaque + c.truncated + c.unread_connections
        text += (f"; {n} requests or connections to {', '.join(who[:6])}{' and more' if len(who) > 6 else ''} "
                 "could not be read")
    if c.unscanned_requests:
        text += f"; {c.unscanned_requests} scanned only in part (a decoding limit)"
    if c.skipped:
        text += "; not read: " + ", ".join(f"{name} {n}" for name, n in sorted(c.skipped.items()))
    return text
