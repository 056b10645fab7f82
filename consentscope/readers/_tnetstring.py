"""Typed netstrings (the mitmproxy flow file encoding), read by position in one ``bytes``.

mitmproxy's ``io.tnetstring`` parses every node of a flow through ``memoryview`` slices and
finds each length prefix byte by byte; for the flow reader that was a third of a replay.
Here a value is located by its length prefix (``span``) without being parsed, so a reader
walks a flow's dictionaries and parses only the values it needs (``value``); a client
certificate chain is stepped over, never decoded.

Strict on purpose: anything this module does not take for a well-formed tnetstring raises
``TnetstringError``, and the flow reader hands that flow to mitmproxy, whose answer
(a flow or an error) counts. Format: ``<length digits>:<payload><type tag>``, tags
``,`` bytes, ``;`` UTF-8 text, ``#`` integer, ``^`` float, ``!`` boolean, ``~`` null,
``]`` list, ``}`` dictionary (key, value, key, value...).
"""

from __future__ import annotations

from typing import Any, Final

#: Digits of a length prefix (as mitmproxy's ``tnetstring.load``: under 1 TB).
MAX_PREFIX_DIGITS: Final = 12
#: Nesting a value may have (a flow's state is 4 deep; mitmproxy's metadata may hold more).
MAX_DEPTH: Final = 64

BYTES, TEXT, INT, FLOAT, BOOL, NULL, LIST, DICT = b",;#^!~]}"


class TnetstringError(ValueError):
    """Not a tnetstring this module reads."""


def _prefix(data: bytes, pos: int, stop: int, lenient: bool) -> int:
    """The length prefix at ``pos`` (inside ``data[:stop]``), as one int: the length times
    16 plus the number of bytes before its colon (at most ``MAX_PREFIX_DIGITS``, so 4 bits),
    which the callers take apart (``>> 4``, ``& 15``) without a tuple per value.

    Plain digits are read here, byte by byte: a ``find`` of the colon and an ``int`` of the
    digits, each a generic call with argument parsing, were a fifth of reading a flow file.
    Anything else is read as mitmproxy's parser reads a prefix inside a record: ``int`` of
    what stands before the first ":" (``lenient``: a sign, spaces or underscores as ``int``
    takes them; a negative length is refused by the caller), or refused (strict: digits only)."""
    colon, length = pos, 0
    limit = min(stop, pos + MAX_PREFIX_DIGITS)
    while colon < limit and 48 <= data[colon] <= 57:
        length = length * 10 + data[colon] - 48
        colon += 1
    if colon == pos or colon >= stop or data[colon] != 58:
        colon = data.find(b":", pos, stop)
        if colon <= pos or colon - pos > MAX_PREFIX_DIGITS:
            raise TnetstringError(f"no length prefix at {pos}")
        digits = data[pos:colon]
        if not lenient and not digits.isdigit():
            raise TnetstringError(f"bad length prefix at {pos}")
        length = int(digits)
    return (length << 4) | (colon - pos)


