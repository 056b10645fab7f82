"""Audit a session, judge a session: the one sequence every door and command goes through.

    door (flow file, HAR, pcap, live addon) → RequestRecord / Contact
      → ``Audit.feed``: detectors (decode + scan), destination, consent phase
      → ``Audit.finish``: phases from the complete timeline → ``SessionResult``
      → ``judge``: the rules → violations + verdicts (``Judgement``)
      → sinks: ``store`` (database), ``write_reports`` (JSON, HTML, CSV, XLSX)

``replay`` runs ``audit_capture`` per file, then ``judge``, ``store`` and ``write_reports``;
``report`` runs ``load`` (from the database), ``judge``, ``write_reports``; the live engine
feeds an ``Audit`` request by request and, when the session ends, ``judge_stored``; a batch
runner does what ``replay`` does, per capture. None of them assembles the steps itself.

An ``Audit`` keeps what the result needs (times, destinations, findings), never the
requests: a record and its body are let go as soon as they are scanned (a replay with scan
workers holds a few batches of them while their scans are out). A live audit keeps not even
the findings (they go to the database as they are made).
"""

from __future__ import annotations

import gc
import io
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from consentscope.consent import ConsentTimeline
from consentscope.destination import Destination, DestinationClassifier
from consentscope.detectors import SCAN_GC_THRESHOLD, Finding, GeoPoint, RequestRecord, Scanner, ScanResult
from consentscope.model import (
    NO_MARKERS,
    UNREAD_VIA,
    AuditContact,
    AuditFinding,
    ConsentMarkers,
    Contact,
    Coverage,
    Event,
    Judgement,
    Readability,
    RequestSummary,
    SessionResult,
    Source,
    TimelineEvent,
    UnscannedPart,
    Via,
)
from consentscope.profile import AppInfo, Profile
from consentscope.readers._base import CaptureError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from consentscope.readers._keylog import KeyLog
    from consentscope.readers.flowfile import Frame
    from consentscope.readers.hooks import HookLog
    from consentscope.rules import Suppressions, Violation

#: Requests to this reserved name are the tester's own marks, never traffic: the live addon
#: answers them, and a replay of the saved flows reads the same marks back.
RESERVED_HOST = "consentscope.invalid"
DEVICE_MARKS = {"/consent": Event.CONSENT, "/refuse": Event.REFUSAL, "/withdraw": Event.WITHDRAWAL}

#: Distinct values ``Audit._share`` keeps one copy of (the rest are kept as found): evidence
#: texts carry context and may all differ, and each entry costs about 100 bytes.
MAX_SHARED_EVIDENCE = 50_000

#: contacts whose server name can carry a consent marker (the content is not visible)
_NAMED_VIA = frozenset({Via.TLS_SNI, Via.QUIC_SNI, Via.DNS})
#: contacts that tie a name to an IP address, naming later connections to that IP
_RESOLVING_VIA = frozenset({Via.DNS, Via.HTTPDNS, Via.TLS_SNI})


def device_mark(record: RequestRecord) -> str | None:
    """The timeline event a request to the reserved host stands for, if any."""
    if record.host != RESERVED_HOST:
        return None
    return DEVICE_MARKS.get(record.path.split("?", 1)[0].rstrip("/") or "/")


# ----------------------------------------------------------------------------- audit




def tune_gc_for_scanning() -> None:
    """This process scans from now on (a replay, a batch task): the collector runs less
    often (``SCAN_GC_THRESHOLD``); a replay spends 5% less CPU."""
    gc.set_threshold(SCAN_GC_THRESHOLD, *gc.get_threshold()[1:])


def text(s: str) -> str:
    """Captured text as every sink can write it. Bytes that were no UTF-8 arrive as lone
    surrogates (read with "surrogateescape"), and JSON can escape one ("\\ud800"); neither can
    be written as UTF-8, and a host, path, header or key holding one stopped the database,
    the JSON and the HTML report. Each such character becomes its escape, "\\udce9", which
    says what was there; all other text stays as it is."""
    return s if s.isascii() else s.encode("utf-8", "backslashreplace").decode("utf-8")


def _text_finding(f: Finding) -> Finding:
    """A finding whose place, excerpt and note any sink can write (``text``)."""
    if f.location.isascii() and f.evidence.isascii() and f.detail.isascii():
        return f
    return replace(f, location=text(f.location), evidence=text(f.evidence), detail=text(f.detail))


