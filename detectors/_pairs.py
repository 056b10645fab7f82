"""Query strings and form bodies (``k=v&k=v``): the one path that turns pairs into views.

Each value lies at ``prefix + name`` (``url.query:imei``, ``body.form:d``); a bare token,
or padded base64 that "=" split, at the prefix's own place (``url.query``). Pairs whose
values need no decoding ('+' read as a space, no '%', nothing a sniff would take up) are
most of them, and per-pair Python work was most of a query's decoding: so each run of
such pairs is ONE view, the pairs as sent (names included), and a match is placed in its
value, or dropped when it falls in a name, only on a hit (``PairsLocator``,
``View.piece_at``). The pairs are measured with C-level maps; only long or escaped ones
are looked at one by one, and a pair that decodes further is handed to the walker in its
place, between two runs.

A run counts against the views and bytes limits as the views of its values would, so the
limits stop a request at the same pair whatever the grouping: where a limit would fall
inside a run, that run's pairs are emitted one by one (``_each``) and the limit stops at
its pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._sniff import B_PCT, B_PLUS, BLOB, OTHER, b64_alphabet, is_text, shape, unquote_plus
from ._view import PairsLocator, View

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

    from ._decode import _Walker

_new_view = tuple.__new__


def pairs(w: _Walker, data: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
    """Emit the views of ``data``, a query or form, its values at ``prefix + name``."""
    ends, odd, at = _measure(data, w.min_len)
    start = 0
    for i in odd:
        pair = data[at[i] : at[i + 1] - 1]
        if _plain_size(w, pair) is None:
            _run(w, data, at, start, i, ends, prefix, chain, depth)
            _pair(w, pair, prefix, chain, depth)  # never empty: an empty pair is plain
            start = i + 1
    _run(w, data, at, start, len(ends), ends, prefix, chain, depth)


def _measure(data: bytes, min_len: int) -> tuple[list[int], list[int], list[int]]:
    """For each pair of ``data.split(b"&")``: 1 + its value's length (a bare token's: its
    own); the pairs that need a look of their own: a value (or bare token) or a name of
    ``min_len`` bytes or more, or a '%'; and where each pair starts, then ``len(data) + 1``
    (pair ``i`` is ``data[at[i] : at[i + 1] - 1]``). One compiled pass over the bytes: per
    pair, a ``find`` of its "=" through ``map`` (argument parsing on every call) and the
    lists made of it were a fifth of decoding a long query; the split into pairs, a bytes
    object for each, was 7% of a long GET query's detection."""
    ends: list[int] = []
    odd: list[int] = []
    at: list[int] = [0]
    start: i64 = 0
    eq: i64 = -1  # where the pair's first "=" stands in it (-1: none yet)
    least: i64 = min_len
    pct = False
    n: i64 = len(data)
    i: i64 = 0
    while i < n:
        c: i64 = data[i]
        i += 1
        if c == 38:  # "&" (at i - 1): the pair ends
            end: i64 = i - 1 - start - eq
            if end > least or eq >= least or pct:
                odd.append(len(ends))
            ends.append(end)
            at.append(i)
            start = i
            eq = -1
            pct = False
        elif c == 61:  # "="
            if eq < 0:
                eq = i - 1 - start
        elif c == 37:  # "%"
            pct = True
    end = n - start - eq
    if end > least or eq >= least or pct:
        odd.append(len(ends))
    ends.append(end)
    at.append(n + 1)
    return ends, odd, at


def _pair(w: _Walker, pair: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
    """One non-empty k=v (or bare token), as a view of its own."""
    min_len = w.min_len
    k, eq, v = pair.partition(b"=")
    if not eq or (len(k) >= min_len and not v.strip(b"=") and b64_alphabet(k)):
        _value(w, pair, prefix[:-1], chain, depth)
        return
    if not v:
        return
    if B_PCT in k or B_PLUS in k or not k.isascii():
        name = unquote_plus(k).decode("utf-8", "replace")
    else:
        name = k.decode("ascii")
    if len(v) < min_len and B_PCT not in v and B_PLUS not in v:  # most values: short tokens
        w.emit(v, prefix + name, chain)
    else:
        _value(w, v, prefix + name, chain, depth)


def _value(w: _Walker, raw: bytes, loc: str, chain: tuple[str, ...], depth: int) -> None:
    """A query or form value as sent: '+' is a space and %XX a byte. Base64 sent with
    its '+' unescaped would break on that, so it is also tried as it came, if its case
    is mixed as base64's is (words joined by '+' are mostly lower-case)."""
    value = unquote_plus(raw)
    if value[:1] in (b"{", b"[") and (len(value) >= w.min_len or B_PCT in value):
        w.content(value, loc, chain, depth)  # what ``leaf`` does with it (JSON in a form field)
    else:
        w.leaf(value, loc, chain, depth)
    if B_PLUS in raw and B_PCT not in raw and len(raw) >= w.min_len and not (raw.islower() or raw.isupper()):
        w.unblob(raw, loc, chain, depth)


def _each(w: _Walker, data: bytes, prefix: str, chain: tuple[str, ...], depth: int) -> None:
    """The pairs of a run one view each: only where a limit falls inside the run."""
    for pair in data.split(b"&"):
        if pair:
            _pair(w, pair, prefix, chain, depth)


def _plain_size(w: _Walker, pair: bytes) -> int | None:
    """Bytes of the one view ``_pair`` would make of this pair as it is ('+' a space),
    0 for none; None when it makes anything else (a decoded value, a blob's child)."""
    if B_PCT in pair:
        return None
    min_len = w.min_len
    k, eq, v = pair.partition(b"=")
    if not eq or (len(k) >= min_len and not v.strip(b"=") and b64_alphabet(k)):
        return None  # a long bare token: rare, left to ``_pair``
    if len(v) < min_len:
        return len(v)
    if B_PLUS not in v:
        kind = shape(v, min_len)
        return None if kind == OTHER or (kind == BLOB and w.blob_child(v) is not None) else len(v)
    # words joined by '+': with spaces in it, ``shape`` finds no blob, only text or not
    if v[:1] in (b"{", b"[") or not is_text(v.replace(b"+", b" ")):
        return None
    if not (v.islower() or v.isupper()) and w.blob_child(v) is not None:
        return None  # base64 sent with its '+' unescaped (``_value``)
    return len(v)


def _run(
    w: _Walker, data: bytes, at: list[int], start: int, stop: int, ends: list[int], prefix: str,
    chain: tuple[str, ...], depth: int,
) -> None:
    """One view for the plain pairs ``start`` to ``stop`` (not included) of ``data`` (``at``:
    where each starts, ``_measure``), standing for the views of their values: it counts
    against the limits as those would, and where a limit would stop inside the run, its
    pairs go one by one (``_each``)."""
    lengths = ends[start:stop]
    n_views = stop - start - lengths.count(1)  # 1: an empty value, or an empty pair
    if n_views <= 0:
        return
    n_bytes = sum(lengths) - (stop - start)
    if stop - start < len(ends):
        data = data[at[start] : at[stop] - 1]  # the pairs as they stand, "&" between them
    if len(w.views) + w.extra_views + n_views > w.max_views or n_bytes > w.budget:
        _each(w, data, prefix, chain, depth)  # raises Budget where the limit falls
        return
    if B_PLUS in data:
        data = data.replace(b"+", b" ")
    w.views.append(_new_view(View, (data, prefix[:-1], chain, PairsLocator(data, prefix))))
    w.extra_views += n_views - 1
    w.budget -= n_bytes