def span(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The value starting at ``pos`` (inside ``data[:end]``): (payload start, payload end,
    type tag); the next value starts at payload end + 1."""
    prefix = _prefix(data, pos, end, False)
    start = pos + (prefix & 15) + 1
    stop = start + (prefix >> 4)
    if stop >= end:
        raise TnetstringError(f"value at {pos} runs past its container")
    return start, stop, data[stop]


def fields(data: bytes, start: int, stop: int) -> dict[bytes, tuple[int, int, int]]:
    """A dictionary's text keys (as their UTF-8 bytes) and where each value is (``span``),
    values not parsed. The hot loop of the flow reader, so ``span`` is written out in it;
    a length prefix is read as mitmproxy's parser reads one inside a record (``_prefix``,
    lenient: a sign or spaces as mitmproxy takes them; a negative length is refused)."""
    out: dict[bytes, tuple[int, int, int]] = {}
    pos = start
    while pos < stop:
        prefix = _prefix(data, pos, stop, True)
        k0 = pos + (prefix & 15) + 1
        k1 = k0 + (prefix >> 4)
        if not k0 <= k1 < stop or data[k1] != TEXT:
            raise TnetstringError(f"dictionary key at {pos} is not text")
        pos = k1 + 1
        prefix = _prefix(data, pos, stop, True)
        v0 = pos + (prefix & 15) + 1
        v1 = v0 + (prefix >> 4)
        if not v0 <= v1 < stop:
            raise TnetstringError(f"value at {pos} runs past its container")
        out[data[k0:k1]] = (v0, v1, data[v1])
        pos = v1 + 1
    return out


def field(data: bytes, start: int, stop: int, wanted: bytes) -> tuple[int, int, int] | None:
    """Where the value of key ``wanted`` of the dictionary ``data[start:stop]`` is
    (``span``), walking its keys only until that one; None if it has none. As strict as
    ``span``, which it writes out (a connection's server address is its last key of 19)."""
    n = len(wanted)
    pos = start
    while pos < stop:
        prefix = _prefix(data, pos, stop, False)
        k0 = pos + (prefix & 15) + 1
        k1 = k0 + (prefix >> 4)
        if k1 >= stop:
            raise TnetstringError(f"value at {pos} runs past its container")
        if data[k1] != TEXT:
            raise TnetstringError(f"dictionary key at {pos} is not text")
        pos = k1 + 1
        prefix = _prefix(data, pos, stop, False)
        v0 = pos + (prefix & 15) + 1
        v1 = v0 + (prefix >> 4)
        if v1 >= stop:
            raise TnetstringError(f"value at {pos} runs past its container")
        if k1 - k0 == n and data.startswith(wanted, k0):
            return v0, v1, data[v1]
        pos = v1 + 1
    return None


def pairs(data: bytes, where: tuple[int, int, int]) -> tuple[tuple[bytes, bytes], ...]:
    """A list of two-element lists of bytes (HTTP header fields as mitmproxy stores them)."""
    start, stop, tag = where
    if tag != LIST:
        raise TnetstringError(f"not a list at {start}")
    out = []
    pos = start
    while pos < stop:
        p0, p1, ptag = span(data, pos, stop)
        if ptag != LIST:
            raise TnetstringError(f"not a pair at {pos}")
        n0, n1, ntag = span(data, p0, p1)
        v0, v1, vtag = span(data, n1 + 1, p1)
        if ntag != BYTES or vtag != BYTES or v1 + 1 != p1:
            raise TnetstringError(f"not a pair of bytes at {pos}")
        out.append((data[n0:n1], data[v0:v1]))
        pos = p1 + 1
    return tuple(out)


def value(data: bytes, where: tuple[int, int, int], depth: int = 0) -> Any:
    """The value at ``where`` (a ``span``), parsed as mitmproxy's ``tnetstring`` would."""
    start, stop, tag = where
    if tag == BYTES:
        return data[start:stop]
    if tag == TEXT:
        return data[start:stop].decode("utf-8")
    if tag == INT:
        raw = data[start:stop]
        if not (raw.isdigit() or (raw[:1] == b"-" and raw[1:].isdigit())):
            raise TnetstringError(f"bad integer at {start}")
        return int(raw)
    if tag == FLOAT:
        try:
            return float(data[start:stop])
        except ValueError:
            raise TnetstringError(f"bad float at {start}") from None
    if tag == NULL:
        if stop != start:
            raise TnetstringError(f"bad null at {start}")
        return None
    if tag == BOOL:
        raw = data[start:stop]
        if raw == b"true":
            return True
        if raw == b"false":
            return False
        raise TnetstringError(f"bad boolean at {start}")
    if depth >= MAX_DEPTH:
        raise TnetstringError(f"nested deeper than {MAX_DEPTH} at {start}")
    if tag == LIST:
        items = []
        pos = start
        while pos < stop:
            w = span(data, pos, stop)
            items.append(value(data, w, depth + 1))
            pos = w[1] + 1
        return items
    if tag == DICT:
        out = {}
        pos = start
        while pos < stop:
            k = span(data, pos, stop)
            v = span(data, k[1] + 1, stop)
            key = value(data, k, depth + 1)
            if not isinstance(key, str | bytes | int | float | bool) and key is not None:
                raise TnetstringError(f"dictionary key at {pos} is a container")
            out[key] = value(data, v, depth + 1)
            pos = v[1] + 1
        return out
    raise TnetstringError(f"unknown type tag {tag!r} at {stop}")


def items(data: bytes, where: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Where each element of the list at ``where`` is (``span``), elements not parsed."""
    start, stop, tag = where
    if tag != LIST:
        raise TnetstringError(f"not a list at {start}")
    out = []
    pos = start
    while pos < stop:
        w = span(data, pos, stop)
        out.append(w)
        pos = w[1] + 1
    return out


__all__ = ["MAX_DEPTH", "MAX_PREFIX_DIGITS", "TnetstringError", "field", "fields", "items", "pairs", "span", "value"]
