"""The live addon: every request through mitmproxy is checked against the device profile.

Failure policy — the opposite of mitmproxy's ``save`` addon: the user's traffic never
waits for us and never breaks because of us. Hooks only read the request's raw fields into
a tuple (``wire.py``) and queue it for the detector (``engine.py``: a separate process by
default, so scanning never takes the interpreter from mitmproxy's event loop). Any exception in our
code is logged and counted, never raised into mitmproxy. Findings are stored by a
background writer that retries and then spills to a file, so none are lost.

Flows that are not live (loaded from a file, replayed) are not new traffic and are
ignored; killed and intercepted flows are scanned like any other (the data left the
phone either way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Optional

from mitmproxy import command, ctx, exceptions, http, tls
from mitmproxy.proxy import layer, layers
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.tls import parse_client_hello

from consentscope.addons import compat, wire
from consentscope.addons.device_page import RESERVED_HOST, answer
from consentscope.addons.engine import (
    Done,
    EngineConfig,
    Failure,
    Items,
    Log,
    Mark,
    NewSession,
    Outbound,
    Result,
    Runner,
    Stopped,
)
from consentscope.consent import normalize_event
from consentscope.detectors import MAX_BODY_SCAN_BYTES, RequestRecord
from consentscope.model import ConsentMarkers, Contact, Via
from consentscope.profile import ProfileError, load_profile
from consentscope.readers.flowfile import flow_to_records, websocket_record
from consentscope.readers.httpdns import httpdns_response_contacts, is_httpdns_path

log = logging.getLogger("consentscope")

DEFAULT_MAX_BODY = MAX_BODY_SCAN_BYTES
_RESERVED = RESERVED_HOST.encode()


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


def parse_detector(value: str) -> str:
    if value not in ("process", "thread"):
        raise ValueError("must be 'process' or 'thread'")
    return value


def _connection_contact(context: Context, via: str, client_data: bytes = b"") -> Contact | None:
    """A connection as a contact: the server name the client asked for (SNI, or the CONNECT
    host), the server's address, now."""
    client, server = context.client, context.server
    host = client.sni or ""
    if not host and client_data:
        try:
            hello = parse_client_hello(client_data)
        except ValueError:
            hello = None
        host = (hello.sni or "") if hello is not None else ""
    ip: str | None = None
    port: int | None = None
    if server.address:
        name, port = str(server.address[0]), int(server.address[1])
        if not host:
            host = name
        ip = name if _is_ip(name) else None
    if server.peername:
        ip = str(server.peername[0])
    if not host and not ip:
        return None
    tls_version = client.tls_version if via == Via.TLS_FAILED else None
    return Contact(time.time(), host.lower() if not _is_ip(host) else "", ip, port, via, tls_version,
                   f"{via}:{client.id}")


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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


