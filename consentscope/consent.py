"""The consent timeline: which phase each transmission falls in.

All transitions live in one table (``PHASE_AFTER``), as h11 keeps its state machine in
one place; documentation and tests read the same table.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

#: Before any consent-related event, if the session records one at all.
BEFORE_CONSENT = "before-consent"
#: The session records no consent event: nothing can be said about consent.
NO_CONSENT_RECORDED = "no-consent-recorded"

#: event -> phase that starts with it. Events not listed here (app start, notes,
#: permissions) are kept in the timeline but do not change the phase.
PHASE_AFTER: dict[str, str] = {
    "consent": "after-consent",
    "refusal": "after-refusal",
    "withdrawal": "after-withdrawal",
}

PHASES: tuple[str, ...] = (BEFORE_CONSENT, *PHASE_AFTER.values(), NO_CONSENT_RECORDED)

#: Every event name the timeline accepts (regulations.md §1.1 markers). The order breaks ties
#: between events at the same time. ``detail`` carries: the permission's name for
#: permission-*, ``necessary_only`` or ``full`` for consent-scope, the function's name for
#: feature. App state (foreground/background), personalisation and scope do not change the
#: consent phase; the rules read them from the timeline.
EVENTS: tuple[str, ...] = (
    "app-start", "foreground", "policy-shown", "consent", "consent-scope", "refusal", "withdrawal",
    "personalization-off", "personalization-on", "feature",
    "permission-asked", "permission-granted", "permission-denied",
    "background", "account-deletion", "note",
)

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
}


def normalize_event(name: str) -> str:
    try:
        return EVENT_ALIASES[name.strip().lower().replace("_", "-")]
    except KeyError:
        raise ValueError(f"unknown event {name!r}; expected one of {', '.join(EVENTS)}") from None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    time: float
    event: str
    detail: str = ""
    source: str = ""  # "cli", "marker", "device", "command", "file"

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r}")


class ConsentTimeline:
    """A session's events in time order; answers "which phase was time t in?"."""

    def __init__(self, events: Iterable[TimelineEvent] = ()) -> None:
        self._events: list[TimelineEvent] = []
        self._times: list[float] = []
        self._phases: list[str] = []
        for e in events:
            self.add(e)

    def add(self, event: TimelineEvent) -> None:
        self._events.append(event)
        self._events.sort(key=lambda e: (e.time, EVENTS.index(e.event)))
        transitions = [e for e in self._events if e.event in PHASE_AFTER]
        self._times = [e.time for e in transitions]
        self._phases = [PHASE_AFTER[e.event] for e in transitions]

    @property
    def events(self) -> tuple[TimelineEvent, ...]:
        return tuple(self._events)

    def has(self, event: str) -> bool:
        return any(e.event == event for e in self._events)

    def phase_at(self, t: float) -> str:
        """A transmission at exactly the consent time counts as after it (it is the tap)."""
        if not self._times:
            return NO_CONSENT_RECORDED
        i = bisect_right(self._times, t)
        return self._phases[i - 1] if i else BEFORE_CONSENT
