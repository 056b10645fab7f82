"""The detector entry point: compile a profile once, then scan request after request.

``Scanner.scan`` decodes a record into views, runs the one matcher pass over all of them
(joined with NUL separators so a match never spans two views), and turns hits into
findings. Location and list detectors ride on the same pass through gate and item
entries of the automaton.
"""

from __future__ import annotations

import base64
import binascii
import gc
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate

from ._adapters import BUILTIN_ADAPTERS, Adapter
from ._decode import decode_parts
from ._expand import DEFAULT_CHAIN_DEPTH, Identifier, Needle, base_variants, expand
from ._finding import Finding, built, profile_finding
from ._limits import DEFAULT_LIMITS, Limits
from ._location import GeoPoint, LocationGates, coordinate_at
from ._match import (
    BOUNDARY_PACKAGE,
    KIND_GATE,
    KIND_ITEM,
    KIND_NEEDLE,
    Matcher,
)
from ._patterns import PatternScan
from ._readability import readability
from ._record import RequestRecord
from ._view import PairsLocator, View

#: One request carrying this many of the profile's installed packages is an app-list
#: upload; one or two are usually the app naming itself or a share target.
INSTALLED_APPS_MIN = 3
#: Two of the address book's entries in one request make a contacts upload.
CONTACTS_MIN = 2
#: Transform steps that only re-spell text (as opposed to hashing it).
ENCODING_STEPS = frozenset({"base64", "base64url", "hex", "urlencode", "json-escape"})
#: Characters of context kept either side of a match in the evidence excerpt.
EVIDENCE_CONTEXT = 24
_PLUS_ONE = (1).__add__


@dataclass(frozen=True, slots=True)
class ScanProfile:
    """What to look for. Built by the profile loader; detectors never read files."""

    identifiers: tuple[Identifier, ...] = ()
    location: GeoPoint | None = None
    installed_apps: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanResult:
    findings: tuple[Finding, ...]
    anomalies: tuple[str, ...] = ()
    body_scan_truncated: bool = False
    #: what the decoder made of the payload (``_readability.readability``)
    readability: str = "readable"
    #: the part of the request a limit left unscanned (``DecodedRequest.unscanned``)
    unscanned: str = ""


def _scan_result(
    findings: tuple[Finding, ...], anomalies: tuple[str, ...], truncated: bool, readable: str, unscanned: str
) -> ScanResult:
    """``ScanResult(findings, anomalies, truncated, readable, unscanned)`` through ``built``:
    its ``__init__`` ran interpreted for every request (2% of detection)."""
    return built(ScanResult, findings, anomalies, truncated, readable, unscanned)


@dataclass(slots=True)
class _ListHits:
    members: dict[int, tuple[int, int]] = field(default_factory=dict)  # member -> (view, offset)


def _printable(s: str) -> str:
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else "·" for ch in s)


def _excerpt(view: bytes, start: int, end: int) -> tuple[str, tuple[int, int]]:
    """Context around a match, and where the match stands in it (characters)."""
    lo = max(0, start - EVIDENCE_CONTEXT)
    hi = min(len(view), end + EVIDENCE_CONTEXT)
    before = ("…" if lo > 0 else "") + _printable(view[lo:start].decode("utf-8", "replace"))
    match = _printable(view[start:end].decode("utf-8", "replace"))
    after = _printable(view[end:hi].decode("utf-8", "replace")) + ("…" if hi < len(view) else "")
    return before + match + after, (len(before), len(before) + len(match))


def _common_location(locations: Sequence[str]) -> str:
    first = locations[0]
    if all(loc == first for loc in locations):
        return first
    prefix = first
    for loc in locations[1:]:
        i = 0
        while i < min(len(prefix), len(loc)) and prefix[i] == loc[i]:
            i += 1
        prefix = prefix[:i]
    return prefix.rstrip("[.>") or first


