"""Readability: the blob runs it discounts are the maximal base64/hex runs, found in one pass."""

from __future__ import annotations

import random
import re

from consentscope.detectors._readability import _BLOB, BLOB_RUN, _text_bytes

#: the plain pattern, without the look-behind that keeps the engine from re-trying inside runs
_PLAIN = re.compile(rb"[A-Za-z0-9+/=_-]{%d,}" % BLOB_RUN)


def test_blob_runs_are_those_of_the_plain_pattern() -> None:
    rng = random.Random(11)
    alphabet = b"AZaz09+/=_-" + b' ,:"{}\n\x00\xe4'
    for _ in range(400):
        data = bytes(rng.choice(alphabet) if rng.random() < 0.3 else rng.choice(b"Aa0-") for _ in range(rng.randint(0, 400)))
        assert [m.span() for m in _BLOB.finditer(data)] == [m.span() for m in _PLAIN.finditer(data)]


def test_text_bytes_discounts_random_runs_only() -> None:
    rng = random.Random(2)
    blob = bytes(rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123456789+/") for _ in range(200))
    assert _text_bytes(b'{"d":"' + blob + b'"}') == 8
    assert _text_bytes(b'{"d":"' + b"0" * 200 + b'"}') == 208  # padding, not ciphertext
    assert _text_bytes(bytes(range(256)) * 4) == 0
