"""A decoded view: some bytes of a request, where they came from and how they were uncovered."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class View:
    """Text to scan. ``chain`` lists the decoding steps from the raw request to ``data``,
    outermost first (``("base64", "gzip", "json")``); ``location`` is the place in the
    request (see ``Finding.location``)."""

    data: bytes
    location: str
    chain: tuple[str, ...] = ()
