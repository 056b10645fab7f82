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

if TYPE_CHECKING:
    # annotations only: importing the model (every reader does) must not load the tracker data
    from consentscope.destination import Destination
    from consentscope.detectors import Finding
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
    #: a hook saw the app read a privacy API (detail: data type, API, SDK; ``readers/hooks.py``)
    API_READ = "api-read"
    NOTE = "note"


class Via(StrEnum):
    """How a contact was seen."""

    TLS_SNI = "tls-sni"
    QUIC_SNI = "quic-sni"
    DNS = "dns"
    HTTPDNS = "httpdns"
    HTTP_CONNECT = "http-connect"
    HTTP = "http"
    #: a request whose payload decodes to nothing readable (encrypted or unknown binary)
    OPAQUE_REQUEST = "opaque-request"
    #: the client aborted the TLS handshake with the proxy (it pins its certificates)
    TLS_FAILED = "tls-failed"
    #: the proxy passed the connection through untouched (ignore_hosts, allow_hosts, other protocols)
    TLS_PASSTHROUGH = "tls-passthrough"


#: contacts whose content we could not read: they make a "not seen" verdict a "cannot tell"
UNREAD_VIA = frozenset({Via.TLS_FAILED, Via.TLS_PASSTHROUGH, Via.TLS_SNI, Via.QUIC_SNI})


class Readability(StrEnum):
    """What the decoder made of a request's payload."""

    READABLE = "readable"  # decoded to text or structure
    OPAQUE = "opaque"  # high-entropy or unknown binary beyond a small size: encrypted, most likely
    TRUNCATED = "truncated"  # scanned up to a limit only
    EMPTY = "empty"  # no payload at all


class Source(StrEnum):
    """The door a finding or contact came through."""

    FLOW = "flow"
    HAR = "har"
    PCAP = "pcap"
    LIVE = "live"
    HOOK = "hook"


#: event names in tie-break order (the order of ``Event``)
EVENTS: tuple[str, ...] = tuple(e.value for e in Event)
_EVENT_RANK = {e: i for i, e in enumerate(EVENTS)}


def event_rank(name: str) -> int:
    return _EVENT_RANK[name]


def parse_iso_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset; UTC without one). ValueError
    when it is not one; each caller words its own error around it."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


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
    #: bytes of the request (opaque requests) or of the connection, when known
    size: int | None = None
    #: TLS in packet captures: whether the connection's content was decrypted, and if not, why
    decrypted: bool | None = None
    reason: str | None = None


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
    source: str = Source.FLOW

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
    source: str = Source.FLOW

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


@dataclass(slots=True)
class DestinationCoverage:
    """How much of the traffic to one host could be read."""

    host: str
    sdk: str | None = None
    vendor: str | None = None
    party: str = ""
    requests: int = 0
    readable: int = 0
    opaque: int = 0
    truncated: int = 0
    empty: int = 0
    unread_connections: int = 0


#: Anomaly (live proxy): requests passed on unscanned because the detector was too far behind
#: (``addons.engine.MAX_BACKLOG_BYTES``); counted in the session's coverage as unread.
LIVE_UNSCANNED = "live-backlog-unscanned"

#: Reader anomalies that mean part of a capture was not read: a record skipped (a flow over
#: the size limit, a HAR entry malformed or over a bound, a packet that does not parse) or
#: TCP bytes dropped or assembled early by a bound. A session with any of them is not a
#: complete record of the traffic, so "not seen" cannot be claimed from it.
READER_SKIPS: frozenset[str] = frozenset({
    "flow-too-large", "har-entry-malformed", "har-entry-too-large", "har-entry-too-deep",
    "har-entry-number-too-long", "packet-unparsable", "pcapng-short-block", "ip-fragments-dropped",
    "tcp-stream-unparsable", "tcp-stream-truncated", "tcp-streams-limit", "tcp-open-bytes-limit",
    "quic-undecryptable", "quic-bad-frame", "quic-unknown-frame", "quic-stream-limit", "h3-no-headers",
    "qpack-incomplete", "quic-connection-unparsable", LIVE_UNSCANNED,
})

#: Requests whose unscanned part is listed by name (``Coverage.unscanned``); the rest are counted.
MAX_UNSCANNED_LISTED = 100


@dataclass(frozen=True, slots=True)
class UnscannedPart:
    """A request whose scan a limit stopped, and the part of it that was not scanned."""

    flow_id: str
    url: str
    part: str  # e.g. "everything after body.form:k19997 (views-limit)"


