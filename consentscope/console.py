"""One-line text for findings, shared by the CLI and the live proxy log."""

from __future__ import annotations

from consentscope.model import AuditFinding

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