class ConsentScope:
    def __init__(self) -> None:
        self.runner: Runner | None = None
        self.config: EngineConfig | None = None
        self.errors = 0
        self.findings = 0
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        # Flows waiting for their verdict, held weakly: the flow comment is for whoever still
        # shows the flow (mitmweb, the console); mitmdump drops a flow once it is answered,
        # and keeping thousands alive for a comment nobody reads costs memory and GC time.
        self._pending: weakref.WeakValueDictionary[str, http.HTTPFlow] = weakref.WeakValueDictionary()
        self._max_body = DEFAULT_MAX_BODY
        #: connections already reported as passed through (next_layer runs more than once)
        self._passthrough_seen: dict[str, bool] = {}
        #: findings answered and not yet shown (``_show``): log lines, the flow, its comment
        self._shown: deque[tuple[tuple[str, ...], http.HTTPFlow | None, str]] = deque()
        self._show_scheduled = False

    # -- mitmproxy hooks -------------------------------------------------------------

    def load(self, loader: Any) -> None:
        # ``Loader.add_option`` is annotated ``type`` but takes typing forms (Optional[str],
        # Sequence[str]) too, as mitmproxy's own addons pass them: hence ``Any`` here.
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
        loader.add_option(
            "consentscope_detector", str, "process",
            "Where detection runs: 'process' (a separate process; the proxy's event loop never "
            "waits for scanning) or 'thread' (in mitmproxy's process).",
        )

    def running(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        if self.runner is not None:
            self.runner.attach(self._loop)

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        # Every option parsed once, here; the detector gets the parsed values (no re-parsing).
        try:
            name = "consentscope_consent_marker"
            consent = parse_regex(opts.consentscope_consent_marker)
            name = "consentscope_refusal_marker"
            refusal = parse_regex(opts.consentscope_refusal_marker)
            name = "consentscope_app_domains"
            app_domains = parse_domains(opts.consentscope_app_domains)
            name = "consentscope_max_body"
            max_body = parse_max_body(opts.consentscope_max_body)
            name = "consentscope_detector"
            detector = parse_detector(opts.consentscope_detector)
        except ValueError as e:
            raise exceptions.OptionsError(f"{name}: {e}") from None
        if not any(name.startswith("consentscope_") for name in updated):
            return
        self._max_body = max_body
        path = opts.consentscope_profile
        if not path:
            self._stop_runner()
            return
        try:
            profile = load_profile(path)  # checked here so a bad profile is an OptionsError
        except ProfileError as e:
            raise exceptions.OptionsError(f"consentscope_profile: {e}") from None
        for w in profile.warnings:
            log.warning(f"consentscope: {w}")
        if app_domains:
            app = replace(profile.app, first_party_domains=profile.app.first_party_domains + app_domains)
            profile = replace(profile, app=app)
        session = opts.consentscope_session or (self.config.session if self.config else default_session_id())
        if opts.consentscope_db:
            from consentscope.storage import StorageError, app_columns, ensure_session, open_engine

            try:
                # the session exists from this moment (so `consentscope mark` can find it),
                # not from whenever the detector process is up
                engine = open_engine(opts.consentscope_db)
                ensure_session(engine, session, session, profile.app.package, sources=["live"],
                               app=app_columns(profile))
                engine.dispose()
            except StorageError as e:
                raise exceptions.OptionsError(f"consentscope_db: {e}") from None
            except Exception as e:
                raise exceptions.OptionsError(f"consentscope_db: {e.__class__.__name__}: {e}") from None
        config = EngineConfig(
            profile=profile,
            session=session,
            db_url=opts.consentscope_db,
            markers=ConsentMarkers(consent=consent, refusal=refusal),
            max_body=self._max_body,
        )
        self._stop_runner()
        self.config = config
        if self._loop is None:  # mitmproxy configures its addons on its running event loop
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
        self.runner = Runner(config, self._on_message, mode=detector, loop=self._loop)
        log.info(f"consentscope: watching for {len(profile.identifiers)} values from {path}, session {session}")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A streamed body never sits in memory: keep a prefix for scanning as it passes.
        if self.runner is not None and flow.request.stream and not callable(flow.request.stream):
            tee = _Tee(self._max_body)
            flow.request.stream = tee
            flow.metadata["consentscope_tee"] = tee

    def request(self, flow: http.HTTPFlow) -> None:
        runner = self.runner
        if runner is None:
            return
        try:
            if wire.may_name(flow, _RESERVED) and flow.request.pretty_host.lower() == RESERVED_HOST:
                self._answer_device(flow, runner)
                return
            if not flow.live:
                return
            tee = flow.metadata.get("consentscope_tee")
            if tee is not None:
                body, truncated = bytes(tee.buf), tee.overflow
            else:
                body, truncated = flow.request.data.content or b"", False
                if len(body) > self._max_body:
                    body = body[: self._max_body]  # only what is scanned crosses to the detector
            self._pending[flow.id] = flow
            if wire.is_plain(flow):
                runner.send(wire.pack_request(flow, body, truncated), len(body))
                return
            items = flow_to_records(flow, body_override=body, body_truncated=truncated)
            items = [i for i in items if not (isinstance(i, RequestRecord) and i.kind == "websocket")]
            runner.send(Items(flow.id, tuple(items)), len(body))
        except Exception:
            self._count_error("request hook")

    def response(self, flow: http.HTTPFlow) -> None:
        """HTTPDNS answers name the IPs the app connects to next (only those responses are read)."""
        runner = self.runner
        if runner is None or not flow.live or flow.response is None or not is_httpdns_path(flow.request.path):
            return
        try:
            resp = flow.response  # decoded bounded (a gzip bomb as an answer is refused, not inflated)
            contacts = httpdns_response_contacts(flow.request.path, resp.raw_content, resp.headers.get(
                "content-encoding"), resp.timestamp_end or time.time(), flow.id)
            if contacts:
                runner.send(Items(flow.id, tuple(contacts)))
        except Exception:
            self._count_error("response hook")

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        runner = self.runner
        if runner is None or flow.websocket is None or not flow.live:
            return
        try:
            index = len(flow.websocket.messages) - 1
            if not flow.websocket.messages[index].from_client:
                return
            record = websocket_record(flow, index, max_body=self._max_body)
            self._send(runner, flow, [record])
        except Exception:
            self._count_error("websocket hook")

    def tls_failed_client(self, data: tls.TlsData) -> None:
        """The client aborted the handshake with the proxy: it does not trust our certificate,
        i.e. it pins. Nothing of that connection is readable; that it happened is evidence."""
        runner = self.runner
        if runner is None:
            return
        try:
            contact = _connection_contact(data.context, Via.TLS_FAILED)
            if contact is not None:
                runner.send(Items(f"tls-failed:{data.context.client.id}", (contact,)))
        except Exception:
            self._count_error("tls_failed_client hook")

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        """Connections mitmproxy passes through untouched (ignore_hosts, allow_hosts, protocols
        it does not speak): mitmproxy's own next-layer addon ran first and chose a TCP/UDP layer."""
        runner = self.runner
        if runner is None:
            return
        try:
            compat.decide_next_layer(nextlayer)
            if not isinstance(nextlayer.layer, layers.TCPLayer | layers.UDPLayer):
                return
            client = nextlayer.context.client
            if client.id in self._passthrough_seen:
                return
            self._passthrough_seen[client.id] = True
            while len(self._passthrough_seen) > 4096:
                self._passthrough_seen.pop(next(iter(self._passthrough_seen)))
            contact = _connection_contact(nextlayer.context, Via.TLS_PASSTHROUGH, nextlayer.data_client())
            if contact is not None:
                runner.send(Items(f"passthrough:{client.id}", (contact,)))
        except Exception:
            self._count_error("next_layer hook")

    def done(self) -> None:
        stats = self._stop_runner()
        if stats is not None and self.config is not None:
            log.info(
                f"consentscope: session {self.config.session}: {stats.requests} requests, {stats.findings} findings, "
                f"{self.errors + stats.errors} internal errors"
            )

    # -- commands --------------------------------------------------------------------

    @command.command("consentscope.mark")
    def mark(self, event: str, detail: str = "") -> None:
        """Record a timeline event now: consent, refuse, withdraw, start, policy or note."""
        try:
            name = normalize_event(event)
        except ValueError as e:
            raise exceptions.CommandError(str(e)) from None
        if self.runner is None:
            raise exceptions.CommandError("consentscope: no profile loaded (set consentscope_profile)")
        self.runner.send(Mark(time.time(), name, detail, "command"))

    @command.command("consentscope.consent")
    def consent(self) -> None:
        """Record that the user agreed to the privacy policy, now."""
        self.mark("consent")

    @command.command("consentscope.refuse")
    def refuse(self) -> None:
        """Record that the user refused the privacy policy, now."""
        self.mark("refusal")

    # -- plumbing --------------------------------------------------------------------

    def _send(self, runner: Runner, flow: http.HTTPFlow, items: Sequence[RequestRecord | Contact]) -> None:
        self._pending[flow.id] = flow
        runner.send(Items(flow.id, tuple(items)), sum(len(i.body) for i in items if isinstance(i, RequestRecord)))

    def _on_message(self, msg: Outbound) -> None:
        """Detector answers: on the event loop (``Runner.answers_on_loop``), else on a reader thread."""
        if isinstance(msg, Done):
            for flow_id in msg.flow_ids:
                self._pending.pop(flow_id, None)
            self.requests += len(msg.flow_ids)
        elif isinstance(msg, Result):
            flow = self._pending.pop(msg.flow_id, None)
            self.requests += 1
            if not msg.lines:
                return
            self.findings += len(msg.lines)
            self._shown.append((msg.lines, flow, msg.comment))
            runner = self.runner
            if runner is not None and runner.answers_on_loop and self._loop is not None:
                if not self._show_scheduled:  # once for the whole frame of answers being read
                    self._show_scheduled = True
                    self._loop.call_soon(self._show)
            elif self._loop is not None:
                self._loop.call_soon_threadsafe(self._show)
            else:  # a reader thread and no event loop (mitmproxy's test harness): no redraw
                self._show(annotate=False)
        elif isinstance(msg, Log):
            log.log(msg.level, msg.text)
        elif isinstance(msg, Failure):
            self.errors += 1
            log.error(msg.text)

    def _show(self, annotate: bool = True) -> None:
        """The findings of the answers read so far: one log record and one redraw for them all.
        mitmproxy hands every log record, and every update, to each of its ~40 addons in turn
        (the ``add_log`` and ``update`` hooks): once per frame of answers, not once per flow.
        ``annotate``: mark and comment the flows (on the event loop's thread only)."""
        self._show_scheduled = False
        lines: list[str] = []
        flows: list[http.HTTPFlow] = []
        while self._shown:
            try:
                found, flow, comment = self._shown.popleft()
            except IndexError:  # another thread took the last one
                break
            lines.extend(found)
            if flow is not None and annotate:
                try:
                    flow.marked = ":warning:"
                    flow.comment = "consentscope: " + comment
                    flows.append(flow)
                except Exception:
                    self._count_error("annotate")
        if lines:
            log.warning("\n".join(lines))
        if flows:
            try:
                compat.trigger_update(flows)
            except Exception:
                self._count_error("annotate")

    def _answer_device(self, flow: http.HTTPFlow, runner: Runner) -> None:
        now = flow.request.timestamp_start or time.time()
        session = self.config.session if self.config else ""
        action = answer(flow.request.url, session)
        flow.response = http.Response.make(
            action.status, action.body, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        )
        if action.mark is not None:
            runner.send(Mark(now, action.mark, flow.request.path, "device"))
        if action.new_session is not None and self.config is not None:
            sid = f"{default_session_id()}-{re.sub(r'[^A-Za-z0-9_.-]', '_', action.new_session)}"
            self.config = replace(self.config, session=sid)
            runner.send(NewSession(sid))

    def _stop_runner(self) -> Stopped | None:
        runner, self.runner = self.runner, None
        if runner is None:
            return None
        stats = runner.close()
        self._show()  # the last answers, read while closing (the event loop may not run again)
        return stats

    def _count_error(self, where: str) -> None:
        self.errors += 1
        log.exception(f"consentscope: internal error in {where} (traffic unaffected; {self.errors} so far)")
