"""Query strings and form bodies (``_pairs.py``): the one path from ``k=v&…`` to views.
A run of plain pairs is one view located on a hit; read back value by value (``rows``)
it holds exactly the values, places and bytes listed here."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import Limits, decode_request
from consentscope.detectors._view import PairsLocator
from tests.detectors.helpers import IMEI, found, imei_json, rec, rows


def test_url_path_and_query_values_are_percent_decoded() -> None:
    d = decode_request(rec("/v1/%E5%BC%A0/%zz/log?imei=861234567890127&e=a%40b.com&q=a+b&bad=%zz%E5&empty=&k%20x=1"))
    assert rows(d) == [
        ("url.path", (), "/v1/张/%zz/log".encode()),
        ("url.query:imei", (), IMEI),
        ("url.query:e", (), b"a@b.com"),
        ("url.query:q", (), b"a b"),
        ("url.query:bad", (), b"%zz\xe5"),
        ("url.query:k x", (), b"1"),
    ]
    assert d.anomalies == ()


def test_query_bare_token_padded_base64_and_unescaped_plus() -> None:
    assert found(rec("/t?861234567890127")) == [("url.query", ())]
    padded = base64.b64encode(imei_json(t="~~~>"))
    assert b"+" in padded and padded.endswith(b"==")
    # "=" padding must not turn the blob into a parameter name
    assert found(rec("/t?" + padded.decode())) == [("url.query.json:$.imei", ("base64", "json"))]
    # '+' left unescaped in a query reads as a space; the blob is still decoded as sent
    got = decode_request(rec("/t?d=" + padded.decode()))
    assert ("url.query:d", (), padded.replace(b"+", b" ")) in rows(got)
    assert found(got) == [("url.query:d>json:$.imei", ("base64", "json"))]


def test_a_run_of_plain_pairs_is_one_view_located_on_demand() -> None:
    d = decode_request(rec("/t?a=1&imei=" + IMEI.decode() + "&q=a+b&e=a%40b.com&c=2"))
    run, escaped, rest = d.views[1:]
    assert (run.location, run.data) == ("url.query", b"a=1&imei=" + IMEI + b"&q=a b")
    assert run.location_at(run.data.index(IMEI)) == "url.query:imei"
    assert run.piece_at(run.data.index(b"a b")) == (len(run.data) - 3, len(run.data), "url.query:q")
    assert run.piece_at(run.data.index(b"imei")) is None  # names are not scanned
    assert (escaped.location, escaped.data, escaped.resolve) == ("url.query:e", b"a@b.com", None)
    assert rest.location_at(2) == "url.query:c"
    assert [loc for loc, _, _ in rows(d)[1:]] == [f"url.query:{k}" for k in ("a", "imei", "q", "e", "c")]


@pytest.mark.parametrize(
    ("limits", "anomaly", "kept"),
    [(Limits(max_views=10), "views-limit", 10), (Limits(max_decoded_bytes=40), "decoded-bytes-limit", 17)],
    ids=["views", "bytes"],
)
def test_a_run_counts_against_the_limits_as_its_values_would(limits: Limits, anomaly: str, kept: int) -> None:
    """Where a limit falls inside a run, the run's values go one view each and the limit
    stops at its pair: the path (2 bytes), v0…v9 (2 bytes each), v10… (3 bytes each)."""
    every = [("url.path", (), b"/t")] + [(f"url.query:k{i}", (), f"v{i}".encode()) for i in range(50)]
    d = decode_request(rec("/t?" + "&".join(f"k{i}=v{i}" for i in range(50))), limits)
    assert d.anomalies == (anomaly,)
    assert rows(d) == every[:kept]
    assert all(v.resolve is None for v in d.views)
    d = decode_request(rec("/t?" + "&".join(f"k{i}=v{i}" for i in range(50))), Limits(max_views=51))
    assert d.anomalies == () and len(d.views) == 2 and rows(d) == every  # the run stands for 50 views


def test_pairs_locator_compares_by_value() -> None:
    assert PairsLocator(b"a=1", "url.query:") == PairsLocator(b"a=1", "url.query:")
    assert decode_request(rec("/?a=1&b=2")) == decode_request(rec("/?a=1&b=2"))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80).map(lambda b: bytes(b"a=&%b="[x % 6] for x in b)) | st.binary(max_size=40),
       st.integers(0, 20))
def test_pairs_measured_in_one_pass_as_by_find(data: bytes, min_len: int) -> None:
    """``_measure``'s one pass gives what ``find`` per pair gives: 1 + each value's length,
    and the pairs with a long value, a long name or a '%'; and where each pair starts, so
    that its slices are the pairs of ``split``, and any run of them, their join."""
    from consentscope.detectors._pairs import _measure

    parts = data.split(b"&")
    eqs = [p.find(b"=") for p in parts]
    ends = [len(p) - eq for p, eq in zip(parts, eqs, strict=True)]
    odd = [i for i, p in enumerate(parts) if ends[i] > min_len or eqs[i] >= min_len or b"%" in p]
    got_ends, got_odd, at = _measure(data, min_len)
    assert (got_ends, got_odd) == (ends, odd)
    assert len(at) == len(parts) + 1 and at[-1] == len(data) + 1
    assert [data[at[i] : at[i + 1] - 1] for i in range(len(parts))] == parts
    for start in range(len(parts)):
        for stop in range(start + 1, len(parts) + 1):
            assert data[at[start] : at[stop] - 1] == b"&".join(parts[start:stop])
