"""Shared cheap tests (``_sniff.py``)."""

from __future__ import annotations

import random
import re
from urllib.parse import unquote_to_bytes

from consentscope.detectors._sniff import BLOB, OTHER, PLAIN, b64_alphabet, is_hex, is_text, long_runs, shape, unquote


def test_unquote_matches_urllib() -> None:
    rng = random.Random(2)
    alphabet = b"%%%\\\\xX0123456789abcdefABCDEFgz+ =&\x00\xff"
    for _ in range(20_000):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert unquote(raw) == unquote_to_bytes(raw), raw


def test_shape_sorts_values_before_any_sniff() -> None:
    assert [shape(v, 16) for v in (b"short", b"a%20b", b"hello world, how are you", b"QUJDREVGR0hJSktMTU5PUA==",
                                    b'{"a": "b", "c": 1}', b"\x00\x01" * 10)] == [
        PLAIN, OTHER, PLAIN, BLOB, OTHER, OTHER
    ]  # fmt: skip


def test_text_and_alphabets() -> None:
    assert is_text("张伟 and words".encode()) and not is_text(bytes(range(32)))
    assert is_text(b"a" * 600 + bytes(range(32)))  # sampled: the start decides
    assert is_hex(b"0a1B") and not is_hex(b"0a1") and not is_hex(b"")
    assert (b64_alphabet(b"ab+/"), b64_alphabet(b"ab-_"), b64_alphabet(b"ab==="), b64_alphabet(b"a b")) == (1, 2, 0, 0)


def test_all_in_answers_as_set_membership_on_either_side_of_its_switch() -> None:
    """Short values go through the marks table, long ones through deletion: both give what
    a set of the members says, around the switch and on empty input."""
    import random

    from consentscope.detectors._sniff import _MARKS_BELOW, ByteClass, all_in

    rng = random.Random(4)
    for members in (b"0123456789abcdefABCDEF", bytes(range(0x20, 0x7F)), b"\x00\xff", bytes(range(256))):
        cls = ByteClass(members)
        allowed = set(members)
        for size in (0, 1, 2, 17, _MARKS_BELOW - 1, _MARKS_BELOW, _MARKS_BELOW + 1, 3000):
            for _ in range(20):
                pool = members if rng.random() < 0.7 else bytes(range(256))
                data = bytes(rng.choice(pool) for _ in range(size))
                assert all_in(data, cls) == (set(data) <= allowed), (members, data)


def test_all_printable_is_printable_utf8_with_tabs_and_newlines() -> None:
    import random

    from consentscope.detectors._sniff import all_printable

    def reference(data: bytes) -> bool:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return all(ch.isprintable() or ch in "\t\n\r" for ch in text)

    rng = random.Random(8)
    samples = [b"", b"\t\n\r", "中文\tok".encode(), "\u2028".encode(), b"\x7f", b"a\x0bb", b"\x08\x12\x04abcd", b"\xff"]
    for _ in range(3000):
        pool = rng.choice([b"abc \t\n\r\x00\x08\x1f\x7f", "é中😀\u200b".encode() + b"xy", bytes(range(256))])
        samples.append(bytes(rng.choice(pool) for _ in range(rng.randint(0, 12))))
    for data in samples:
        assert all_printable(data) == reference(data), data


def test_long_runs_are_the_maximal_runs_a_regex_finds() -> None:
    """The pass that skips finds every maximal run of at least ``least`` members, and only
    those, whatever their density and wherever they stand (at either end too); its starts
    alone, or only those right after an opening byte, when asked."""
    rng = random.Random(6)
    members = bytes(c in b"abc019" for c in range(256))
    for _ in range(5000):
        least = rng.choice([1, 2, 3, 16, 65])
        dense = rng.choice([0.1, 0.5, 0.97])
        data = bytes(rng.choice(b"abc019") if rng.random() < dense else rng.choice(b" zX\x00\xff")
                     for _ in range(rng.randint(0, 200)))
        want = [at for m in re.finditer(rb"[abc019]{%d,}" % least, data) for at in m.span()]
        assert long_runs(data, members, least) == want, (data, least)
        assert long_runs(data, members, least, ends=False) == want[::2]
        opened = [at for m in re.finditer(rb"[abc019]{%d,}" % least, data) if m.start() and data[m.start() - 1] == 0x7A
                  for at in m.span()]  # after a "z"
        assert long_runs(data, members, least, 0x7A) == opened, (data, least)
