"""The matcher: digests looked up where hex runs start find what a full automaton pass finds."""

from __future__ import annotations

import hashlib
import random
import re

from consentscope.detectors import Identifier, expand
from consentscope.detectors._match import ANCHOR_LEN, Matcher, _confirm, _hex_starts


def test_hex_starts_are_the_starts_of_long_hex_runs() -> None:
    text = b"0123456789abcdef0 0123456789abcdef00000x1234567890123456 " + b"9" * 15 + b"-" + b"a" * 16
    assert _hex_starts(text) == [0, 18, 40, 73]
    assert _hex_starts(b"") == [] and _hex_starts(b"z" * 40) == []
    assert _hex_starts(b"a" * 16) == [0] and _hex_starts(b"a" * 15) == [] and _hex_starts(b"x" + b"f" * 40) == [1]
    rng = random.Random(3)
    for _ in range(3000):  # the starts of maximal runs of 16 or more, as a regex finds them
        digits = rng.choice([3, 10, 40])  # how dense the hex digits are: runs short, long, or both
        text = bytes(rng.choice(b"0123456789abcdef" * digits + b" g-\x00F") for _ in range(rng.randint(0, 150)))
        assert _hex_starts(text) == [m.start() for m in re.finditer(rb"[0-9a-f]{16,}", text)], text


def _brute_force(matcher: Matcher, text: str, lower: str) -> set[tuple[int, int, int, bool]]:
    """Every entry tried at every place its anchor occurs."""
    entries = [e for group in (*matcher._hex.values(), *matcher._automaton.values()) for e in group]
    out = set()
    for e in entries:
        anchor = e.lower[:ANCHOR_LEN]
        at = lower.find(anchor)
        while at != -1:
            hit = _confirm(e, text, lower, at, len(text))
            if hit is not None:
                out.add((e.index, hit.start, hit.end, hit.prefix_only))
            at = lower.find(anchor, at + 1)
    return out


def test_split_matcher_finds_every_confirmed_hit() -> None:
    needles = expand((Identifier("imei", "861234567890127"), Identifier("mac", "a4:50:46:1f:2c:9e")), 2)
    matcher = Matcher(needles)
    assert matcher._hex and len(matcher._automaton)  # both halves hold entries
    rng = random.Random(4)
    pieces = [n.text.decode("latin-1") for n in rng.sample(needles, 60)] + [
        hashlib.md5(b"x").hexdigest(), "0" * 20, "-", " ", "=", "g", "A", "9f", "\x00",
    ]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        text = text.upper() if rng.random() < 0.2 else text
        lower = text.encode("latin-1").lower().decode("latin-1")
        got = {(h.entry.index, h.start, h.end, h.prefix_only) for h in matcher.find(text, lower)}
        assert got == _brute_force(matcher, text, lower), text


def test_overlapping_hits_all_come_by_end_the_longest_first() -> None:
    """Keys inside keys (a phone number in its +86 spellings, a short value inside a longer
    one) are all found where they overlap, ordered by end, the longest first at one end:
    the scanner keeps the first hit of a list member, so the order is part of the output."""
    items = [(b"13900001111", 0), (b"+8613900001111", 0), (b"8613900001111", 0), (b"0001111", 0), (b"abc", 0), (b"bc", 0)]
    matcher = Matcher([], items=items)
    text = "x+8613900001111 abc;13900001111"
    lower = text.lower()
    got = [(h.entry.text, h.start, h.end) for h in matcher.find(text, lower)]
    assert got == [
        ("+8613900001111", 1, 15), ("8613900001111", 2, 15), ("13900001111", 4, 15), ("0001111", 8, 15),
        ("abc", 16, 19), ("bc", 17, 19), ("13900001111", 20, 31), ("0001111", 24, 31),
    ]


def test_digests_at_finds_what_the_table_alone_finds() -> None:
    """The prefix bitmap only spares lookups: every run start whose 16 digits are a key,
    and no other, comes back with that key's entries (keys sharing five digits included)."""
    from consentscope.detectors._match import _digests_at, _prefix_bits

    rng = random.Random(5)
    keys = [hashlib.md5(str(i).encode()).hexdigest()[:16].encode() for i in range(400)]
    keys += [keys[0][:5] + b"0" * 11, keys[1][:5] + b"f" * 11]  # neighbours behind one bit
    table = {k: (k,) for k in keys}
    bits = _prefix_bits(table)  # type: ignore[arg-type]
    assert sum(bin(b).count("1") for b in bits) == len({k[:5] for k in keys})
    for _ in range(300):
        parts = [rng.choice(keys) + rng.choice([b"", b"0", b"ab12"]) for _ in range(rng.randint(0, 6))]
        parts += [hashlib.sha1(bytes([rng.randrange(256)])).hexdigest().encode()[: rng.randint(16, 40)]]
        rng.shuffle(parts)
        text = b"".join(p + rng.choice([b" ", b"-", b'"', b"\x00"]) for p in parts)
        starts = _hex_starts(text)
        want = [(s, table[text[s : s + 16]]) for s in starts if text[s : s + 16] in table]
        assert _digests_at(text, starts, bits, table) == want, text  # type: ignore[arg-type]