@dataclass(slots=True)
class Coverage:
    """What share of a session's traffic could be read: "not seen" is only a claim where it was.

    Unread connections: TLS handshakes the client aborted (pinning), connections passed
    through, and in packet captures TLS/QUIC connections whose content was not decrypted.
    ``unscanned``: requests a decoding limit stopped part way, with the part left unscanned
    (the first ``MAX_UNSCANNED_LISTED``; ``unscanned_requests`` counts them all).
    ``skipped``: what the capture reader could not read at all, by anomaly (``READER_SKIPS``)."""

    requests: int = 0
    readable: int = 0
    opaque: int = 0
    truncated: int = 0
    empty: int = 0
    unread_connections: int = 0
    destinations: dict[str, DestinationCoverage] = field(default_factory=dict)
    unscanned_requests: int = 0
    unscanned: list[UnscannedPart] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def _row(self, host: str, d: Destination | None) -> DestinationCoverage:
        row = self.destinations.get(host)
        if row is None:
            row = self.destinations[host] = DestinationCoverage(host)
        if d is not None and not row.party:
            row.sdk, row.vendor, row.party = d.sdk, d.vendor, d.party
        return row

    def add_request(self, host: str, d: Destination | None, readability: str) -> None:
        self.requests += 1
        row = self._row(host, d)
        row.requests += 1
        field_name = str(readability)
        setattr(self, field_name, getattr(self, field_name) + 1)
        setattr(row, field_name, getattr(row, field_name) + 1)

    def add_unread(self, host: str, d: Destination | None) -> None:
        self.unread_connections += 1
        self._row(host, d).unread_connections += 1

    def add_unscanned(self, part: UnscannedPart) -> None:
        self.unscanned_requests += 1
        if len(self.unscanned) < MAX_UNSCANNED_LISTED:
            self.unscanned.append(part)

    def add_skipped(self, anomalies: dict[str, int]) -> None:
        """Count the reader anomalies of ``anomalies`` that are ``READER_SKIPS``."""
        for name, n in anomalies.items():
            if name in READER_SKIPS and n:
                self.skipped[name] = self.skipped.get(name, 0) + n

    def merge(self, other: Coverage) -> None:
        for name in ("requests", "readable", "opaque", "truncated", "empty", "unread_connections",
                     "unscanned_requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for host, o in other.destinations.items():
            row = self._row(host, None)
            if not row.party:
                row.sdk, row.vendor, row.party = o.sdk, o.vendor, o.party
            for name in ("requests", "readable", "opaque", "truncated", "empty", "unread_connections"):
                setattr(row, name, getattr(row, name) + getattr(o, name))
        self.unscanned.extend(other.unscanned[: max(0, MAX_UNSCANNED_LISTED - len(self.unscanned))])
        self.add_skipped(other.skipped)

    @property
    def unread(self) -> int:
        """Requests and connections whose content was not (fully) read."""
        return self.opaque + self.truncated + self.unread_connections

    @property
    def skipped_records(self) -> int:
        """Records (and TCP stream pieces) the reader could not read at all."""
        return sum(self.skipped.values())

    def unread_third_party(self) -> list[DestinationCoverage]:
        return [d for d in self.sorted() if d.party != "first-party" and (d.opaque or d.unread_connections)]

    def sorted(self) -> list[DestinationCoverage]:
        return sorted(self.destinations.values(),
                      key=lambda d: (-(d.opaque + d.unread_connections + d.truncated), d.host))


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
    #: how much of the traffic could be read
    coverage: Coverage = field(default_factory=Coverage)


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the rules said of a set of sessions: the sessions (violations set) and the
    verdict per MIIT category over all of them. Every sink renders from this."""

    sessions: tuple[SessionResult, ...]
    verdicts: tuple[Verdict, ...]


__all__ = [
    "EVENTS",
    "LIVE_UNSCANNED",
    "MAX_UNSCANNED_LISTED",
    "NO_MARKERS",
    "READER_SKIPS",
    "UNREAD_VIA",
    "AuditContact",
    "AuditFinding",
    "ConsentMarkers",
    "Contact",
    "Coverage",
    "DestinationCoverage",
    "Event",
    "Judgement",
    "Phase",
    "Readability",
    "RequestSummary",
    "SessionResult",
    "Source",
    "TimelineEvent",
    "UnscannedPart",
    "Via",
    "event_rank",
    "iso_time",
    "parse_iso_time",
]
