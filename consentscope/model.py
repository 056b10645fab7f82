"""The result types every layer shares: pipeline, rules, storage and reports import them
from here, and this module imports none of those.

A session's result is findings (a detector ``Finding`` placed in its session: which
request, to whom, in which consent phase), contacts (connections and lookups whose content
was not seen), the timeline, and the counts; violations and verdicts are added by the rules.
How these look as JSON is the business of ``consentscope.reports.json_report``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from consentscope.destination import Destination
from consentscope.detectors import Finding

if TYPE_CHECKING:
    from consentscope.rules import Verdict, Violation


class Phase(StrEnum):
    """Where a transmission falls relative to the user's choice (``consent.PHASE_AFTER``)."""

    BEFORE_CONSENT = "before-consent"
    AFTER_CONSENT = "after-consent"
    AFTER_REFUSAL = "after-refusal"
    AFTER_WITHDRAWAL = "after-withdrawal"
    #: the session records no consent event: nothing can be said about consent
    NO_CONSENT_RECORDED = "no-consent-recorded"


class Event(StrEnum):
    """Timeline event names (regulations.md §1.1 markers). The order breaks ties between
    events at the same time."""

    APP_START = "app-start"
    FOREGROUND = "foreground"
    POLICY_SHOWN = "policy-shown"
    CONSENT = "consent"
    CONSENT_SCOPE = "consent-scope"
    REFUSAL = "refusal"
    WITHDRAWAL = "withdrawal"
    PERSONALIZATION_OFF = "personalization-off"
    PERSONALIZATION_ON = "personalization-on"
    FEATURE = "feature"
    PERMISSION_ASKED = "permission-asked"
    PERMISSION_GRANTED = "permission-granted"
    PERMISSION_DENIED = "permission-denied"
    BACKGROUND = "background"
    ACCOUNT_DELETION = "account-deletion"
    NOTE = "note"


class Via(StrEnum):
    """How a contact was seen."""

    TLS_SNI = "tls-sni"
    QUIC_SNI = "quic-sni"
    DNS = "dns"
    HTTPDNS = "httpdns"
    HTTP_CONNECT = "http-connect"
    HTTP = "http"


#: event names in tie-break order (the order of ``Event``)
EVENTS: tuple[str, ...] = tuple(e.value for e in Event)
_EVENT_RANK = {e: i for i, e in enumerate(EVENTS)}


def event_rank(name: str) -> int:
    return _EVENT_RANK[name]


def iso_time(t: float) -> str:
    """ISO 8601 UTC with milliseconds: stable text for the same float."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    time: float
    event: str
    detail: str = ""
    source: str = ""  # "cli", "marker", "device", "command", "file"

    def __post_init__(self) -> None:
        if self.event not in _EVENT_RANK:
            raise ValueError(f"unknown event {self.event!r}")


@dataclass(frozen=True, slots=True)
class Contact:
    """A connection or name lookup seen without (or before) its content (``via``: ``Via``)."""

    time: float
    host: str
    ip: str | None
    port: int | None
    via: str
    tls_version: str | None = None
    flow_id: str = ""


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """A detector finding placed in its session: which request, where to, which phase."""

    session: str
    flow_id: str
    time: float
    method: str
    url: str
    host: str
    destination: Destination
    finding: Finding
    phase: str

    def sort_key(self) -> tuple[Any, ...]:
        f = self.finding
        return (self.time, self.flow_id, f.data_type, f.location, f.encoding)


@dataclass(frozen=True, slots=True)
class AuditContact:
    """A connection or lookup whose content we may not see, placed in its session."""

    session: str
    contact: Contact
    destination: Destination
    phase: str

    def sort_key(self) -> tuple[Any, ...]:
        c = self.contact
        return (c.time, c.host, c.ip or "", c.port or 0, c.via)


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What the database keeps of every request (no body, no headers)."""

    flow_id: str
    time: float
    method: str
    url: str
    host: str
    party: str
    sdk: str | None


@dataclass(frozen=True, slots=True)
class ConsentMarkers:
    """How consent is known for a capture: a fixed time and/or URL patterns."""

    consent_at: float | None = None
    consent: re.Pattern[str] | None = None
    refusal: re.Pattern[str] | None = None


#: no consent markers (the default)
NO_MARKERS = ConsentMarkers()


@dataclass(slots=True)
class SessionResult:
    id: str
    label: str
    sources: tuple[str, ...]
    app_package: str
    findings: list[AuditFinding]
    events: tuple[TimelineEvent, ...]
    requests: int
    contacts: list[AuditContact]
    anomalies: Counter[str]
    errors: list[str]
    started: float | None
    ended: float | None
    #: set by the rules (``consentscope.session.judge``)
    violations: list[Violation] = field(default_factory=list)
    #: what the rules need of the profile, kept with the session so a report from the
    #: database judges it as the replay did (the app type's necessary set, location precision)
    app_name: str = ""
    app_type: str = ""
    location_precision_m: float | None = None
    #: every request without its content, kept only when the session is stored
    request_log: list[RequestSummary] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the rules said of a set of sessions: the sessions (violations set) and the
    verdict per MIIT category over all of them. Every sink renders from this."""

    sessions: tuple[SessionResult, ...]
    verdicts: tuple[Verdict, ...]


__all__ = [
    "EVENTS",
    "NO_MARKERS",
    "AuditContact",
    "AuditFinding",
    "ConsentMarkers",
    "Contact",
    "Event",
    "Judgement",
    "Phase",
    "RequestSummary",
    "SessionResult",
    "TimelineEvent",
    "Via",
    "event_rank",
    "iso_time",
]
