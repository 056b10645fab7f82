"""Find the profile's position in a request: decimals, "lat,lon" strings, scaled integers.

A regex over every view would cost more than the whole identifier scan, so the matcher
first looks for cheap anchors (the leading digits every nearby coordinate shares); only
views that carry anchors for both latitude and longitude are parsed for numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ._limits import MAX_LOCATION_ANCHOR_STEPS

#: metres per degree of latitude (and of longitude at the equator)
_M_PER_DEG = 111_320.0

_NUMBER = re.compile(r"-?\d{1,3}\.\d{2,15}|-?\d{6,11}")

#: integer encodings of coordinates SDKs use (AMap/Umeng: 1e6, some: 1e5)
SCALES: tuple[tuple[float, str], ...] = ((1e6, "scaled1e6"), (1e5, "scaled1e5"))


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float
    precision_m: float = 1000.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude {self.latitude} out of range -90..90")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude {self.longitude} out of range -180..180")
        if self.precision_m <= 0:
            raise ValueError("precision_m must be positive")

    @property
    def tolerance(self) -> tuple[float, float]:
        dlat = self.precision_m / _M_PER_DEG
        coslat = max(math.cos(math.radians(self.latitude)), 0.01)
        return dlat, self.precision_m / (_M_PER_DEG * coslat)


def _anchors(value: float, tol: float, max_steps: int) -> set[str]:
    """Short strings every coordinate within ``tol`` of ``value`` contains, in decimal
    ("39.9") and scaled-integer ("3990") spelling."""
    out: set[str] = set()
    lo, hi = abs(value) - tol, abs(value) + tol
    steps = min(max(int((hi - lo) / 0.005), 1), max_steps)
    for i in range(steps + 1):
        v = max(lo + (hi - lo) * i / steps, 0.0)
        whole, frac = f"{v:.6f}".split(".")
        out.add(f"{whole}.{frac[0]}")
        out.add(str(int(v * 1e5))[:4])
    return {a for a in out if len(a) >= 3}


@dataclass(frozen=True, slots=True)
class LocationGates:
    lat: frozenset[str]
    lon: frozenset[str]

    @classmethod
    def for_point(cls, point: GeoPoint, max_steps: int = MAX_LOCATION_ANCHOR_STEPS) -> LocationGates:
        """``max_steps``: ``Limits.max_location_anchor_steps``."""
        dlat, dlon = point.tolerance
        return cls(
            frozenset(_anchors(point.latitude, dlat, max_steps)), frozenset(_anchors(point.longitude, dlon, max_steps))
        )


@dataclass(frozen=True, slots=True)
class Coordinate:
    axis: str  # "lat" or "lon"
    text: str
    scale: str | None
    start: int = 0  # offset in the text


_NUM_CHARS = frozenset("0123456789.-")


def coordinate_at(text: str, offset: int, point: GeoPoint) -> Coordinate | None:
    """The number token around ``offset`` (where an anchor matched), if it is within the
    profile's precision of its latitude or longitude. Cost: the token, not the text."""
    start = offset
    while start > 0 and text[start - 1] in _NUM_CHARS:
        start -= 1
    end = offset
    while end < len(text) and text[end] in _NUM_CHARS:
        end += 1
    m = _NUMBER.match(text, start, end)
    while m is None and start < offset:  # "-" or "." glued in front: skip it
        start += 1
        m = _NUMBER.match(text, start, end)
    if m is None or m.end() != end:
        return None
    found = coordinates_in(text[max(0, start - 1) : end + 1], point)
    if not found:
        return None
    c = found[0]
    return Coordinate(c.axis, c.text, c.scale, start)


def coordinates_in(text: str, point: GeoPoint) -> list[Coordinate]:
    """Numbers in ``text`` that lie within the profile's precision of its lat or lon."""
    dlat, dlon = point.tolerance
    found = []
    for m in _NUMBER.finditer(text):
        tok = m.group()
        start, end = m.span()
        # a number glued to more digits or letters is part of something else
        if (start > 0 and (text[start - 1].isalnum() or text[start - 1] == ".")) or (
            end < len(text) and (text[end].isalnum() or text[end] == ".")
        ):
            continue
        if "." in tok:
            candidates: list[tuple[float, str | None]] = [(float(tok), None)]
        else:
            candidates = [(int(tok) / s, name) for s, name in SCALES]
        for value, scale in candidates:
            if abs(value - point.latitude) <= dlat:
                found.append(Coordinate("lat", tok, scale, start))
                break
            if abs(value - point.longitude) <= dlon:
                found.append(Coordinate("lon", tok, scale, start))
                break
    return found
