"""A decoded view: some bytes of a request, where they came from and how they were uncovered."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class View(NamedTuple):
    """Text to scan. ``chain`` lists the decoding steps from the raw request to ``data``,
    outermost first (``("base64", "gzip", "json")``); ``location`` is the place in the
    request (see ``Finding.location``).

    A named tuple rather than a dataclass: a request yields dozens of views and building
    them is on the per-request hot path.
    """

    data: bytes
    location: str
    chain: tuple[str, ...] = ()
    #: for a view holding a whole document (JSON): the exact location of an offset in it
    resolve: Callable[[int], str] | None = None

    def location_at(self, offset: int) -> str:
        return self.location if self.resolve is None else self.resolve(offset)
