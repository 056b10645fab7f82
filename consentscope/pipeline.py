"""One pipeline, many doors: capture items in, audit findings out.

Every source (live addon, flow file, HAR, pcap) feeds ``Audit.feed``; the detectors find
the data, the classifier names the destination, the timeline gives the phase. Sinks
(database, JSON, HTML) take the ``SessionResult``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from consentscope.consent import BEFORE_CONSENT, NO_CONSENT_RECORDED, ConsentTimeline, TimelineEvent
from consentscope.destination import Destination, DestinationClassifier
from consentscope.detectors import Finding, RequestRecord, Scanner
from consentscope.profile import Profile
from consentscope.readers import Contact

#: Requests to this reserved name are the tester's own marks, never traffic: the live addon
#: answers them, and a replay of the saved flows reads the same marks back.
RESERVED_HOST = "consentscope.invalid"
DEVICE_MARKS = {"/consent": "consent", "/refuse": "refusal", "/withdraw": "withdrawal"}


def device_mark(record: RequestRecord) -> str | None:
    """The timeline event a request to the reserved host stands for, if any."""
    if record.host != RESERVED_HOST:
        return None
    return DEVICE_MARKS.get(record.path.split("?", 1)[0].rstrip("/") or "/")


def iso_time(t: float) -> str:
    """ISO 8601 UTC with milliseconds: stable text for the same float."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    def sort_key(self) -> tuple:
        f = self.finding
        return (self.time, self.flow_id, f.data_type, f.location, f.encoding)

    def to_json(self) -> dict:
        d, f = self.destination, self.finding
        return {
            "session": self.session,
            "flow_id": self.flow_id,
            "time": iso_time(self.time),
            "method": self.method,
            "url": self.url,
            "host": self.host,
            **d.to_json(),
            "data_type": f.data_type,
            "encoding": list(f.encoding),
            "location": f.location,
            "phase": self.phase,
            "evidence": f.evidence,
        }


@dataclass(frozen=True, slots=True)
class AuditContact:
    """A connection or lookup whose content we may not see, placed in its session."""

    session: str
    contact: Contact
    destination: Destination
    phase: str

    def sort_key(self) -> tuple:
        c = self.contact
        return (c.time, c.host, c.ip or "", c.port or 0, c.via)

    def to_json(self) -> dict:
        c, d = self.contact, self.destination
        return {
            "session": self.session,
            "time": iso_time(c.time),
            "host": c.host,
            "ip": c.ip,
            "port": c.port,
            "via": c.via,
            "tls_version": c.tls_version,
            **d.to_json(),
            "phase": self.phase,
        }


@dataclass(frozen=True, slots=True)
class ConsentMarkers:
    """How consent is known for a capture: a fixed time and/or URL patterns."""

    consent_at: float | None = None
    consent: re.Pattern[str] | None = None
    refusal: re.Pattern[str] | None = None


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
    violations: list = field(default_factory=list)  # consentscope.rules.Violation, set by the caller
    #: what the rules need of the profile, kept with the session so a report from the
    #: database judges it as the replay did (the app type's necessary set, location precision)
    app_name: str = ""
    app_type: str = ""
    location_precision_m: float | None = None

    def summary(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "sources": list(self.sources),
            "app": self.app_package or None,
            "app_type": self.app_type or None,
            "started": iso_time(self.started) if self.started is not None else None,
            "ended": iso_time(self.ended) if self.ended is not None else None,
            "requests": self.requests,
            "findings": len(self.findings),
            "contacts": len(self.contacts),
            "events": [
                {"time": iso_time(e.time), "event": e.event, "detail": e.detail, "source": e.source}
                for e in self.events
            ],
            "anomalies": dict(sorted(self.anomalies.items())),
            "errors": list(self.errors),
        }


@dataclass(slots=True)
class _Pending:
    record: RequestRecord
    destination: Destination
    findings: tuple[Finding, ...]


