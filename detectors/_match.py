"""One Aho–Corasick pass over all views of a request finds every needle at once.

The automaton is built over lower-cased needles and run over the lower-cased text, so
case variants cost nothing; case-sensitive needles (base64) are confirmed against the
original text afterwards. Needles longer than ``ANCHOR_LEN`` are entered by their first
``ANCHOR_LEN`` characters only and confirmed on a hit: digests are random, so 16
characters are as selective as 128 while keeping the automaton small.

Text is handled as latin-1 strings: a 1:1 mapping of bytes, so offsets are byte offsets
and a UTF-8 needle matches its UTF-8 bytes; the automaton runs over the same bytes.

The automaton is ``ahocorasick_rs`` (Rust's ``aho-corasick``): over the bytes, all matches
overlapping, in the order pyahocorasick gave them (by end, the longest first at one end),
returned as one list. On the benchmark's full profile (11,000 anchors) one pass over a
2 KB request took 50 µs with pyahocorasick's iterator and 16-18 µs with this one's
contiguous NFA.

A matcher built to scan for long (``Matcher(fast=True)``: the live detector, which scans for
hours) runs Hyperscan instead (``hyperscan``, Vectorscan's literal compiler, where its wheel
installs): 0.5 ns a byte against the NFA's 3.3-3.8 (the bench's live mix, 55 MB of views), the
same matches, put in the same order (by end, then start). It takes 0.16 s to build (the NFA
0.02 s), so a replay or batch task, which builds a scanner per profile and may scan little,
starts with the NFA and builds Hyperscan in a thread once it has scanned ``UPGRADE_BYTES``.
Where ``hyperscan`` does not import, ``fast`` is ahocorasick_rs's DFA, twice the NFA's speed
(47-69 MB and 0.2-0.3 s to build), and the NFA stays.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from itertools import compress, count, repeat
from operator import attrgetter, itemgetter, not_
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import ahocorasick_rs

try:  # Vectorscan, statically linked in the wheel (Linux, macOS, Windows on x86-64 and arm64)
    import hyperscan

    HYPERSCAN = True
except ImportError:  # a platform without its wheel: the automaton does the same
    HYPERSCAN = False

from ._expand import (
    BOUNDARY_ALNUM,
    BOUNDARY_HEX,
    BOUNDARY_HEXDASH,
    BOUNDARY_NONE,
    BOUNDARY_TOKEN,
    Needle,
)
from ._sniff import ByteClass, long_runs

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

ANCHOR_LEN: Final = 16
#: A matcher built for a short task (a replay, a batch task) starts with the compact automaton,
#: which builds in 0.02 s; once it has scanned this many bytes it builds Hyperscan in a thread
#: and takes it when ready: 0.16 s of building, repaid by 3 ns a byte after about 50 MB.
UPGRADE_BYTES: Final = 32 << 20

#: upgrades under way (``Matcher._upgrade``)
_UPGRADES: set[threading.Thread] = set()


def _finish_upgrades() -> None:
    """Before a fork: no Hyperscan build is half done in the parent (the child would inherit
    its memory but not its thread)."""
    for thread in list(_UPGRADES):
        thread.join(10.0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_upgrades)

_HEX = frozenset("0123456789abcdefABCDEF")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEXDASH = _HEX | {"-"}
_PKG = _ALNUM | {"_", "."}

#: list items (package names) end at characters that cannot continue a package name
BOUNDARY_PACKAGE = 5


def _in_token(ch: str, boundary: int) -> bool:
    """Would ``ch`` next to a hit make the hit part of a longer token?"""
    if boundary == BOUNDARY_HEX:
        return ch in _HEX
    if boundary == BOUNDARY_ALNUM:
        return ch in _ALNUM
    if boundary == BOUNDARY_HEXDASH:
        return ch in _HEXDASH
    if boundary == BOUNDARY_TOKEN:
        return ch in _ALNUM or ch == "_" or ch >= "\x80"
    if boundary == BOUNDARY_PACKAGE:
        return ch in _PKG
    return False


KIND_NEEDLE = 0
KIND_GATE = 1  # location anchors: "look closer at this view"
KIND_ITEM = 2  # one member of a list (installed app, contact)


class Entry:
    """What an automaton key stands for: a needle, a location gate or a list item. Never
    changed once made, but a plain class, not a frozen dataclass: compiled, its ``__init__``
    is C (0.16 µs), where a frozen dataclass keeps the interpreted one (1.4 µs; a full
    profile makes 35,000 entries)."""

    __slots__ = ("boundary", "case_sensitive", "index", "kind", "lower", "prefix16", "text")

    def __init__(
        self, kind: int, index: int, text: str, lower: str, case_sensitive: bool, boundary: int,
        prefix16: bool = False,
    ) -> None:
        self.kind = kind
        self.index = index  # into needles, gate names or list items
        self.text = text  # full text, latin-1 view of the UTF-8 bytes (original case)
        self.lower = lower
        self.case_sensitive = case_sensitive
        self.boundary = boundary
        self.prefix16 = prefix16


#: the codec of all text here (the module's notes), as ``map``'s argument; lower-casing is
#: ASCII-only (``bytes.lower``), so offsets and UTF-8 bytes stay intact
_LATIN1 = repeat("latin-1")
_TEXT, _BOUNDARY = attrgetter("text"), attrgetter("boundary")
_CASE_SENSITIVE, _PREFIX16 = attrgetter("case_sensitive"), attrgetter("prefix16")
_END_START = itemgetter(2, 1)


class Hit(NamedTuple):
    """A confirmed match (a named tuple: one is made per automaton hit, and a frozen
    dataclass's ``__init__`` cost 3 % of the scan of real SDK requests)."""

    entry: Entry
    start: int
    end: int
    prefix_only: bool  # a digest found as its first 16 hex characters


#: (automaton matches as (key index, start, end), digest anchors as (start, entries))
Candidates = tuple[list[tuple[int, int, int]], list[tuple[int, tuple["Entry", ...]]]]


class Matcher:
    """Multi-pattern matcher over needles, location gates and list items."""

    def __init__(
        self,
        needles: Sequence[Needle],
        gates: Sequence[str] = (),
        items: Sequence[tuple[bytes, int]] = (),
        fast: bool = False,
        backend: str = "",
    ) -> None:
        """``fast``: built to scan for long: Hyperscan, or without it the automaton as a DFA;
        else the compact automaton, which turns to Hyperscan after ``UPGRADE_BYTES`` (see the
        module's notes); the same matches. ``backend`` chooses for tests and benchmarks:
        "hyperscan", "dfa" or "nfa" (this one never upgrades)."""
        # Every needle's entry, then every gate's, then every item's, each under its anchor:
        # its first ``ANCHOR_LEN`` characters, lower-cased. A full profile has 35,000
        # needles: the tables are built in a few passes over whole columns, most of them in
        # C (map, zip, compress, set operations), which took the matcher's build from 0.2 s
        # to 0.08 s (the automaton itself: 0.02 s).
        n, n_gates, n_items = len(needles), len(gates), len(items)
        texts = list(map(_TEXT, needles))
        boundaries = list(map(_BOUNDARY, needles))
        item_texts = [item for item, _ in items]
        gate_lowers = list(map(str.lower, gates))
        lowers = [*map(bytes.lower, texts), *map(str.encode, gate_lowers, _LATIN1), *map(bytes.lower, item_texts)]
        entries: list[Any] = [  # 35,000 needles'; few gates and items
            *map(
                Entry, repeat(KIND_NEEDLE, n), count(), map(bytes.decode, texts, _LATIN1),
                map(bytes.decode, lowers[:n], _LATIN1), map(_CASE_SENSITIVE, needles), boundaries,
                map(_PREFIX16, needles),
            ),
            *map(Entry, repeat(KIND_GATE, n_gates), count(), gates, gate_lowers, repeat(False), repeat(BOUNDARY_NONE)),
            *map(
                Entry, repeat(KIND_ITEM, n_items), count(), map(bytes.decode, item_texts, _LATIN1),
                map(bytes.decode, lowers[n + n_gates :], _LATIN1), repeat(False), (boundary for _, boundary in items),
            ),
        ]
        keys = [lower[:ANCHOR_LEN] for lower in lowers]  # bytes: the automaton's and the hex table's
        # each key where it first comes, with its entries: one entry for all but a few keys
        table: dict[bytes, tuple[Entry, ...]] = dict(zip(keys, zip(entries), strict=True))
        if len(table) < len(keys):
            seen: set[bytes] = set()
            see = seen.add
            shared = {key for key in keys if key in seen or see(key)}
            groups: dict[bytes, list[Entry]] = {}
            for key, entry in compress(zip(keys, entries, strict=True), map(shared.__contains__, keys)):
                groups.setdefault(key, []).append(entry)
            table.update((key, tuple(group)) for key, group in groups.items())
        self.size = len(table)
        #: digests: found where a hex run starts (``_hex_starts``), by a dict lookup: keys of
        #: 16 hex digits whose entries are all needles that refuse a hex digit before them
        bounded = list(map(_HEX_BOUNDED.__contains__, boundaries))
        hex_set = {k for k in compress(keys, bounded) if len(k) == ANCHOR_LEN and not k.strip(_HEX_DIGITS)}
        hex_set.difference_update(compress(keys, map(not_, bounded)), keys[n:])  # a needle not bounded, gates, items
        #: the automaton's keys, sorted (bytes sort as their latin-1 text does), and at each
        #: key's index, its entries
        self._keys = sorted(table.keys() - hex_set)
        self._entries = tuple(map(table.__getitem__, self._keys))
        for key in self._keys:
            del table[key]
        self._hex_bytes = dict(table)  # what is left, compacted
        self._hex_bits = _prefix_bits(self._hex_bytes)
        self._ac: ahocorasick_rs.BytesAhoCorasick | None = None  # the automaton (NFA or DFA)
        self._hs: Any = None  # Hyperscan's database, once built
        #: keys holding a NUL byte, which the hyperscan binding would cut there (it takes C
        #: strings): their indexes, and a small automaton of them beside it (none in the
        #: bench's profile)
        self._nul_ids: list[int] = []
        self._nul_ac: ahocorasick_rs.BytesAhoCorasick | None = None
        #: each key's length: a Hyperscan match gives its end only
        self._lens = tuple(map(len, self._keys))
        self._local = threading.local()  # a Hyperscan scratch space per thread
        #: bytes this matcher may still scan with the automaton before it builds Hyperscan
        #: (in a thread, then takes it): -1 never
        self._upgrade_at: int = -1
        if backend not in ("", "hyperscan", "dfa", "nfa"):
            raise ValueError(f"unknown matcher backend {backend!r}")
        if not backend:
            if fast:
                backend = "hyperscan" if HYPERSCAN else "dfa"
            else:
                backend = "nfa"
                if HYPERSCAN and self._keys:
                    self._upgrade_at = UPGRADE_BYTES
        #: what ``candidates`` runs: "hyperscan", "dfa" or "nfa" (an upgrade changes it once)
        self.backend = backend
        if self._keys and backend == "hyperscan":
            self._build_hyperscan()
        elif self._keys:
            kind = ahocorasick_rs.Implementation
            self._ac = ahocorasick_rs.BytesAhoCorasick(
                self._keys,
                implementation=kind.DFA if backend == "dfa" else kind.ContiguousNFA,
            )

    def _build_hyperscan(self) -> None:
        """Compile the keys for Hyperscan (0.16 s for the bench's 11,000; the binding lets go
        of the interpreter lock meanwhile)."""
        plain = [i for i, key in enumerate(self._keys) if b"\x00" not in key]
        nul_ids = [i for i, key in enumerate(self._keys) if b"\x00" in key]
        if plain:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[self._keys[i] for i in plain], ids=plain, elements=len(plain), flags=0,
                       literal=True)
            self._hs = db
        if nul_ids:
            self._nul_ac = ahocorasick_rs.BytesAhoCorasick([self._keys[i] for i in nul_ids])
            self._nul_ids = nul_ids

    def _upgrade(self) -> None:
        """This matcher has scanned ``UPGRADE_BYTES``: it will scan for long. Hyperscan is
        built in a thread, on a free core, while the automaton goes on; ``candidates`` takes
        it from its next call after it is ready. The same matches either way."""
        self._upgrade_at = -1
        thread = threading.Thread(target=self._upgrade_in_thread, name="consentscope-hyperscan", daemon=True)
        _UPGRADES.add(thread)
        thread.start()

    def _upgrade_in_thread(self) -> None:
        try:
            self._build_hyperscan()
        except Exception:  # out of memory, a refusal: the automaton stays, and finds the same
            return
        finally:
            _UPGRADES.discard(threading.current_thread())
        self.backend = "hyperscan"  # last: the database is complete before anyone reads it

    def _hs_matches(self, data: bytes) -> list[tuple[int, int, int]]:
        """Hyperscan's matches as the automaton gives them: (key index, start, end), by end,
        then start (at one end, the longest key first)."""
        out: list[tuple[int, int, int]] = []
        if self._hs is not None:
            local = self._local
            scratch = getattr(local, "scratch", None)
            if scratch is None:
                scratch = local.scratch = hyperscan.Scratch(self._hs)
            append = out.append
            lens = self._lens

            def matched(key: int, _from: int, end: int, _flags: int, _context: object) -> None:
                append((key, end - lens[key], end))

            self._hs.scan(data, match_event_handler=matched, scratch=scratch)
        if self._nul_ac is not None:  # the keys with a NUL byte
            ids = self._nul_ids
            nul = self._nul_ac.find_matches_as_indexes(data, overlapping=True)
            out.extend([(ids[k], start, end) for k, start, end in nul])
        out.sort(key=_END_START)
        return out

    @property
    def _hex(self) -> dict[str, tuple[Entry, ...]]:
        """The hex-anchor table by text (for tests and benchmarks; the scan asks ``_hex_bytes``)."""
        return {k.decode("latin-1"): v for k, v in self._hex_bytes.items()}

    @property
    def _automaton(self) -> dict[str, tuple[Entry, ...]]:
        """The automaton's keys by text, in order, with their entries (for tests and benchmarks)."""
        return dict(zip(map(bytes.decode, self._keys, _LATIN1), self._entries, strict=True))

    def candidates(self, lower_bytes: bytes) -> Candidates:
        """Where an entry may start in ``lower_bytes`` (lower-cased text), before any
        confirmation: the automaton's matches, and the starts of hex runs whose first 16
        digits are a digest's anchor. Empty on most requests (three in four typical ones),
        which then need no text, no confirmation and no finding bookkeeping at all."""
        if self._upgrade_at >= 0:
            self._upgrade_at -= len(lower_bytes)
            if self._upgrade_at <= 0:
                self._upgrade()
        if self.backend == "hyperscan":
            matches = self._hs_matches(lower_bytes) if self._keys else []
        elif self._ac is not None:
            matches = self._ac.find_matches_as_indexes(lower_bytes, overlapping=True)
        else:
            matches = []
        digests: list[tuple[int, tuple[Entry, ...]]] = []
        if self._hex_bytes:
            starts = _hex_starts(lower_bytes)
            if starts:
                digests = _digests_at(lower_bytes, starts, self._hex_bits, self._hex_bytes)
        return matches, digests

    def find(
        self, text: str, lower: str, lower_bytes: bytes | None = None, candidates: Candidates | None = None
    ) -> Iterator[Hit]:
        """All confirmed hits in ``text`` (``lower`` is ``text`` lower-cased, same length;
        ``lower_bytes``: its bytes, when the caller has them; ``candidates``: what
        ``candidates`` gave for them). Needles come automaton hits first, then digests:
        callers order needle hits themselves."""
        n = len(text)
        if candidates is None:
            candidates = self.candidates(lower.encode("latin-1") if lower_bytes is None else lower_bytes)
        matches, digests = candidates
        keys = self._entries
        for key, start, _ in matches:
            for e in keys[key]:
                hit = _confirm(e, text, lower, start, n)
                if hit is not None:
                    yield hit
        for start, entries in digests:
            for e in entries:
                hit = _confirm(e, text, lower, start, n)
                if hit is not None:
                    yield hit


