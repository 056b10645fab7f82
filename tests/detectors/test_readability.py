"""Readability: the blob runs it discounts are the maximal base64/hex runs, found in one pass."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import RequestRecord, _readability
from consentscope.detectors._readability import BLOB_RUN, _blob_runs, _text_bytes, readability
from consentscope.detectors._view import View

#: the maximal runs of the blob alphabet (the pattern finds each whole, then goes on after it)
_PLAIN = re.compile(rb"[A-Za-z0-9+/=_-]{%d,}" % BLOB_RUN)


def test_blob_runs_are_those_of_the_plain_pattern() -> None:
    rng = random.Random(11)
    alphabet = b"AZaz09+/=_-" + b' ,:"{}\n\x00\xe4'
    for _ in range(3000):
        dense = rng.choice([0.05, 0.3, 0.9])  # how often a byte breaks the runs
        data = bytes(rng.choice(alphabet) if rng.random() < dense else rng.choice(b"Aa0-") for _ in range(rng.randint(0, 400)))
        assert _blob_runs(data) == [at for m in _PLAIN.finditer(data) for at in m.span()], data


def test_text_bytes_discounts_random_runs_only() -> None:
    rng = random.Random(2)
    blob = bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123456789+/") for _ in range(200))
    assert _text_bytes(b'{"d":"' + blob + b'"}') == 8
    assert _text_bytes(b'{"d":"' + b"0" * 200 + b'"}') == 208  # padding, not ciphertext
    assert _text_bytes(bytes(range(256)) * 4) == 0


def test_text_bytes_equals_the_plain_count() -> None:
    """The no-blob shortcut (one ``find`` over marks) changes no count."""
    rng = random.Random(12)
    ciphertext = bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(90))
    pieces = [b"A" * 70, b"Zz09+/=_-" * 9, b"0" * 66, b" ", b'"', b"\n", "中文".encode(), b"\x01", b"ab" * 20,
              ciphertext, ciphertext[:40]]  # alone or together: views of nothing but blob characters
    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        if not data:
            continue
        want = len(data) - sum(m.end() - m.start() for m in _PLAIN.finditer(data)
                               if len(set(data[m.start():m.start() + 128])) >= 12)
        got = _text_bytes(data)
        assert got in (want, 0), data  # 0: binary, decided before blobs are counted
        if got != want:  # 0 for want: only binary
            assert data.translate(None, bytes(range(0x20, 0x7F)) + b"\t\n\r")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"A" * 70, b"Zz09+/=_-" * 9, b"0" * 66, b" ", b'"', b"\n", "中文".encode(), b"\x01",
                                 b"ab" * 20, b"x" * 500, b'{"k":1}' * 300, bytes(range(48, 123)) * 3]),
                min_size=1, max_size=60),
       st.integers(1, 300))
def test_text_bytes_with_enough_decides_as_the_count(parts: list[bytes], enough: int) -> None:
    """With ``enough``, a long view may be measured on its head: never more than the whole
    count, at least ``enough`` when the count is, and the count itself when it is not."""
    data = b"".join(parts)
    exact, got = _text_bytes(data), _text_bytes(data, enough)
    assert got <= exact
    assert got >= enough if exact >= enough else got == exact


@pytest.mark.interpreted
def test_readability_of_long_views_is_unchanged() -> None:
    """An SDK batch's view (70 KB) is decided on its head; blobs across the head's end or
    in front of it send the count to the whole view, with the same verdict."""
    rng = random.Random(5)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    blob = bytes(rng.choice(alphabet) for _ in range(80_000))
    bodies = [b'{"d":"' + blob + b'"}', b'{"e":"' + b"x" * 8180 + blob + b'"}',
              b"[" + b'{"k":"v","n":1},' * 5000 + b"{}]", b'{"a":1,"b":"' + blob[:8000] + b'","c":2}' * 10]

    def verdicts() -> list[str]:
        return [readability(RequestRecord("f", 0.0, "POST", "https", "h", 443, "/", (), body),
                            [View(body, "body.json:$", ("json",), None)], False) for body in bodies]

    fast = verdicts()
    saved = _readability._text_bytes
    _readability._text_bytes = lambda data, enough=0: saved(data)  # the whole count, always
    try:
        assert verdicts() == fast
    finally:
        _readability._text_bytes = saved
    assert fast[0] == "opaque" and fast[2] == "readable"


def _text_bytes_before(data: bytes, enough: int = 0) -> int:
    """``_text_bytes`` as it was with translations only (printable bytes deleted from the
    sample, the blob marks searched for a run, then a regex for the runs): the compiled
    pass that skips must give the same counts."""
    from consentscope.detectors._readability import _HEAD, _random

    printable_set = bytes(range(0x20, 0x7F)) + b"\t\n\r"
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
    blob_marks = bytes(0x78 if c in alphabet else 0x20 for c in range(256))
    marked = b"x" * BLOB_RUN
    if len(data) < BLOB_RUN and not data.translate(None, printable_set):
        return len(data)
    if data and not data.translate(None, bytes(alphabet)):
        return 0 if _random(data, 0) else len(data)
    sample = data[:4096]
    if len(sample) - len(sample.translate(None, printable_set)) < 0.85 * len(sample):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return 0
    if enough and len(data) > _HEAD:
        marks = data[:_HEAD].translate(blob_marks)
        if marked not in marks and len(marks.rstrip(b"x")) >= enough:
            return len(marks.rstrip(b"x"))
    if marked not in data.translate(blob_marks):
        return len(data)
    return len(data) - sum(m.end() - m.start() for m in _PLAIN.finditer(data) if _random(data, m.start()))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"A" * 70, b"Zz09+/=_-" * 9, b"0" * 66, b" ", b'"', b"\n", "中文".encode(), b"\x01",
                                 b"\xff\xfe", bytes(range(32)), b"ab" * 20, b"x" * 500, b'{"k":1}' * 300,
                                 bytes(range(48, 123)) * 3, b"\t\r"]),
                min_size=1, max_size=80),
       st.integers(0, 300))
def test_text_bytes_counts_as_with_translations_only(parts: list[bytes], enough: int) -> None:
    data = b"".join(parts)
    assert _text_bytes(data, enough) == _text_bytes_before(data, enough)
