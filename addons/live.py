"""The live addon: scan every request passing through mitmproxy against the profile.

Failure policy — the opposite of mitmproxy's ``save`` addon: the user's traffic never
waits for us and never breaks because of us. Hooks only copy the request into a plain
record and hand it to one worker thread; detection, logging and storage happen there.
Any exception in our code is logged and counted, never raised into mitmproxy. Findings
go to a background writer that retries and then spills to a file, so none are lost.

Flows that are not live (loaded from a file, replayed) are not new traffic and are
ignored; killed and intercepted flows are scanned like any other (the data left the
phone either way).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Optional

from mitmproxy import command, ctx, exceptions, http

from consentscope.addons import compat
from consentscope.addons.device_page import RESERVED_HOST, answer
from consentscope.consent import TimelineEvent, normalize_event
from consentscope.console import finding_line
from consentscope.detectors import Limits, RequestRecord, Scanner
from consentscope.pipeline import Audit, AuditFinding, ConsentMarkers
from consentscope.profile import Profile, ProfileError, load_profile
from consentscope.readers.flowfile import flow_to_records, ws_bytes
from consentscope.storage import finding_columns

log = logging.getLogger("consentscope")

DEFAULT_MAX_BODY = 8 * 1024 * 1024


# ----------------------------------------------------------------------------- option parsing
# Pure functions raising ValueError; ``configure`` turns them into OptionsError.


def parse_regex(value: str | None) -> re.Pattern[str] | None:
    if not value:
        return None
    try:
        return re.compile(value)
    except re.error as e:
        raise ValueError(f"invalid regular expression {value!r}: {e}") from None


def parse_domains(values: Sequence[str]) -> tuple[str, ...]:
    out = []
    for v in values:
        for d in v.split(","):
            d = d.strip().lower().lstrip(".")
            if d:
                if not re.fullmatch(r"[a-z0-9.-]+", d):
                    raise ValueError(f"not a domain name: {d!r}")
                out.append(d)
    return tuple(out)


def parse_max_body(value: int) -> int:
    if value < 1024:
        raise ValueError("must be at least 1024 bytes")
    return value


def default_session_id() -> str:
    return "live-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class _Tee:
    """Stream callback for streamed request bodies: passes every chunk on untouched and
    keeps the first ``limit`` bytes for scanning."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.overflow = False

    def __call__(self, data: bytes) -> bytes:
        room = self.limit - len(self.buf)
        if room > 0:
            self.buf += data[:room]
        if len(data) > room:
            self.overflow = True
        return data


@dataclass(slots=True)
class _State:
    profile: Profile
    scanner: Scanner
    audit: Audit
    markers: ConsentMarkers


