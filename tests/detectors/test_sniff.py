"""Shared cheap tests (``_sniff.py``)."""

from __future__ import annotations

import random
from urllib.parse import unquote_to_bytes

from consentscope.detectors._sniff import BLOB, OTHER, PLAIN, b64_alphabet, is_hex, is_text, shape, unquote


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