#: Digests are two thirds of all needles. Each must start where a run of hex digits
#: starts (its boundary rule), so instead of walking the automaton through every
#: character, a dict is asked at those few places: the automaton gets smaller, and
#: its cost per character grows with it (and with what falls out of cache).
_HEX_BOUNDED: Final = frozenset({BOUNDARY_HEX, BOUNDARY_ALNUM, BOUNDARY_HEXDASH, BOUNDARY_TOKEN, BOUNDARY_PACKAGE})
_HEX_DIGITS: Final = b"0123456789abcdef"
_IS_HEX: Final = ByteClass(_HEX_DIGITS).marks


def _hex_starts(lower: bytes) -> list[int]:
    """Where each run of at least 16 hex digits starts (lower-cased text): ``long_runs``,
    which passes over most bytes unread. (Before: the text translated into hex-or-not marks,
    then an automaton search for a non-mark followed by 16 marks, 2.6x slower on typical
    requests and 3.2x on SDK batches, whose thousand ids and digests are read through.)"""
    return long_runs(lower, _IS_HEX, ANCHOR_LEN, ends=False)


#: a hex digit's value by its (lower-case) byte; 0 for any other byte
_NIBBLE: Final = bytes(int(chr(c), 16) if chr(c) in "0123456789abcdef" else 0 for c in range(256))
#: the bitmap below is indexed by a key's first ``_PREFIX_DIGITS`` hex digits (20 bits: 128 KB)
_PREFIX_DIGITS: Final = 5


