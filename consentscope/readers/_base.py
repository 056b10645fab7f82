"""What every capture reader yields, and the one error it raises.

Readers only frame and convert: they turn a file into ``RequestRecord`` (content we can
scan) and ``Contact`` (a connection or lookup whose content we cannot see) in capture order.
A reader that meets a broken record yields everything complete before it, then raises
``CaptureError`` naming the file and the byte offset, so no finding is ever lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentscope.detectors import RequestRecord


@dataclass(frozen=True, slots=True)
class Contact:
    """A connection or name lookup seen without (or before) its content.

    ``via``: "tls-sni", "quic-sni", "dns", "http-connect" or "http".
    """

    time: float
    host: str
    ip: str | None
    port: int | None
    via: str
    tls_version: str | None = None
    flow_id: str = ""


class CaptureError(Exception):
    """A capture could not be read (completely). ``offset`` is a byte offset when known."""

    def __init__(self, path: str, message: str, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        self.message = message
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{path}{where}: {message}")


CaptureItem = RequestRecord | Contact