class ConsentScope:
    def __init__(self) -> None:
        self.state: _State | None = None
        self.writer = None  # BackgroundWriter | None
        self.errors = 0
        self.findings = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consentscope-scan")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max_body = DEFAULT_MAX_BODY

    # -- mitmproxy hooks -------------------------------------------------------------

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "consentscope_profile", Optional[str], None,
            "Device profile (TOML) listing the identifiers and personal data to look for.",
        )
        loader.add_option(
            "consentscope_db", Optional[str], None,
            "SQLAlchemy URL where live findings and timeline events are stored as they happen "
            "(e.g. sqlite:///consentscope.db). Unset: log only.",
        )
        loader.add_option(
            "consentscope_session", Optional[str], None,
            "Session id for this proxy run (default: live-<UTC time>). Consent marks apply per session.",
        )
        loader.add_option(
            "consentscope_app_domains", Sequence[str], [],
            "Extra first-party domains of the app under test (added to the profile's first_party_domains).",
        )
        loader.add_option(
            "consentscope_consent_marker", Optional[str], None,
            "URL regex: the first request that matches marks consent (the app's own 'agree' call).",
        )
        loader.add_option(
            "consentscope_refusal_marker", Optional[str], None,
            "URL regex: the first request that matches marks a refusal.",
        )
        loader.add_option(
            "consentscope_max_body", int, DEFAULT_MAX_BODY,
            "Bytes of each request body that are scanned; larger bodies are scanned up to this "
            "limit and their findings say so.",
        )

    def running(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        try:
            markers = ConsentMarkers(
                consent=parse_regex(opts.consentscope_consent_marker),
                refusal=parse_regex(opts.consentscope_refusal_marker),
            )
        except ValueError as e:
            raise exceptions.OptionsError(f"consentscope_consent_marker/refusal_marker: {e}") from None
        try:
            domains = parse_domains(opts.consentscope_app_domains)
        except ValueError as e:
            raise exceptions.OptionsError(f"consentscope_app_domains: {e}") from None
        try:
            self._max_body = parse_max_body(opts.consentscope_max_body)
        except ValueError as e:
            raise exceptions.OptionsError(f"consentscope_max_body: {e}") from None

        relevant = {
            "consentscope_profile", "consentscope_session", "consentscope_app_domains",
            "consentscope_consent_marker", "consentscope_refusal_marker", "consentscope_max_body",
            "consentscope_db",
        }
        if not updated & relevant:
            return
        path = opts.consentscope_profile
        if not path:
            self._shutdown_writer()
            self.state = None
            return
        try:
            profile = load_profile(path)
        except ProfileError as e:
            raise exceptions.OptionsError(f"consentscope_profile: {e}") from None
        for w in profile.warnings:
            log.warning(f"consentscope: {w}")
        if domains:
            app = replace(profile.app, first_party_domains=profile.app.first_party_domains + domains)
            profile = replace(profile, app=app)
        session = opts.consentscope_session or (self.state.audit.session_id if self.state else default_session_id())
        scanner = Scanner(profile.scan_profile(), limits=Limits(max_body_scan_bytes=self._max_body))
        audit = self._new_audit(session, profile, scanner, markers)
        new_state = _State(profile, scanner, audit, markers)
        if "consentscope_db" in updated or self.writer is None or session != getattr(self.writer, "session_id", None):
            self._shutdown_writer()
            if opts.consentscope_db:
                from consentscope.addons.writer import BackgroundWriter
                from consentscope.storage import StorageError

                try:
                    self.writer = BackgroundWriter(
                        opts.consentscope_db, session, label=session, app_package=profile.app.package,
                        on_remote_event=self._remote_event,
                    )
                except StorageError as e:
                    raise exceptions.OptionsError(f"consentscope_db: {e}") from None
        self.state = new_state
        log.info(
            f"consentscope: watching for {len(profile.identifiers)} values from {path} "
            f"({len(scanner.needles)} encoded forms), session {session}"
        )

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A streamed body never sits in memory: keep a prefix for scanning as it passes.
        if self.state is not None and flow.request.stream and not callable(flow.request.stream):
            tee = _Tee(self._max_body)
            flow.request.stream = tee
            flow.metadata["consentscope_tee"] = tee

    def request(self, flow: http.HTTPFlow) -> None:
        state = self.state
        if state is None:
            return
        try:
            if flow.request.pretty_host.lower() == RESERVED_HOST:
                self._answer_device(flow, state)
                return
            if not flow.live:
                return
            tee = flow.metadata.get("consentscope_tee")
            items = flow_to_records(
                flow,
                body_override=bytes(tee.buf) if tee is not None else None,
                body_truncated=bool(tee and tee.overflow),
            )
            items = [i for i in items if not (isinstance(i, RequestRecord) and i.kind == "websocket")]
            self._pool.submit(self._process, state, items, flow)
        except Exception:
            self._count_error("request hook")

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        state = self.state
        if state is None or flow.websocket is None or not flow.live:
            return
        try:
            msg = flow.websocket.messages[-1]
            if not msg.from_client:
                return
            req = flow.request
            record = RequestRecord(
                flow_id=f"{flow.id}:ws{len(flow.websocket.messages) - 1}",
                time=msg.timestamp,
                method="WS",
                scheme="wss" if req.scheme == "https" else "ws",
                host=(req.pretty_host or req.host).lower(),
                port=req.port,
                path=req.path,
                body=ws_bytes(msg.content),
                kind="websocket",
            )
            self._pool.submit(self._process, state, [record], flow)
        except Exception:
            self._count_error("websocket hook")

    def done(self) -> None:
        self._pool.shutdown(wait=True)
        self._shutdown_writer()
        if self.state is not None:
            log.info(
                f"consentscope: session {self.state.audit.session_id}: {self.state.audit.requests} requests, "
                f"{self.findings} findings, {self.errors} internal errors"
            )

    # -- commands --------------------------------------------------------------------

    @command.command("consentscope.mark")
    def mark(self, event: str, detail: str = "") -> None:
        """Record a timeline event now: consent, refuse, withdraw, start, policy or note."""
        try:
            name = normalize_event(event)
        except ValueError as e:
            raise exceptions.CommandError(str(e)) from None
        self._pool.submit(self._record_event, time.time(), name, detail, "command")

    @command.command("consentscope.consent")
    def consent(self) -> None:
        """Record that the user agreed to the privacy policy, now."""
        self.mark("consent")

    @command.command("consentscope.refuse")
    def refuse(self) -> None:
        """Record that the user refused the privacy policy, now."""
        self.mark("refusal")

    # -- worker thread ---------------------------------------------------------------

    def _process(self, state: _State, items: list, flow: http.HTTPFlow) -> None:
        try:
            found: list[AuditFinding] = []
            for item in items:
                if isinstance(item, RequestRecord):
                    res = state.audit.feed(item)
                    found.extend(res)
                    if self.writer is not None:
                        self.writer.put_request(state.audit.session_id, item.time, tuple(state.audit.last_anomalies))
                else:
                    state.audit.feed(item)
            if not found:
                return
            self.findings += len(found)
            for f in found:
                log.warning(finding_line(f))
            if self.writer is not None:
                self.writer.put_findings(state.audit.session_id, [finding_columns(f) for f in found])
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._annotate, flow, found)
        except Exception:
            self._count_error("scan")

    def _record_event(self, t: float, name: str, detail: str, source: str) -> None:
        state = self.state
        if state is None:
            return
        state.audit.timeline.add(TimelineEvent(t, name, detail, source))
        if self.writer is not None:
            self.writer.put_event(state.audit.session_id, t, name, detail, source)
        log.info(f"consentscope: {name} recorded at {datetime.fromtimestamp(t, UTC).isoformat()} ({source})")

    def _remote_event(self, t: float, name: str, detail: str) -> None:
        """An event added by `consentscope mark` in another process (writer thread)."""
        state = self.state
        if state is not None:
            self._pool.submit(lambda: state.audit.timeline.add(TimelineEvent(t, name, detail, "cli")))
            log.info(f"consentscope: {name} recorded from the command line")

    def _annotate(self, flow: http.HTTPFlow, found: list[AuditFinding]) -> None:
        try:
            flow.marked = ":warning:"
            parts = sorted({f"{f.finding.data_type} ({f.phase})" for f in found})
            flow.comment = "consentscope: " + ", ".join(parts)
            compat.trigger_update(flow)
        except Exception:
            self._count_error("annotate")

    # -- helpers ---------------------------------------------------------------------

    def _new_audit(self, session: str, profile: Profile, scanner: Scanner, markers: ConsentMarkers) -> Audit:
        audit = Audit(session, profile, scanner, label=session, sources=["live"], markers=markers)
        audit.timeline_from_device = False  # the addon records device marks itself
        audit.live = True
        audit.on_event = lambda e: self._store_event(session, e)
        return audit

    def _store_event(self, session: str, e: TimelineEvent) -> None:
        if self.writer is not None:
            self.writer.put_event(session, e.time, e.event, e.detail, e.source)
        log.info(f"consentscope: {e.event} recorded ({e.source}: {e.detail})")

    def _answer_device(self, flow: http.HTTPFlow, state: _State) -> None:
        now = flow.request.timestamp_start or time.time()
        action = answer(flow.request.url, state.audit.session_id)
        flow.response = http.Response.make(
            action.status, action.body, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        )
        if action.mark is not None:
            self._pool.submit(self._record_event, now, action.mark, flow.request.path, "device")
        if action.new_session is not None:
            sid = f"{default_session_id()}-{re.sub(r'[^A-Za-z0-9_.-]', '_', action.new_session)}"
            self._pool.submit(self._switch_session, state, sid)

    def _switch_session(self, state: _State, session_id: str) -> None:
        audit = self._new_audit(session_id, state.profile, state.scanner, state.markers)
        self.state = _State(state.profile, state.scanner, audit, state.markers)
        if self.writer is not None:
            self.writer.switch_session(session_id, session_id, state.profile.app.package)
        log.info(f"consentscope: new session {session_id}")

    def _shutdown_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            if self.writer.failures:
                log.warning(
                    f"consentscope: {self.writer.failures} database batches failed; "
                    f"unsaved findings are in {self.writer.spill_path}"
                    if self.writer.spilled else
                    f"consentscope: {self.writer.failures} database errors (all data stored after retry)"
                )
            self.writer = None

    def _count_error(self, where: str) -> None:
        self.errors += 1
        log.exception(f"consentscope: internal error in {where} (traffic unaffected; {self.errors} so far)")
