"""The consent timeline: which phase each transmission falls in.

All transitions live in one table (``PHASE_AFTER``), as h11 keeps its state machine in
one place; documentation and tests read the same table.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from consentscope.model import EVENTS, Event, Phase, TimelineEvent, event_rank

BEFORE_CONSENT = Phase.BEFORE_CONSENT
NO_CONSENT_RECORDED = Phase.NO_CONSENT_RECORDED

#: event -> phase that starts with it. Events not listed here (app start, notes,
#: permissions) are kept in the timeline but do not change the phase.
PHASE_AFTER: dict[str, Phase] = {
    Event.CONSENT: Phase.AFTER_CONSENT,
    Event.REFUSAL: Phase.AFTER_REFUSAL,
    Event.WITHDRAWAL: Phase.AFTER_WITHDRAWAL,
}

PHASES: tuple[str, ...] = tuple(p.value for p in Phase)

#: Friendly spellings accepted on the command line and from the device page.
EVENT_ALIASES = {
    "consent": "consent",
    "agree": "consent",
    "accept": "consent",
    "refuse": "refusal",
    "refusal": "refusal",
    "decline": "refusal",
    "withdraw": "withdrawal",
    "withdrawal": "withdrawal",
    "start": "app-start",
    "app-start": "app-start",
    "policy": "policy-shown",
    "policy-shown": "policy-shown",
    "note": "note",
    "permission-asked": "permission-asked",
    "permission-granted": "permission-granted",
    "permission-denied": "permission-denied",
    "account-deletion": "account-deletion",
    "delete-account": "account-deletion",
    # the marker names of regulations.md §1.1 (also with "_", see normalize_event)
    "session-start": "app-start",
    "consent-accepted": "consent",
    "consent-refused": "refusal",
    "consent-withdrawn": "withdrawal",
    "account-deleted": "account-deletion",
    "consent-scope": "consent-scope",
    "scope": "consent-scope",
    "personalization-off": "personalization-off",
    "personalisation-off": "personalization-off",
    "personalization-on": "personalization-on",
    "personalisation-on": "personalization-on",
    "foreground": "foreground",
    "background": "background",
    "feature": "feature",
    "api-read": "api-read",
}


def normalize_event(name: str) -> str:
    try:
        return EVENT_ALIASES[name.strip().lower().replace("_", "-")]
    except KeyError:
        raise ValueError(f"unknown event {name!r}; expected one of {', '.join(EVENTS)}") from None


class ConsentTimeline:
    """A session's events in time order; answers "which phase was time t in?"."""

    def __init__(self, events: Iterable[TimelineEvent] = ()) -> None:
        self._events: list[TimelineEvent] = []
        self._times: list[float] = []
        self._phases: list[Phase] = []
        for e in events:
            self.add(e)

    def add(self, event: TimelineEvent) -> None:
        self._events.append(event)
        self._events.sort(key=lambda e: (e.time, event_rank(e.event)))
        transitions = [e for e in self._events if e.event in PHASE_AFTER]
        self._times = [e.time for e in transitions]
        self._phases = [PHASE_AFTER[e.event] for e in transitions]

    @property
    def events(self) -> tuple[TimelineEvent, ...]:
        return tuple(self._events)

    def has(self, event: str) -> bool:
        return any(e.event == event for e in self._events)

    def phase_at(self, t: float, *, live: bool = False) -> Phase:
        """The phase of a transmission at ``t``: the one place phases are decided.

        A transmission at exactly the consent time counts as after it (it is the tap). With
        no consent event at all the phase is unknown, except ``live``: a session still
        running has had no consent *yet*, so it is before consent until an event arrives
        (the report decides from the complete timeline when the session ends)."""
        if not self._times:
            return BEFORE_CONSENT if live else NO_CONSENT_RECORDED
        i = bisect_right(self._times, t)
        return self._phases[i - 1] if i else BEFORE_CONSENT


__all__ = [
    "BEFORE_CONSENT",
    "EVENTS",
    "EVENT_ALIASES",
    "NO_CONSENT_RECORDED",
    "PHASES",
    "PHASE_AFTER",
    "ConsentTimeline",
    "TimelineEvent",
    "normalize_event",
]
