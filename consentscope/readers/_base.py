"""What every capture reader yields, and the one error it raises.

Readers only frame and convert: they turn a file into ``RequestRecord`` (content we can
scan) and ``Contact`` (a connection or lookup whose content we cannot see) in capture order.
A reader that meets a broken record yields everything complete before it, then raises
``CaptureError`` naming the file and the byte offset, so no finding is ever lost.
"""

from __future__ import annotations

from consentscope.detectors import RequestRecord
from consentscope.errors import ConsentscopeError
from consentscope.model import Contact


class CaptureError(ConsentscopeError):
    """A capture could not be read (completely). ``offset`` is a byte offset when known."""

    def __init__(self, path: str, message: str, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message, path, f"byte {offset}" if offset is not None else None)


CaptureItem = RequestRecord | Contact

__all__ = ["CaptureError", "CaptureItem", "Contact"]