class Scanner:
    """Compiled profile: expansion and automaton are built here, once."""

    def __init__(
        self,
        profile: ScanProfile,
        *,
        max_chain_depth: int = DEFAULT_CHAIN_DEPTH,
        limits: Limits = DEFAULT_LIMITS,
        patterns: bool = False,
        adapters: Sequence[Adapter] | None = None,
        fast_automaton: bool = False,
        matcher_backend: str = "",
    ) -> None:
        """``patterns``: also find PI by validated patterns (``_patterns.py``), with
        ``confidence="pattern"``; with an empty ``ScanProfile()`` that is a profile-less
        audit. Off, the scan does no pattern work at all. ``adapters``: SDK wire formats
        undone before decoding (``_adapters.py``); by default ``BUILTIN_ADAPTERS``, so every
        door (replay, live, batch) reads the same SDK formats; ``()`` for none.
        ``fast_automaton``: a matcher built to scan for long (``Matcher(fast=True)``:
        Hyperscan, or without it the automaton as a DFA), for a scanner that runs for hours
        (the live detector): same findings. ``matcher_backend``: "hyperscan", "dfa" or "nfa",
        for tests and benchmarks."""
        self.profile = profile
        self.adapters = tuple(BUILTIN_ADAPTERS if adapters is None else adapters)
        self.limits = limits
        self._patterns = PatternScan(limits.max_pattern_candidates, EVIDENCE_CONTEXT) if patterns else None
        with _collector_paused():
            self.needles: list[Needle] = expand(profile.identifiers, max_chain_depth)
            gates: list[str] = []
            self._gate_axis: list[str] = []
            if profile.location is not None:
                g = LocationGates.for_point(profile.location, limits.max_location_anchor_steps)
                for axis, anchors in (("lat", g.lat), ("lon", g.lon)):
                    for a in sorted(anchors):
                        gates.append(a)
                        self._gate_axis.append(axis)
            items: list[tuple[bytes, int]] = []
            self._item_owner: list[tuple[str, int]] = []  # (list name, member index)
            for idx, pkg in enumerate(profile.installed_apps):
                items.append((pkg.encode(), BOUNDARY_PACKAGE))
                self._item_owner.append(("installed_apps", idx))
            for idx, contact in enumerate(profile.contacts):
                spellings = base_variants("phone_number", contact) if _is_phone(contact) else [(contact, ())]
                for text, _ in spellings:
                    items.append((text.encode(), BOUNDARY_PACKAGE))
                    self._item_owner.append(("contacts", idx))
            self._list_sizes = {"installed_apps": len(profile.installed_apps), "contacts": len(profile.contacts)}
            self._matcher = Matcher(self.needles, gates, items, fast=fast_automaton, backend=matcher_backend)

    @property
    def automaton_size(self) -> int:
        return self._matcher.size

    @property
    def patterns(self) -> bool:
        """Is pattern detection on?"""
        return self._patterns is not None

    def scan(self, record: RequestRecord) -> ScanResult:
        views, anomalies, truncated, unscanned = decode_parts(record, self.limits, self.adapters)
        if self._patterns is None:
            findings = self.scan_views(views)
        else:
            findings, more = self._scan_views(views)
            if more:
                anomalies = (*anomalies, *(a for a in more if a not in anomalies))
        if unscanned:  # each finding says what of its request went unscanned
            note = f"not scanned: {unscanned}"
            findings = [_with_detail(f, note) for f in findings]
        stopped = truncated or bool(unscanned)
        return _scan_result(tuple(findings), anomalies, truncated, readability(record, views, stopped), unscanned)

    def scan_views(self, views: Sequence[View]) -> list[Finding]:
        return self._scan_views(views)[0]

    def _scan_views(self, views: Sequence[View]) -> tuple[list[Finding], list[str]]:
        """Findings, and the anomalies of the pattern pass (none when it is off)."""
        if not views:
            return [], []
        datas = [v.data for v in views]
        joined = b"\x00".join(datas)
        lower_bytes = joined.lower()
        candidates = self._matcher.candidates(lower_bytes)
        if self._patterns is None and not candidates[0] and not candidates[1]:
            return [], []  # nothing of the profile can start anywhere: most requests
        text = joined.decode("latin-1")
        lower = lower_bytes.decode("latin-1")
        # where each view starts in ``joined``: C-level, no Python step per view
        starts = list(accumulate(map(_PLUS_ONE, map(len, datas[:-1])), initial=0))

        needle_hits: list[tuple[int, int, int, Needle, tuple[str, ...]]] = []
        gate_views: dict[str, set[int]] = {"lat": set(), "lon": set()}
        gate_hits: list[tuple[int, int]] = []
        lists: dict[str, _ListHits] = {}
        margin = self.limits.base64_confirm_margin
        taken: list[tuple[int, int]] | None = None if self._patterns is None else []
        for hit in self._matcher.find(text, lower, lower_bytes, candidates):
            if taken is not None and hit.entry.kind != KIND_GATE:
                taken.append((hit.start, hit.end))  # the profile's: no pattern finding here
            vi = bisect_right(starts, hit.start) - 1
            view = views[vi]
            if type(view.resolve) is PairsLocator and not _inside(view, hit.start - starts[vi], hit.end - starts[vi]):
                continue  # in a name, or across two values, of a run of pairs
            e = hit.entry
            if e.kind == KIND_NEEDLE:
                needle = self.needles[e.index]
                chain = needle.chain
                if hit.prefix_only:
                    chain = ("prefix16", *chain)
                if not needle.case_sensitive:
                    found = text[hit.start : hit.end]
                    expected = e.text[: hit.end - hit.start]
                    if found != expected and found == expected.upper():
                        chain = ("upper", *chain)
                if needle.source and not _base64_confirms(text, hit.start, hit.end, needle, margin):
                    continue  # a fragment shared with a look-alike value: the decoded text decides
                needle_hits.append((vi, hit.start, hit.end, needle, chain))
            elif e.kind == KIND_GATE:
                gate_views[self._gate_axis[e.index]].add(vi)
                gate_hits.append((vi, hit.start - starts[vi]))
            elif e.kind == KIND_ITEM:
                name, member = self._item_owner[e.index]
                lists.setdefault(name, _ListHits()).members.setdefault(member, (vi, hit.start - starts[vi]))

        findings: dict[tuple[str, str, tuple[str, ...]], Finding] = {}
        outer_encoded: list[tuple[str, str, tuple[str, ...]]] = []
        for vi, start, end, needle, chain in _widest(needle_hits):
            view = views[vi]
            vs = starts[vi]
            encoding = (*view.chain, *chain)
            lo, hi, location = view.piece_at(start - vs) or (0, 0, "")  # never None: ``_inside``
            key = (needle.data_type, location, encoding)
            if key in findings:
                continue
            evidence, match = _excerpt(view.data[lo:hi], start - vs - lo, end - vs - lo)
            findings[key] = profile_finding(needle.data_type, encoding, location, evidence, match)
            if chain and chain[0] in ENCODING_STEPS:
                outer_encoded.append(key)
        # A value found encoded in a text AND plain in that text's decoded child view is
        # one occurrence: keep the decoded (deeper, more telling) finding.
        for key in outer_encoded:
            dtype, loc, enc = key
            if any(
                k[0] == dtype and k != key and k[1].startswith(loc) and len(k[2]) >= len(enc)
                for k in findings
            ):
                del findings[key]
        out = list(findings.values())
        if gate_views["lat"] and gate_views["lon"] and self.profile.location is not None:
            located = self._location(views, gate_hits)
            if located is not None:
                out.append(located)
        for name, minimum in (("installed_apps", INSTALLED_APPS_MIN), ("contacts", CONTACTS_MIN)):
            hits = lists.get(name)
            if hits is not None and len(hits.members) >= minimum:
                out.append(self._list_finding(name, hits, views))
        if self._patterns is None:
            return out, []
        point = self.profile.location
        near = None
        if point is not None:
            dlat, dlon = point.tolerance

            def near(lat: float, lon: float) -> bool:
                return abs(lat - point.latitude) <= dlat and abs(lon - point.longitude) <= dlon

        by_pattern, anomalies = self._patterns.scan(views, text, starts, taken or (), near)
        out.extend(by_pattern)
        return out, anomalies

    def _location(self, views: Sequence[View], gate_hits: list[tuple[int, int]]) -> Finding | None:
        assert self.profile.location is not None
        lat = lon = None
        seen: set[tuple[int, int]] = set()
        texts: dict[int, str] = {}
        for vi, offset in sorted(gate_hits):
            text = texts.get(vi)
            if text is None:
                text = texts[vi] = views[vi].data.decode("latin-1")
            c = coordinate_at(text, offset, self.profile.location)
            if c is None or (vi, c.start) in seen:
                continue
            seen.add((vi, c.start))
            if c.axis == "lat" and lat is None:
                lat = (vi, c)
            elif c.axis == "lon" and lon is None:
                lon = (vi, c)
            if lat and lon:
                break
        if lat is None or lon is None:
            return None
        view = views[lat[0]]
        scale = lat[1].scale or lon[1].scale
        encoding = (*view.chain, scale) if scale else view.chain
        location = view.location_at(lat[1].start)
        if lat[0] == lon[0] and _same_value(view, lat[1].start, lon[1].start):
            evidence = f"lat {lat[1].text}, lon {lon[1].text}"
        else:
            lon_location = views[lon[0]].location_at(lon[1].start)
            evidence = f"lat {lat[1].text} ({location}), lon {lon[1].text} ({lon_location})"
        return Finding("location", tuple(encoding), location, evidence)

    def _list_finding(self, name: str, hits: _ListHits, views: Sequence[View]) -> Finding:
        source = self.profile.installed_apps if name == "installed_apps" else self.profile.contacts
        members = sorted(hits.members)
        places = sorted(hits.members[m] for m in members)
        first = views[places[0][0]]
        location = _common_location(sorted({views[vi].location_at(off) for vi, off in places}))
        shown = ", ".join(source[m] for m in members[:5]) + (", …" if len(members) > 5 else "")
        return Finding(
            data_type=name,
            encoding=first.chain,
            location=location,
            evidence=f"{len(members)} of {self._list_sizes[name]}: {shown}",
            detail=f"count={len(members)}",
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while a profile compiles: a full profile makes about
    120,000 objects the collector tracks (needles, entries, their tuples), none in a
    cycle, all kept; with the default thresholds it walked the growing heap over and over,
    a quarter of the build's time. Once on again, it looks at them once as young objects
    (0.02 s), as it would have anyway."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _inside(view: View, start: int, end: int) -> bool:
    """Does the match stay inside one value of the view (``View.piece_at``)?"""
    piece = view.piece_at(start)
    return piece is not None and end <= piece[1]


def _same_value(view: View, a: int, b: int) -> bool:
    """Are both offsets in a view of one value (as opposed to a document or a run of pairs)?"""
    if view.resolve is None:
        return True
    if type(view.resolve) is not PairsLocator:
        return False
    return view.piece_at(a) == view.piece_at(b)


_B64_STD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B64_URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _base64_confirms(text: str, start: int, end: int, needle: Needle, margin: int) -> bool:
    """A base64 fragment leaves the value's last bits undecided, so two values that differ
    only at the end (a Wi-Fi and a Bluetooth MAC) share fragments. Decode the base64 text
    around the hit (``margin`` characters each side: ``Limits.base64_confirm_margin``), at
    each of the four alignments, and look for the value itself."""
    urlsafe = needle.chain[0] == "base64url"
    alphabet = _B64_URL if urlsafe else _B64_STD
    lo = start
    while lo > 0 and start - lo < margin and text[lo - 1] in alphabet:
        lo -= 1
    hi = end
    while hi < len(text) and hi - end < margin and text[hi] in alphabet:
        hi += 1
    window = text[lo:hi]
    decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
    for shift in range(4):
        chunk = window[shift:]
        for candidate in (chunk + "=" * (-len(chunk) % 4), chunk[: len(chunk) - len(chunk) % 4]):
            try:
                if needle.source in decode(candidate):
                    return True
            except (ValueError, binascii.Error):
                continue
    return False


def _widest(
    hits: list[tuple[int, int, int, Needle, tuple[str, ...]]],
) -> list[tuple[int, int, int, Needle, tuple[str, ...]]]:
    """Drop hits inside a wider hit of the same data type in the same view: "+8613812345678"
    is one phone number in the +86 spelling, not also the "86" and bare spellings."""
    ordered = sorted(hits, key=lambda h: (h[0], h[1], -(h[2] - h[1])))
    kept: list[tuple[int, int, int, Needle, tuple[str, ...]]] = []
    reach: dict[tuple[int, str], int] = {}
    for h in ordered:
        vi, _start, end, needle, _ = h
        k = (vi, needle.data_type)
        if reach.get(k, -1) >= end:
            continue
        reach[k] = max(reach.get(k, -1), end)
        kept.append(h)
    return kept


def _is_phone(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return digits >= 7 and digits >= len(value.replace(" ", "").replace("-", "").replace("+", "")) - 1


def _with_detail(f: Finding, note: str) -> Finding:
    detail = f"{f.detail}; {note}" if f.detail else note
    return Finding(f.data_type, f.encoding, f.location, f.evidence, detail, f.match, f.confidence)
