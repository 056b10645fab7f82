"""What the rules ask of a session's timeline.

Event names are those of ``consentscope.consent.EVENTS`` (the markers of regulations.md
§1.1); a check whose events a session's timeline does not carry stays silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from consentscope.consent import BEFORE_CONSENT, PHASE_AFTER, TimelineEvent
from consentscope.model import iso_time

CONSENT = "consent"
REFUSAL = "refusal"
WITHDRAWAL = "withdrawal"
POLICY_SHOWN = "policy-shown"
PERMISSION_ASKED = "permission-asked"
PERMISSION_GRANTED = "permission-granted"
PERMISSION_DENIED = "permission-denied"
ACCOUNT_DELETION = "account-deletion"
CONSENT_SCOPE = "consent-scope"
PERSONALIZATION_OFF = "personalization-off"
PERSONALIZATION_ON = "personalization-on"
FOREGROUND = "foreground"
BACKGROUND = "background"
FEATURE = "feature"

AFTER_CONSENT = PHASE_AFTER[CONSENT]
AFTER_REFUSAL = PHASE_AFTER[REFUSAL]
AFTER_WITHDRAWAL = PHASE_AFTER[WITHDRAWAL]
#: phases in which personal information must not leave the device
WITHOUT_CONSENT = (BEFORE_CONSENT, AFTER_REFUSAL, AFTER_WITHDRAWAL)

NECESSARY_ONLY = "necessary_only"
FULL = "full"
_SCOPES = {
    "necessary_only": NECESSARY_ONLY, "necessary-only": NECESSARY_ONLY, "necessary": NECESSARY_ONLY,
    "basic": NECESSARY_ONLY, "basic_only": NECESSARY_ONLY, "full": FULL, "all": FULL,
}


def scope_name(detail: str) -> str | None:
    """``necessary_only`` or ``full`` from a consent-scope event's detail (first word)."""
    words = detail.strip().lower().split()
    return _SCOPES.get(words[0].rstrip(",;:")) if words else None


def times(events: Iterable[TimelineEvent], name: str) -> tuple[str, ...]:
    return tuple(iso_time(e.time) for e in events if e.event == name)


def state_at(events: Sequence[TimelineEvent], t: float, on: str, off: str) -> bool | None:
    """Whether the latest of ``on``/``off`` at or before ``t`` is ``on``; None if neither yet."""
    state = None
    for e in events:
        if e.time > t:
            break
        if e.event == on:
            state = True
        elif e.event == off:
            state = False
    return state


def scope_at(events: Sequence[TimelineEvent], t: float) -> str | None:
    """The consent scope in force at ``t`` (latest consent-scope event at or before it)."""
    scope = None
    for e in events:
        if e.time > t:
            break
        if e.event == CONSENT_SCOPE:
            scope = scope_name(e.detail) or scope
    return scope


def first_event_after(events: Sequence[TimelineEvent], name: str, t: float) -> TimelineEvent | None:
    return next((e for e in events if e.event == name and e.time >= t), None)


def last_event_before(events: Sequence[TimelineEvent], name: str, t: float) -> TimelineEvent | None:
    found = None
    for e in events:
        if e.time > t:
            break
        if e.event == name:
            found = e
    return found