def test_every_backend_gives_the_same_candidates_in_the_same_order() -> None:
    """Hyperscan (the live detector's), the DFA and the compact NFA give the same matches, in
    the automaton's order (by end, the longest first at one end), on texts made of keys that
    overlap, repeat and nest, with NUL and high bytes; from several threads at once, too
    (Hyperscan keeps a scratch space per thread)."""
    import threading

    import pytest

    from consentscope.detectors._match import HYPERSCAN

    backends = ["nfa", "dfa", *(["hyperscan"] if HYPERSCAN else [])]
    if not HYPERSCAN:
        pytest.skip("hyperscan does not import here: nothing to compare the automaton with")
    needles = expand((Identifier("imei", "861234567890127"), Identifier("android_id", "9774d56d682e549c"),
                      Identifier("phone_number", "13900001111")), 2)
    items = [(b"13900001111", 0), (b"+8613900001111", 0), (b"0001111", 0), (b"a\x00b\xe9c", 0), (b"bc", 0)]
    matchers = {b: Matcher(needles, items=items, backend=b) for b in backends}
    assert {m.backend for m in matchers.values()} == set(backends)
    keys = matchers["nfa"]._keys
    rng = random.Random(6)
    pieces = [*rng.sample(keys, 40), b"+8613900001111", b"a\x00b\xe9c", b"\x00", b"\xff", b" ", b"0" * 9]
    texts = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(400)]
    texts += [b"", keys[0] * 50, b"13900001111" * 40, bytes(range(256)) * 4]
    want = [matchers["nfa"].candidates(t) for t in texts]
    assert sum(len(w[0]) for w in want) > 2000
    for backend, matcher in matchers.items():
        assert [matcher.candidates(t) for t in texts] == want, backend
    got: dict[int, list] = {}

    def scan(k: int) -> None:
        got[k] = [matchers["hyperscan"].candidates(t) for t in texts]

    threads = [threading.Thread(target=scan, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g == want for g in got.values()) and len(got) == 4


def test_a_matcher_that_scans_for_long_turns_to_hyperscan_with_the_same_matches() -> None:
    """A matcher for a short task starts with the compact automaton; past ``UPGRADE_BYTES`` it
    builds Hyperscan in a thread and takes it once ready, and the matches stay the same
    before, during and after. A fork meanwhile waits for the build (the child would inherit
    its memory but not its thread) and the child scans the same."""
    import os
    import time

    import pytest

    from consentscope.detectors._match import HYPERSCAN, UPGRADE_BYTES

    if not HYPERSCAN:
        pytest.skip("hyperscan does not import here: the automaton stays")
    needles = expand((Identifier("imei", "861234567890127"), Identifier("phone_number", "13900001111")), 2)
    reference = Matcher(needles, backend="nfa")
    assert reference._upgrade_at == -1  # asked for by name: never upgrades
    matcher = Matcher(needles)
    assert matcher.backend == "nfa" and matcher._upgrade_at == UPGRADE_BYTES
    matcher._upgrade_at = 10_000  # sooner, for the test
    rng = random.Random(7)
    keys = reference._keys
    texts = [b" ".join(rng.choice(keys) for _ in range(rng.randint(1, 20))) for _ in range(300)]
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while matcher.backend != "hyperscan" and time.monotonic() < deadline:
        for t in texts:
            assert matcher.candidates(t) == reference.candidates(t)
        seen.append(matcher.backend)
    assert matcher.backend == "hyperscan" and seen[0] == "nfa"
    assert [matcher.candidates(t) for t in texts] == [reference.candidates(t) for t in texts]

    late = Matcher(needles)
    late._upgrade_at = 0
    late.candidates(texts[0])  # the build starts; the fork below waits for it
    pid = os.fork()
    if pid == 0:  # the child: exits 0 only if it scans what the reference finds
        ok = all(late.candidates(t) == reference.candidates(t) for t in texts)
        os._exit(0 if ok and late.backend == "hyperscan" else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
