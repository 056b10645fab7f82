"""TCP reassembly per direction: dpkt parses segments but has none (kbandla/dpkt#629).

A direction is assembled when it closes (FIN/RST), goes idle, or a bound is reached, so
memory follows the open connections, not the file. Bounds (``Limits``): bytes per
direction, directions open at once, and one budget of bytes held across all of them; the
least recently active direction is assembled early when a bound is hit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from consentscope.detectors import DEFAULT_LIMITS, Limits

StreamKey = tuple[str, int, str, int]

#: Anomaly: a direction was assembled early because ``Limits.max_streams`` directions were
#: open; its later segments start a new direction that may not parse (its content is lost).
STREAMS_LIMIT: Final = "tcp-streams-limit"
#: Anomaly: a direction was assembled early because the bytes held across all open
#: directions passed ``Limits.max_open_stream_bytes``.
OPEN_BYTES_LIMIT: Final = "tcp-open-bytes-limit"
_NONE: list = []  # never appended to: the common "nothing to assemble early"


@dataclass(slots=True)
class Stream:
    src: str
    sport: int
    dst: str
    dport: int
    first_time: float
    last_time: float
    serial: int = 0  # creation order: idle streams are assembled in it
    base: int | None = None
    segments: dict[int, bytes] = field(default_factory=dict)
    seg_times: dict[int, float] = field(default_factory=dict)
    size: int = 0

    def add(self, seq: int, data: bytes, t: float, syn: bool, max_bytes: int) -> int:
        """Keep a segment; returns the bytes newly held."""
        if syn:
            self.base = (seq + 1) & 0xFFFFFFFF
            return 0
        if not data:
            return 0
        if self.base is None:
            self.base = seq
        rel = (seq - self.base) & 0xFFFFFFFF
        if rel > max_bytes or self.size > max_bytes:
            return 0
        old = self.segments.get(rel)
        if old is None or len(data) > len(old):  # retransmission: keep the longer copy
            self.segments[rel] = data
            self.seg_times.setdefault(rel, t)
            self.size += len(data)
            return len(data)
        return 0

    def assemble(self) -> tuple[bytes, list[tuple[int, float]], int | None]:
        """The stream's bytes, the capture time at byte offsets, and the offset of the
        first gap (None if complete)."""
        order = sorted(self.segments)
        end = 0
        for rel in order:  # the common case: segments end to end, neither gap nor overlap
            if rel != end:
                break
            end += len(self.segments[rel])
        else:
            seg_times = self.seg_times
            return b"".join([self.segments[rel] for rel in order]), [(rel, seg_times[rel]) for rel in order], None
        out = bytearray()
        times: list[tuple[int, float]] = []
        gap = None
        for rel in order:
            data = self.segments[rel]
            if rel > len(out):
                gap = len(out)
                break
            if rel + len(data) <= len(out):
                continue  # fully overlapped
            times.append((len(out), self.seg_times[rel]))
            out += data[len(out) - rel :]
        return bytes(out), times, gap


def time_at(times: list[tuple[int, float]], offset: int, default: float) -> float:
    """Capture time of the segment holding byte ``offset`` of an assembled stream. A
    binary search: a linear walk per request made 100,000 pipelined requests over 2,600
    segments cost 130 million steps (6 s; the whole 1.6 MB stream now reads in 1.7 s)."""
    i = bisect_right(times, offset, key=_start)
    return times[i - 1][1] if i else default


def _start(entry: tuple[int, float]) -> int:
    return entry[0]


class Streams:
    """Open directions, least recently active first, within the bounds of ``Limits``."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, anomaly: Callable[[str], None] | None = None) -> None:
        """``anomaly``: called with ``STREAMS_LIMIT`` or ``OPEN_BYTES_LIMIT`` for each
        direction assembled early, so the reader can say what a bound cost."""
        self.limits = limits
        self.anomaly = anomaly
        self.max_stream_bytes, self.max_open_stream_bytes = limits.max_stream_bytes, limits.max_open_stream_bytes
        self.open: OrderedDict[StreamKey, Stream] = OrderedDict()
        self.held = 0  # bytes held across all open directions
        self._serial = 0

    def segment(self, key: StreamKey, t: float, seq: int, data: bytes, syn: bool) -> list[Stream]:
        """Add a segment; returns the directions that must be assembled now to stay within
        the bounds (the least recently active first), already removed."""
        evicted: list[Stream] = _NONE
        s = self.open.get(key)
        if s is None:
            if len(self.open) >= self.limits.max_streams:
                evicted = [self.pop_oldest()]
                if self.anomaly is not None:
                    self.anomaly(STREAMS_LIMIT)
            self._serial += 1
            s = self.open[key] = Stream(key[0], key[1], key[2], key[3], t, t, self._serial)
        else:
            self.open.move_to_end(key)
        s.last_time = t
        self.held += s.add(seq, data, t, syn, self.max_stream_bytes)
        if self.held > self.max_open_stream_bytes:
            evicted = list(evicted)
            while self.held > self.max_open_stream_bytes and self.open:
                evicted.append(self.pop_oldest())
                if self.anomaly is not None:
                    self.anomaly(OPEN_BYTES_LIMIT)
        return evicted

    def pop(self, key: StreamKey) -> Stream | None:
        s = self.open.pop(key, None)
        if s is not None:
            self.held -= s.size
        return s

    def pop_oldest(self) -> Stream:
        _, s = self.open.popitem(last=False)
        self.held -= s.size
        return s

    def pop_idle(self, now: float) -> list[Stream]:
        """Directions silent for ``Limits.idle_seconds``, in creation order."""
        idle = sorted((s for s in self.open.values() if now - s.last_time > self.limits.idle_seconds),
                      key=lambda s: s.serial)
        for s in idle:
            self.pop((s.src, s.sport, s.dst, s.dport))
        return idle

    def pop_all(self) -> list[Stream]:
        """Every open direction, in order of first packet (the end of the capture)."""
        rest = sorted(self.open.values(), key=lambda s: (s.first_time, s.serial))
        self.open.clear()
        self.held = 0
        return rest