class Audit:
    """One session of traffic against one profile."""

    def __init__(
        self,
        session_id: str,
        profile: Profile,
        scanner: Scanner,
        *,
        label: str = "",
        sources: Iterable[str] = (),
        markers: ConsentMarkers = ConsentMarkers(),
        classifier: DestinationClassifier | None = None,
    ) -> None:
        self.session_id = session_id
        self.profile = profile
        self.scanner = scanner
        self.label = label or session_id
        self.sources = tuple(sources)
        self.markers = markers
        self.classifier = classifier or DestinationClassifier(
            profile.app.first_party_domains, app_package=profile.app.package or None
        )
        self.timeline = ConsentTimeline()
        if markers.consent_at is not None:
            self.timeline.add(TimelineEvent(markers.consent_at, "consent", "--consent-at", "cli"))
        self._pending: list[_Pending] = []
        self._seen_consent_marker = False
        self._seen_refusal_marker = False
        self.requests = 0
        self.contacts: list[Contact] = []
        self.anomalies: Counter[str] = Counter()
        self.errors: list[str] = []
        self.started: float | None = None
        self.ended: float | None = None
        self.record_sink: list[tuple[RequestRecord, Destination]] | None = None
        #: replays read device marks from the saved flows; the live addon records them itself
        self.timeline_from_device = True
        self.last_anomalies: tuple[str, ...] = ()
        #: live sessions report "before consent" until an event arrives
        self.live = False
        #: called for events the audit itself finds (marker requests), e.g. to store them
        self.on_event: Callable[[TimelineEvent], None] | None = None

    def _span(self, t: float) -> None:
        self.started = t if self.started is None else min(self.started, t)
        self.ended = t if self.ended is None else max(self.ended, t)

    def feed(self, item: RequestRecord | Contact) -> list[AuditFinding]:
        """Scan one item; returns its findings with the phase known so far."""
        if isinstance(item, Contact):
            self.contacts.append(item)
            self._span(item.time)
            if item.via in ("tls-sni", "quic-sni", "dns"):
                self._check_markers(item.host, item.time)  # encrypted traffic: a name can mark consent
            if item.ip and item.via in ("dns", "httpdns", "tls-sni"):
                self.classifier.observe_dns(item.host, [item.ip])
            return []
        record = item
        if record.host == RESERVED_HOST:
            mark = device_mark(record)
            if mark is not None and self.timeline_from_device:
                self._add_event(TimelineEvent(record.time, mark, record.path, "device"))
            return []
        self.requests += 1
        self._span(record.time)
        self._check_markers(record.url, record.time)
        result = self.scanner.scan(record)
        self.last_anomalies = result.anomalies
        self.anomalies.update(result.anomalies)
        destination = self.classifier.classify(record.host, path=record.path, ip=record.server_ip, sni=record.sni)
        if self.record_sink is not None:
            self.record_sink.append((record, destination))
        if not result.findings:
            return []
        self._pending.append(_Pending(record, destination, result.findings))
        phase = self.timeline.phase_at(record.time)
        if self.live and phase == NO_CONSENT_RECORDED:
            phase = BEFORE_CONSENT  # live: no consent *yet*; the report decides at the end
        return [self._audit_finding(record, destination, f, phase) for f in result.findings]

    def _check_markers(self, text: str, t: float) -> None:
        m = self.markers
        if m.consent is not None and not self._seen_consent_marker and m.consent.search(text):
            self._seen_consent_marker = True
            self._add_event(TimelineEvent(t, "consent", text, "marker"))
        if m.refusal is not None and not self._seen_refusal_marker and m.refusal.search(text):
            self._seen_refusal_marker = True
            self._add_event(TimelineEvent(t, "refusal", text, "marker"))

    def _add_event(self, event: TimelineEvent) -> None:
        self.timeline.add(event)
        if self.on_event is not None:
            self.on_event(event)

    def _audit_finding(
        self, record: RequestRecord, destination: Destination, finding: Finding, phase: str
    ) -> AuditFinding:
        return AuditFinding(
            session=self.session_id,
            flow_id=record.flow_id,
            time=record.time,
            method=record.method,
            url=record.url,
            host=record.host,
            destination=destination,
            finding=finding,
            phase=phase,
        )

    def finish(self) -> SessionResult:
        """All findings with phases from the complete timeline, in the promised order."""
        out = []
        for p in self._pending:
            phase = self.timeline.phase_at(p.record.time)
            out.extend(self._audit_finding(p.record, p.destination, f, phase) for f in p.findings)
        out.sort(key=AuditFinding.sort_key)
        contacts = [
            AuditContact(
                self.session_id, c, self.classifier.classify(c.host or c.ip or "unknown", ip=c.ip),
                self.timeline.phase_at(c.time),
            )
            for c in self.contacts
            if c.host or c.ip
        ]
        contacts.sort(key=AuditContact.sort_key)
        return SessionResult(
            id=self.session_id,
            label=self.label,
            sources=self.sources,
            app_package=self.profile.app.package,
            findings=out,
            events=self.timeline.events,
            requests=self.requests,
            contacts=contacts,
            anomalies=self.anomalies,
            errors=self.errors,
            started=self.started,
            ended=self.ended,
            app_name=self.profile.app.name,
            app_type=self.profile.app.app_type,
            location_precision_m=self.profile.location.precision_m if self.profile.location else None,
        )


def with_phase(f: AuditFinding, phase: str) -> AuditFinding:
    return replace(f, phase=phase)


__all__ = ["Audit", "AuditContact", "AuditFinding", "ConsentMarkers", "SessionResult", "iso_time"]
