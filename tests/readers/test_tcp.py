"""TCP reassembly: a stream split at every byte, in either order, with retransmissions,
assembles to the same bytes; the open-stream table keeps its bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import Limits
from consentscope.readers._tcp import OPEN_BYTES_LIMIT, STREAMS_LIMIT, Stream, Streams, time_at

DATA = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"


def _stream() -> Stream:
    return Stream("10.0.0.2", 1000, "10.0.0.1", 80, 0.0, 0.0)


@pytest.mark.parametrize("reverse", [False, True])
def test_split_at_every_byte_in_either_order(reverse: bool) -> None:
    for cut in range(1, len(DATA)):
        s = _stream()
        s.add(999, b"", 0.0, True, 1 << 20)  # SYN: the stream starts at 1000
        pieces = [(1000, DATA[:cut], 1.0), (1000 + cut, DATA[cut:], 2.0)]
        for seq, data, t in reversed(pieces) if reverse else pieces:
            s.add(seq, data, t, False, 1 << 20)
        s.add(1000, DATA[: cut // 2], 3.0, False, 1 << 20)  # a shorter retransmission
        data, times, gap = s.assemble()
        assert (data, gap) == (DATA, None), cut
        assert time_at(times, 0, -1.0) == 1.0 and time_at(times, len(DATA) - 1, -1.0) == 2.0


def test_gap_is_reported_where_it_starts() -> None:
    s = _stream()
    s.add(1, DATA[:10], 1.0, False, 1 << 20)
    s.add(21, DATA[20:], 2.0, False, 1 << 20)
    assert s.assemble() == (DATA[:10], [(0, 1.0)], 10)


def test_bytes_beyond_the_stream_bound_are_not_kept() -> None:
    s = _stream()
    assert s.add(1, b"x" * 100, 1.0, False, 50) == 100  # the first segment is kept whole
    assert s.add(101, b"y" * 10, 1.0, False, 50) == 0  # beyond the bound: dropped, not held
    assert s.size == 100


def test_idle_and_closing_order() -> None:
    streams = Streams(Limits(idle_seconds=10.0))
    for i, t in enumerate((0.0, 1.0, 30.0)):
        streams.segment(("a", i, "b", 80), t, 1, b"x", False)
    streams.segment(("a", 0, "b", 80), 31.0, 2, b"y", False)  # stream 0 active again
    assert [s.sport for s in streams.pop_idle(35.0)] == [1]
    assert [s.sport for s in streams.pop_all()] == [0, 2]  # by first packet
    assert streams.held == 0


def test_stream_count_bound_assembles_the_least_recently_active() -> None:
    streams = Streams(Limits(max_streams=2))
    streams.segment(("a", 1, "b", 80), 0.0, 1, b"x", False)
    streams.segment(("a", 2, "b", 80), 1.0, 1, b"x", False)
    streams.segment(("a", 1, "b", 80), 2.0, 2, b"x", False)
    [early] = streams.segment(("a", 3, "b", 80), 3.0, 1, b"x", False)
    assert early.sport == 2 and sorted(k[1] for k in streams.open) == [1, 3]


def test_each_bound_that_assembles_a_direction_early_is_named() -> None:
    named: list[str] = []
    streams = Streams(Limits(max_streams=2, max_open_stream_bytes=250), named.append)
    streams.segment(("a", 1, "b", 80), 0.0, 1, b"x" * 100, False)
    streams.segment(("a", 2, "b", 80), 1.0, 1, b"x" * 100, False)
    assert named == []
    streams.segment(("a", 3, "b", 80), 2.0, 1, b"x" * 10, False)  # a third direction: the count bound
    assert named == [STREAMS_LIMIT]
    streams.segment(("a", 3, "b", 80), 3.0, 11, b"x" * 200, False)  # 310 bytes held: the byte budget
    assert named == [STREAMS_LIMIT, OPEN_BYTES_LIMIT] and streams.held <= 250


def _assemble_byte_by_byte(s: Stream) -> tuple[bytes, list[tuple[int, float]], int | None]:
    """The reference: each segment in offset order adds what lies past the bytes so far."""
    out = bytearray()
    times: list[tuple[int, float]] = []
    for rel in sorted(s.segments):
        data = s.segments[rel]
        if rel > len(out):
            return bytes(out), times, len(out)
        if rel + len(data) > len(out):
            times.append((len(out), s.seg_times[rel]))
            out += data[len(out) - rel :]
    return bytes(out), times, None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=12), st.booleans())
def test_assembly_equals_the_reference(pieces: list[tuple[int, int]], end_to_end: bool) -> None:
    """End-to-end segments (the joined shortcut) and any gaps and overlaps alike."""
    s = _stream()
    pos = 0
    for i, (start, size) in enumerate(pieces):
        if end_to_end:
            start, pos = pos, pos + size
        s.add(1000 + start, bytes((65 + (start + k) % 26) for k in range(size)), float(i), False, 1 << 20)
    assert s.assemble() == _assemble_byte_by_byte(s)
