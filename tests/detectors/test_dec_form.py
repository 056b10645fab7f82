"""Form bodies (``_dec_form.py``): declared or sniffed, values decoded without a chain
step, a bare token kept, and text that a Content-Type calls a form read as text."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import decode_request
from consentscope.detectors._dec_form import FORM_PAIRS_RE
from consentscope.detectors._sniff import FORM_KEY
from tests.detectors.helpers import FORM, IMEI, found, rec, rows


@pytest.mark.parametrize("headers", [[FORM], []], ids=["content-type", "sniffed"])
def test_form_values_decoded_without_a_chain_step(headers: list[tuple[str, str]]) -> None:
    d = decode_request(rec(body=b"a=1&imei=861234567890127&name=Zhang+San&e=a%40b.com", headers=headers))
    assert [row for row in rows(d) if row[0].startswith("body")] == [
        ("body.form:a", (), b"1"),
        ("body.form:imei", (), IMEI),
        ("body.form:name", (), b"Zhang San"),
        ("body.form:e", (), b"a@b.com"),
    ]


def test_form_bare_token_is_kept() -> None:
    assert found(rec(body=b"a=1&861234567890127&b=2", headers=[FORM])) == [("body.form", ())]


def test_form_content_type_on_text_that_is_no_form() -> None:
    assert found(rec(body=b"device 861234567890127 ready", headers=[FORM])) == [("body", ())]


def test_form_check_is_the_per_pair_rule() -> None:
    pair_re = re.compile(FORM_KEY + rb"(?:=|$)")
    rng = random.Random(3)
    alphabet = [b"a", b"Z", b"0", b"_", b".", b"-", b"[", b"%", b"*", b"=", b"&", b"&", b"\n", b" ", b"+", b"\xff"]
    samples = [b"a" * n + tail for n in (1, 63, 64, 65) for tail in (b"", b"=", b"=x", b"\n", b"x\n", b"&b=1")]
    samples += [b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    for data in samples:
        pairs = [p for p in data.split(b"&") if p]
        per_pair = bool(pairs) and all(pair_re.match(p) for p in pairs)
        assert per_pair == (bool(data.strip(b"&")) and bool(FORM_PAIRS_RE.fullmatch(data))), data


@settings(max_examples=800, deadline=None)
@given(st.binary(max_size=90).map(lambda b: bytes(b"&=\na%*[].-_ Z9\x00"[x % 15] for x in b))
       | st.lists(st.sampled_from([b"k", b"a" * 64, b"a" * 65, b"=", b"&", b"&&", b"\n", b"v%20", b" "]),
                  max_size=12).map(b"".join))
def test_form_pairs_possessive_as_the_plain_pattern(body: bytes) -> None:
    """The possessive pairs pattern accepts exactly what the plain one accepts."""
    plain = re.compile(rb"&*(?:" + FORM_KEY + rb"(?:=[^&]*|\n?)(?:&+|\Z))*")
    assert (FORM_PAIRS_RE.fullmatch(body) is None) == (plain.fullmatch(body) is None)
