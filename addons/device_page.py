"""The reserved host ``consentscope.invalid``: the tester's remote control on the phone.

Requests to it are answered by the addon and never forwarded. ``.invalid`` is reserved
(RFC 2606), so no real site can be shadowed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from consentscope.session import DEVICE_MARKS, RESERVED_HOST

__all__ = ["RESERVED_HOST", "DeviceAction", "answer"]


@dataclass(frozen=True, slots=True)
class DeviceAction:
    status: int
    body: bytes
    mark: str | None = None  # timeline event to record
    new_session: str | None = None  # label of a session to start


_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>consentscope</title>
<style>body{{font:18px system-ui,sans-serif;margin:24px}}a{{display:block;margin:12px 0;padding:16px;
border-radius:10px;text-align:center;text-decoration:none;color:#fff;background:#1d2330}}
a.c{{background:#067647}}a.r{{background:#b42318}}p{{color:#555}}</style></head><body>
<h2>consentscope</h2><p>Session <b>{session}</b>. {status}</p>
<a class="c" href="/consent">I agreed to the privacy policy</a>
<a class="r" href="/refuse">I refused</a>
<a href="/withdraw">I withdrew consent</a>
<a href="/session/new?label=next">Start a new session</a>
</body></html>"""


def answer(url: str, session: str, status_text: str = "") -> DeviceAction:
    """What to reply to a request for ``url`` on the reserved host."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    if path == "/":
        body = _PAGE.format(session=html.escape(session), status=html.escape(status_text))
        return DeviceAction(200, body.encode())
    if path in DEVICE_MARKS:
        event = DEVICE_MARKS[path]
        return DeviceAction(200, _done(f"Recorded: {event}.", session), mark=event)
    if path == "/session/new":
        label = (parse_qs(parts.query).get("label") or ["session"])[0][:64]
        return DeviceAction(200, _done(f"New session: {label}.", label), new_session=label)
    return DeviceAction(404, _done("Unknown action.", session))


def _done(message: str, session: str) -> bytes:
    return _PAGE.format(session=html.escape(session), status=html.escape(message)).encode()