def _text_event(e: TimelineEvent) -> TimelineEvent:
    return e if e.detail.isascii() else replace(e, detail=text(e.detail))


class Audit:
    """One session of traffic against one profile, fed item by item.

    Every setting is given here. ``live``: the session is still running (no consent event
    yet means "before consent", and findings are not kept: the caller stores them as they
    come); ``device_marks``: requests to the reserved host are timeline marks (replays;
    the live addon records them itself); ``keep_requests``: keep a body-less summary of every
    request for the database; ``on_event``: called with the events the audit itself finds
    (marker requests), e.g. to store them.
    """

    def __init__(
        self,
        session_id: str,
        profile: Profile,
        scanner: Scanner,
        *,
        label: str = "",
        sources: Iterable[str] = (),
        markers: ConsentMarkers = NO_MARKERS,
        events: Iterable[TimelineEvent] = (),
        classifier: DestinationClassifier | None = None,
        live: bool = False,
        device_marks: bool = True,
        keep_requests: bool = False,
        on_event: Callable[[TimelineEvent], None] | None = None,
        source: str = Source.FLOW,
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
        self.live = live
        self.device_marks = device_marks
        self.keep_requests = keep_requests
        self.on_event = on_event
        self.source = source
        self.timeline = ConsentTimeline()
        if markers.consent_at is not None:
            self.timeline.add(TimelineEvent(markers.consent_at, Event.CONSENT, "--consent-at", "cli"))
        for e in events:
            self.timeline.add(e)
        self._findings: list[AuditFinding] = []
        #: values findings share (``_share``): location, match span, encoding chain, evidence
        self._shared: dict[Any, Any] = {}
        self._contacts: list[tuple[Contact, str]] = []
        #: live: contacts placed as they come, for the caller to store (``take_contacts``)
        self._live_contacts: list[AuditContact] = []
        self.coverage = Coverage()
        self._requests: list[RequestSummary] = []
        self._seen_consent_marker = False
        self._seen_refusal_marker = False
        self.requests = 0
        self.anomalies: Counter[str] = Counter()
        self.errors: list[str] = []
        self.started: float | None = None
        self.ended: float | None = None
        #: the anomalies of the request fed last (the live writer stores them per request)
        self.last_anomalies: tuple[str, ...] = ()

    def phase_at(self, t: float) -> str:
        return self.timeline.phase_at(t, live=self.live)

    def add_event(self, event: TimelineEvent) -> None:
        """A timeline event from outside the traffic (a mark, a command, a file)."""
        self.timeline.add(_text_event(event))

    def feed(self, item: RequestRecord | Contact, source: str | None = None,
             scanned: ScanResult | None = None) -> list[AuditFinding]:
        """Scan one item; returns its findings with the phase known so far. ``source``: the
        door, when not the audit's own (a hook log's payloads in a capture's session);
        ``scanned``: the record's scan, already made by this audit's scanner elsewhere (a
        scan worker, ``scanpool``); everything else is done here, in feeding order."""
        src = source or self.source
        if isinstance(item, Contact):
            self._feed_contact(item, src)
            return []
        record = item
        if record.host == RESERVED_HOST:
            mark = device_mark(record)
            if mark is not None and self.device_marks:
                self._found_event(TimelineEvent(record.time, mark, record.path, "device"))
            return []
        self.requests += 1
        self._span(record.time)
        url = record.url  # built once: the summary and every finding of the request share it
        host, method, flow_id = record.host, record.method, record.flow_id
        if not (url.isascii() and host.isascii() and method.isascii() and flow_id.isascii()):
            url, host, method, flow_id = text(url), text(host), text(method), text(flow_id)
        if not self.live:  # one copy of each host and method for what the replay keeps
            host, method = self._shared.setdefault(host, host), self._shared.setdefault(method, method)
        self._check_markers(url, record.time)
        result = self.scanner.scan(record) if scanned is None else scanned
        anomalies = result.anomalies
        if not all(map(str.isascii, anomalies)):  # a few name what the request said (an encoding)
            anomalies = tuple(map(text, anomalies))
        self.last_anomalies = anomalies
        self.anomalies.update(anomalies)
        destination = self.classifier.classify(host, path=record.path, ip=record.server_ip, sni=record.sni)
        if self.keep_requests:
            self._requests.append(RequestSummary(flow_id, record.time, method, url,
                                                 host, destination.party, destination.sdk))
        self.coverage.add_request(host, destination, result.readability)
        if result.unscanned:
            self.coverage.add_unscanned(UnscannedPart(flow_id, url, text(result.unscanned)))
        if result.readability == Readability.OPAQUE and destination.party != "first-party":
            # content hidden, transmission proven: a contact, like a TLS server name in a capture
            opaque = Contact(record.time, host, record.server_ip, record.port, Via.OPAQUE_REQUEST,
                             None, flow_id, size=len(record.body))
            self._feed_contact(opaque, src, destination)
        if not result.findings:
            return []
        phase = self.phase_at(record.time)
        found = [
            AuditFinding(self.session_id, flow_id, record.time, method, url, host,
                         destination, _text_finding(f), phase, src)
            for f in result.findings
        ]
        if not self.live:
            for f in result.findings:
                self._share(f)
            self._findings.extend(found)
        return found

    def _share(self, f: Finding) -> None:
        """One copy of each location, match span and encoding chain (and of the first
        ``MAX_SHARED_EVIDENCE`` evidence texts) for the findings a replay keeps: 300,000
        findings of a few device values held 300,000 copies of ``url.query:imei``. The
        finding was made by this audit's scan a moment ago and is seen by no one else yet."""
        shared = self._shared
        for name in ("location", "match", "encoding", "evidence"):
            value = getattr(f, name)
            kept = shared.get(value)
            if kept is None:
                if name != "evidence" or len(shared) < MAX_SHARED_EVIDENCE:
                    shared[value] = value
            elif kept is not value:
                object.__setattr__(f, name, kept)  # frozen for the detectors' users; equal value

    def _feed_contact(self, contact: Contact, source: str, destination: Destination | None = None) -> None:
        if not (contact.host.isascii() and contact.flow_id.isascii()):
            contact = replace(contact, host=text(contact.host), flow_id=text(contact.flow_id))
        self._span(contact.time)
        if not self.live:
            self._contacts.append((contact, source))
        elif contact.host or contact.ip:
            d = destination or self._classify_contact(contact)
            placed = AuditContact(self.session_id, contact, d, self.phase_at(contact.time), source)
            self._live_contacts.append(placed)
            if _unread(contact):
                self.coverage.add_unread(contact.host or contact.ip or "", d)
        if contact.via in _NAMED_VIA:
            self._check_markers(contact.host, contact.time)  # encrypted traffic: a name can mark consent
        if contact.ip and contact.via in _RESOLVING_VIA:
            self.classifier.observe_dns(contact.host, [contact.ip])

    def _classify_contact(self, c: Contact) -> Destination:
        return self.classifier.classify(c.host or c.ip or "unknown", ip=c.ip)

    def take_contacts(self) -> list[AuditContact]:
        """Live: the contacts placed since the last call (the caller stores them)."""
        out, self._live_contacts = self._live_contacts, []
        return out

    def _span(self, t: float) -> None:
        self.started = t if self.started is None else min(self.started, t)
        self.ended = t if self.ended is None else max(self.ended, t)

    def _check_markers(self, text: str, t: float) -> None:
        m = self.markers
        if m.consent is not None and not self._seen_consent_marker and m.consent.search(text):
            self._seen_consent_marker = True
            self._found_event(TimelineEvent(t, Event.CONSENT, text, "marker"))
        if m.refusal is not None and not self._seen_refusal_marker and m.refusal.search(text):
            self._seen_refusal_marker = True
            self._found_event(TimelineEvent(t, Event.REFUSAL, text, "marker"))

    def _found_event(self, event: TimelineEvent) -> None:
        event = _text_event(event)
        self.timeline.add(event)
        if self.on_event is not None:
            self.on_event(event)

    def finish(self) -> SessionResult:
        """All findings and contacts, placed on the complete timeline, in the promised order."""
        contacts = []
        for c, source in self._contacts:
            if not (c.host or c.ip):
                continue
            d = self._classify_contact(c)  # at the end: DNS answers seen later name earlier IPs too
            contacts.append(AuditContact(self.session_id, c, d, self.timeline.phase_at(c.time), source))
            if _unread(c):
                self.coverage.add_unread(c.host or c.ip or "", d)
        result = SessionResult(
            id=self.session_id,
            label=self.label,
            sources=self.sources,
            app_package=self.profile.app.package,
            findings=list(self._findings),
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
            request_log=self._requests,
            coverage=self.coverage,
        )
        return place(result)


def _unread(c: Contact) -> bool:
    """A connection whose content was not read (pinned, passed through, not decrypted)."""
    return c.via in UNREAD_VIA and not c.decrypted


def place(result: SessionResult) -> SessionResult:
    """The session with every finding and contact in the phase its complete timeline gives,
    sorted as the outputs promise. An event recorded after a request (a mark from the laptop
    a moment late) still decides that request's phase."""
    timeline = ConsentTimeline(result.events)
    findings = [f if f.phase == (p := timeline.phase_at(f.time)) else replace(f, phase=p) for f in result.findings]
    findings.sort(key=AuditFinding.sort_key)
    contacts = [
        c if c.phase == (p := timeline.phase_at(c.contact.time)) else replace(c, phase=p) for c in result.contacts
    ]
    contacts.sort(key=AuditContact.sort_key)
    result.findings = findings
    result.contacts = contacts
    result.events = timeline.events
    return result


# ----------------------------------------------------------------------------- read → audit


#: the door each capture format comes through (``readers._open.detect_format``)
_FORMAT_SOURCE = {"mitm": Source.FLOW, "har": Source.HAR, "pcap": Source.PCAP, "pcapng": Source.PCAP}


def audit_capture(
    path: str,
    session_id: str,
    profile: Profile,
    scanner: Scanner,
    *,
    markers: ConsentMarkers = NO_MARKERS,
    events: Iterable[TimelineEvent] = (),
    hooks: Sequence[HookLog] = (),
    keylog: KeyLog | None = None,
    keep_requests: bool = False,
    label: str = "",
    progress: Callable[[Audit, int], None] | None = None,
    jobs: int = 1,
    batch_records: int | None = None,
) -> SessionResult:
    """One capture file as one session (with the hook logs recorded alongside it, and the TLS
    secrets that decrypt a packet capture's HTTPS; each session gets its own copy, since a
    pcapng adds its own secrets). A capture
    that breaks part way keeps everything read before the fault; the error (file and place)
    is in ``result.errors``.

    ``jobs`` > 1: the records are scanned ahead in that many worker processes
    (``scanpool``), fed to the audit in capture order all the same: the result is the one
    ``jobs=1`` gives. A mitmproxy flow file is not even read here then: this process only
    frames it (``flowfile.iter_frames``: each flow's bytes, by its length prefix) and the
    workers read their flows into records (``_read_and_scan``). ``batch_records``: records
    (flows) per batch out (``scanpool.BATCH_RECORDS``); a capture with fewer than one batch
    is read and scanned here. A worker that dies or fails ends the session there, with its
    error in ``result.errors`` and every finding fed before it."""
    from consentscope.errors import ConsentscopeError
    from consentscope.readers._open import detect_format, open_maybe_compressed
    from consentscope.readers.capture import read_capture
    from consentscope.readers.flowfile import iter_frames, starts_fast
    from consentscope.scanpool import ScanWorkerError

    try:
        fmt = detect_format(path)
    except (OSError, ConsentscopeError):
        fmt = ""  # read_capture reports the file's error below
    source = _FORMAT_SOURCE.get(fmt, Source.FLOW)
    # the workers read the flows, not only scan them (mitmproxy's older formats: read here)
    frames = jobs > 1 and fmt == "mitm" and starts_fast(path)
    hook_events = [e for h in hooks for e in h.events]

    def new_audit() -> Audit:
        return Audit(session_id, profile, scanner, label=label or os.path.basename(path), sources=[path],
                     markers=markers, events=[*events, *hook_events], keep_requests=keep_requests, source=source)

    found = 0

    def fed(findings: list[AuditFinding]) -> None:
        nonlocal found
        found += len(findings)
        if progress is not None:
            progress(ahead.audit, found)

    read_anomalies: dict[str, int] = {}
    ahead = _ScanAhead(new_audit, scanner, jobs, batch_records, fed,
                       flows=(path, read_anomalies) if frames else None)
    errors: list[str] = []
    done = False
    try:
        read_error: str | None = None
        try:
            if frames:
                with open_maybe_compressed(path) as fo:
                    if type(fo) is io.BufferedReader:  # not decompressed: offsets are the file's
                        ahead.flow_bytes = os.fstat(fo.fileno()).st_size
                    for frame in iter_frames(path, fo):
                        ahead.add_frame(frame)
            else:
                from consentscope.readers._keylog import KeyLog

                own_keys = KeyLog()
                if keylog is not None:
                    own_keys.merge(keylog)
                for item in read_capture(path, keylog=own_keys, anomalies=read_anomalies):
                    ahead.add(item)
        except ScanWorkerError:
            raise
        except ConsentscopeError as e:
            read_error = str(e)
        except OSError as e:
            read_error = f"{path}: {e.strerror or e}"
        try:
            ahead.drain()  # everything read before a fault is fed
        except ScanWorkerError:
            raise
        except ConsentscopeError as e:  # a flow a worker could not read: before any fault framing met
            read_error = str(e)
        if read_error is not None:
            errors.append(read_error)
        done = True
    except ScanWorkerError as e:
        errors.append(f"{path}: {e}; the requests from there on were not audited")
    finally:
        ahead.stop(terminate=not done)  # Ctrl-C, a worker's error: no worker outlives this
    audit = ahead.audit
    audit.errors.extend(errors)
    audit.anomalies.update(read_anomalies)  # what the reader skipped or refused, by name
    audit.coverage.add_skipped(read_anomalies)  # …and of those, the parts of the capture unread
    for h in hooks:
        for record in h.records:
            found += len(audit.feed(record, Source.HOOK))
    return audit.finish()


#: a record's fields, in order (``_read_and_scan`` sends them back as a tuple)
_RECORD_FIELDS = [f.name for f in fields(RequestRecord)]
_HEADERS_AT, _BODY_AT = _RECORD_FIELDS.index("headers"), _RECORD_FIELDS.index("body")
_record_fields = attrgetter(*_RECORD_FIELDS)


def _read_and_scan(scanner: Scanner, frames: list[tuple[Any, ...]]) -> list[Any]:
    """In a scan worker: framed flows read into items by ``flowfile.fast_records`` (the fast
    path of the reader ``jobs=1`` uses) and their records scanned. Per flow: the anomalies
    its reading counted (or None); its items, each with its scan's fields (None: not
    scanned, a device mark), or None when the fast path declined the flow; and then the
    frame itself, for the main process to read through mitmproxy in its turn (mitmproxy's
    migrations keep state across the flows of a process: ``Audit``'s process reads every
    such flow, in file order, as with ``jobs=1``).

    A record goes back as what ``Audit.feed`` reads of a record scanned elsewhere: no
    headers, and no body unless the scan found it opaque (its size is a contact's), so a
    flow's bytes are not sent back to the main process."""
    from consentscope.readers.flowfile import Frame, fast_records, frame_items
    from consentscope.scanpool import ScanFailed, scan_fields

    out: list[Any] = []
    scan, opaque = scanner.scan, Readability.OPAQUE
    for t in frames:
        anomalies: dict[str, int] = {}
        frame = Frame(*t)
        items = fast_records(frame.data, frame.head, anomalies) if frame.data is not None else \
            frame_items("", frame, anomalies)  # skipped, too large: counted
        if items is None:
            out.append((anomalies or None, None, t))
            continue
        entries: list[tuple[Any, Any]] = []
        for item in items:
            if type(item) is not RequestRecord:
                entries.append((item, None))
                continue
            result = None
            if item.host != RESERVED_HOST:
                try:
                    result = scan(item)
                except Exception as e:  # a bug in a detector: the worker's error, naming the request
                    raise ScanFailed(f"{type(e).__name__}: {e} (request {item.flow_id})") from e
            slim = list(_record_fields(item))
            slim[_HEADERS_AT] = ()
            if result is None or result.readability != opaque:
                slim[_BODY_AT] = b""
            entries.append((tuple(slim), None if result is None else scan_fields(result)))
        out.append((anomalies or None, entries, None))
    return out


#: Near the end of a flow file, a batch closes once it holds 1/(GUIDED_SHARE * jobs) of the
#: bytes left (guided self-scheduling), but not under GUIDED_MIN_RECORDS flows.
GUIDED_SHARE = 2
GUIDED_MIN_RECORDS = 16


class _ScanAhead:
    """Feeds an audit item by item in capture order while a ``ScanPool`` scans the records
    ahead of it: items wait in their batch until its scans are back. ``jobs=1``: every item
    is fed (and scanned) at once, here.

    A batch closes at ``batch_records`` records to ship, ``BATCH_BYTES`` of bodies (shipped
    or kept here) or ``4 * batch_records`` items (contacts, large bodies the main process
    scans itself); at most ``jobs * BATCHES_PER_WORKER`` batches wait, so what is held stays
    bounded whatever the capture holds. Workers start only when a first batch with records
    closes: a capture smaller than that is scanned here, without paying for them.

    ``flows`` (a flow file's path, and the reader's anomaly counts): items come as framed
    flows (``add_frame``), and the workers read them too (``_read_and_scan``); a flow over
    ``MAX_SHIPPED_BODY`` is read and scanned here in its turn. A flow that cannot be read
    ends the batches there: its ``CaptureError`` is raised after every item before it is fed."""

    def __init__(self, new_audit: Callable[[], Audit], scanner: Scanner, jobs: int, batch_records: int | None,
                 fed: Callable[[list[AuditFinding]], None], flows: tuple[str, dict[str, int]] | None = None) -> None:
        from consentscope import scanpool

        self._new_audit = new_audit
        self._audit: Audit | None = None
        self.scanner = scanner
        self.jobs = jobs
        self.batch_records = batch_records or scanpool.BATCH_RECORDS
        self._batch_bytes = scanpool.BATCH_BYTES
        self._max_shipped = scanpool.MAX_SHIPPED_BODY
        self.in_flight = jobs * scanpool.BATCHES_PER_WORKER
        self.fed = fed
        self.pool: scanpool.ScanPool | None = None
        #: the batch being filled: every item, and whether a worker scans it (True) or the audit;
        #: with ``flows``, every frame (None once shipped: the worker has its bytes)
        self._items: list[tuple[Any, bool]] = []
        self._records: list[Any] = []
        self._bytes = 0
        #: closed batches waiting their turn, and whether their records went to the pool
        self._out: deque[tuple[list[tuple[Any, bool]], bool]] = deque()
        self.flows = flows
        #: a flow could not be read: nothing after it is fed
        self.failed = False
        #: the flow file's size when known (not compressed): once workers run, the last
        #: batches get smaller (``GUIDED_SHARE``), so the workers finish together instead of
        #: one of them scanning a whole batch alone at the end
        self.flow_bytes = 0

    @property
    def audit(self) -> Audit:
        """The audit, made when first fed: after the workers are forked, so they do not
        carry its destination tables (15 MB a worker in the bench's 100,000-flow replay)."""
        if self._audit is None:
            self._audit = self._new_audit()
        return self._audit

    def add(self, item: RequestRecord | Contact) -> None:
        if self.jobs <= 1:
            self.fed(self.audit.feed(item))
            return
        shipped = False
        if isinstance(item, RequestRecord):
            self._bytes += len(item.body)
            if item.host != RESERVED_HOST and len(item.body) <= self._max_shipped:
                shipped = True
                self._records.append(item)
        self._items.append((item, shipped))
        if (len(self._records) >= self.batch_records or self._bytes >= self._batch_bytes
                or len(self._items) >= 4 * self.batch_records):
            self._close()

    def add_frame(self, frame: Frame) -> None:
        """A flow of the flow file (``flows``), framed, not read yet."""
        size = len(frame.data) if frame.data is not None else 0
        shipped = size <= self._max_shipped
        if shipped:
            self._records.append(frame)
        self._bytes += size
        self._items.append((frame, shipped))
        if (len(self._records) >= self.batch_records or self._bytes >= self._batch_bytes
                or len(self._items) >= 4 * self.batch_records
                or (self.flow_bytes and self.pool is not None and len(self._records) >= GUIDED_MIN_RECORDS
                    and self._bytes * GUIDED_SHARE * self.jobs >= self.flow_bytes - frame.offset)):
            self._close()

    def _close(self) -> None:
        from functools import partial

        from consentscope.scanpool import ScanPool

        if len(self._out) >= self.in_flight:
            self._feed_oldest()
        records, items = self._records, self._items
        self._items, self._records, self._bytes = [], [], 0
        if records:
            if self.pool is None:
                read = partial(_read_and_scan, self.scanner) if self.flows else None
                self.pool = ScanPool(self.scanner, self.jobs, in_flight=self.in_flight, read_flows=read)
            if self.flows:
                self.pool.submit_flows(records, f"flows #{records[0].seq + 1} to #{records[-1].seq + 1}")
                items = [(None if shipped else f, shipped) for f, shipped in items]  # the worker has those
            else:
                self.pool.submit(records, f"requests {records[0].flow_id} to {records[-1].flow_id}")
            self._out.append((items, True))
        elif self._out:
            self._out.append((items, False))
        elif self.flows is not None:
            self._feed_flows([(f, False) for f, _ in items], None)
        else:
            self._feed(items, ())

    def _feed(self, items: list[tuple[RequestRecord | Contact, bool]], scans: Iterable[ScanResult]) -> None:
        results = iter(scans)
        for item, shipped in items:
            self.fed(self.audit.feed(item, scanned=next(results) if shipped else None))

    def _feed_flows(self, items: list[tuple[Frame | None, bool]], reply: Any) -> None:
        """Feed a batch of flows: the shipped ones as the worker read and scanned them
        (``_read_and_scan``), the others read here; a flow that could not be read raises its
        error, after every item before it, and nothing after it is fed."""
        from consentscope.readers.flowfile import Frame, frame_items
        from consentscope.scanpool import scan_from_fields

        assert self.flows is not None
        path, anomalies = self.flows
        done = iter(reply if reply is not None else ())
        feed, fed = self.audit.feed, self.fed
        try:
            for frame, shipped in items:
                if shipped:
                    counted, entries, declined = next(done)
                    for name, n in (counted or {}).items():
                        anomalies[name] = anomalies.get(name, 0) + n
                    if entries is None:  # mitmproxy reads it, here, in its turn (and it is scanned here)
                        for item in frame_items(path, Frame(*declined), anomalies, fast=False):
                            fed(feed(item))
                        continue
                    for item, scan in entries:
                        if type(item) is tuple:
                            fed(feed(RequestRecord(*item), scanned=None if scan is None else scan_from_fields(scan)))
                        else:
                            fed(feed(item))
                else:
                    assert frame is not None
                    for item in frame_items(path, frame, anomalies):
                        fed(feed(item))
        except CaptureError:
            self.failed = True
            self._out.clear()
            self._items, self._records, self._bytes = [], [], 0
            raise

    def _feed_oldest(self) -> None:
        items, out = self._out.popleft()
        if self.flows is not None:
            assert self.pool is not None or not out
            self._feed_flows(items, self.pool.take_flows() if out and self.pool is not None else None)
        elif out:
            assert self.pool is not None
            self._feed(items, self.pool.take())
        else:
            self._feed(items, ())

    def drain(self) -> None:
        """Feed everything added: the last batch goes out too once workers run."""
        if self.failed:
            return
        if self.pool is None:  # nothing out: a capture under one batch is scanned here
            items, self._items, self._records, self._bytes = self._items, [], [], 0
            if self.flows is not None:
                self._feed_flows([(f, False) for f, _ in items], None)  # read here
            else:
                self._feed([(item, False) for item, _ in items], ())
            return
        if self._items:
            self._close()
        while self._out:
            self._feed_oldest()

    def stop(self, terminate: bool) -> None:
        if self.pool is not None:
            if terminate or self.failed:  # a failed read leaves batches out nobody takes
                self.pool.terminate()
            else:
                self.pool.close()
            self.pool = None


# ----------------------------------------------------------------------------- judge


def session_profile(result: SessionResult) -> Profile:
    """The part of the profile the rules read, rebuilt from what the session recorded.

    Coordinates are not kept with a session (they are personal data and no rule needs
    them); the location only carries its precision, which tells coarse from precise.
    """
    location = None
    if result.location_precision_m:
        location = GeoPoint(0.0, 0.0, result.location_precision_m)
    app = AppInfo(package=result.app_package, name=result.app_name, app_type=result.app_type)
    return Profile(path="", app=app, location=location)


def judge(results: Sequence[SessionResult], profile: Profile | None = None,
          suppressions: Suppressions | None = None) -> Judgement:
    """Run the rules on each session (its violations are set) and give the verdict per MIIT
    category over all of them. ``profile`` (a file the user named) wins over the one each
    session recorded."""
    from consentscope.rules import evaluate, verdicts

    for r in results:
        r.violations = evaluate(r, profile or session_profile(r), suppressions=suppressions)
    shown = profile or (session_profile(results[0]) if results else None)
    return Judgement(tuple(results), tuple(verdicts(results, shown)))


# ----------------------------------------------------------------------------- database


def store(engine: Engine, results: Iterable[SessionResult]) -> None:
    from consentscope.storage import save_session

    for r in results:
        save_session(engine, r)


def load(engine: Engine, session_id: str) -> SessionResult:
    """A stored session, placed on its complete timeline as ``Audit.finish`` would."""
    from consentscope.rules import RULES_INFO, Violation
    from consentscope.storage import load_session

    result, violation_rows = load_session(engine, session_id)
    result.violations = [
        Violation(
            rule=v["rule"], severity=v["severity"], confidence=v["confidence"], explanation=v["explanation"],
            flows=tuple(v["flows"]), events=tuple(v["events"]), session=session_id,
            data_types=tuple(v["data_types"]), explanation_zh=v["explanation_zh"], check=v["check"],
            destinations=tuple(v["destinations"]), observed=tuple(sorted(v["observed"].items())),
            suppressed=v["suppressed"],
        )
        for v in violation_rows
        if v["rule"] in RULES_INFO  # a rule a newer consentscope knows is left out, not a crash
    ]
    return place(result)


def judge_stored(engine: Engine, session_id: str, profile: Profile | None = None,
                 suppressions: Suppressions | None = None, *, write: bool = True) -> tuple[SessionResult, Judgement]:
    """Load a stored session, judge it and (``write``) store the verdict with it."""
    from consentscope.storage import save_violations

    result = load(engine, session_id)
    judgement = judge([result], profile, suppressions)
    if write:
        save_violations(engine, session_id, result.violations)
    return result, judgement


# ----------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class Outputs:
    """Which report files to write, and how."""

    json: str | None = None
    html: str | None = None
    csv: str | None = None
    xlsx: str | None = None
    redacted: bool = False
    #: the CSV starts with a UTF-8 BOM, so Excel (Chinese Windows above all) reads it as UTF-8
    csv_bom: bool = True
    lang: str = "en"
    title: str = "consentscope report"
    #: the zone of the times in the HTML report (IANA name); None: the machine's local zone
    tz: str | None = None


def write_reports(judgement: Judgement, outputs: Outputs, suppressions: Suppressions | None = None) -> list[str]:
    """Every sink renders the same judgement (findings, violations, verdicts). A sink that
    fails (a path that is a directory, a full disk) does not stop the others; the failures
    are raised together afterwards as one error naming each file. Returns the files written."""
    from consentscope.errors import ConsentscopeError
    from consentscope.files import write_private

    sessions = judgement.sessions
    sinks: list[tuple[str | None, Callable[[], str | bytes | Iterable[str]]]] = []
    if outputs.json:
        from consentscope.reports.json_report import iter_json

        # written as rendered: a dict per finding of a large session is never held
        sinks.append((outputs.json, lambda: iter_json(judgement, redacted=outputs.redacted)))
    if outputs.html:
        from consentscope.reports.html_report import render_html

        sinks.append((outputs.html, lambda: render_html(judgement, title=outputs.title, redacted=outputs.redacted,
                                                        lang=outputs.lang, suppressions=suppressions,
                                                        tz=outputs.tz)))
    if outputs.csv:
        from consentscope.reports.csv_report import render_csv

        sinks.append((outputs.csv, lambda: render_csv(sessions, redacted=outputs.redacted, bom=outputs.csv_bom)))
    if outputs.xlsx:
        from consentscope.reports.xlsx_report import render_xlsx

        sinks.append((outputs.xlsx, lambda: render_xlsx(judgement, lang=outputs.lang, redacted=outputs.redacted)))
    failed: list[str] = []
    written: list[str] = []
    for path, render in sinks:
        assert path is not None
        try:
            write_private(path, render())
            written.append(path)
        except IsADirectoryError:
            failed.append(f"{path}: is a directory (name a file)")
        except OSError as e:
            failed.append(f"{path}: {e.strerror or e}")
        except Exception as e:  # a fault in one sink must not cost the others (nor print a traceback)
            failed.append(f"{path}: internal error {type(e).__name__}: {e}")
    if failed:
        raise ConsentscopeError("cannot write " + "; ".join(failed))
    return written


def violations_of(results: Iterable[SessionResult]) -> list[Violation]:
    return [v for r in results for v in r.violations]


__all__ = [
    "DEVICE_MARKS",
    "RESERVED_HOST",
    "Audit",
    "Destination",
    "Outputs",
    "audit_capture",
    "device_mark",
    "judge",
    "judge_stored",
    "load",
    "place",
    "session_profile",
    "store",
    "write_reports",
]