def _prefix_bits(table: dict[bytes, tuple[Entry, ...]]) -> bytes:
    """One bit per value of five leading hex digits, set where a key of ``table`` starts so.
    A full profile's 23,000 digest anchors set about 2% of them: the table is asked only
    there, instead of at every run start (an SDK batch has about a thousand ids and digests,
    and each question, a slice and a dict lookup, cost 5% of scanning the batch)."""
    bits = bytearray(1 << (4 * _PREFIX_DIGITS - 3))
    for key in table:
        at = int(key[:_PREFIX_DIGITS], 16)
        bits[at >> 3] |= 1 << (at & 7)
    return bytes(bits)


def _digests_at(
    lower: bytes, starts: list[int], bits: bytes, table: dict[bytes, tuple[Entry, ...]]
) -> list[tuple[int, tuple[Entry, ...]]]:
    """The digest anchors of ``table`` that begin at these hex run ``starts`` (each with at
    least 16 hex digits after it), with their entries: the bitmap first, the table only
    where the first five digits are a key's."""
    out: list[tuple[int, tuple[Entry, ...]]] = []
    nibble = _NIBBLE
    for start in starts:
        i: i64 = start
        at: i64 = 0
        stop: i64 = i + _PREFIX_DIGITS
        while i < stop:
            at = at * 16 + nibble[lower[i]]
            i += 1
        if bits[at >> 3] >> (at & 7) & 1:
            entries = table.get(lower[start : start + ANCHOR_LEN])
            if entries is not None:
                out.append((start, entries))
    return out


_new_hit = tuple.__new__


def _confirm(e: Entry, text: str, lower: str, start: int, n: int) -> Hit | None:
    end = start + len(e.text)
    prefix_only = False
    if len(e.text) > ANCHOR_LEN and lower[start:end] != e.lower:
        if not e.prefix16:
            return None
        end = start + ANCHOR_LEN
        prefix_only = True
    if e.case_sensitive and text[start:end] != e.text:
        return None
    b = e.boundary
    if b != BOUNDARY_NONE:
        if start > 0 and _in_token(text[start - 1], b):
            return None
        if end < n and _in_token(text[end], b):
            return None
    return _new_hit(Hit, (e, start, end, prefix_only))
