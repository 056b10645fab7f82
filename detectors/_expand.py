"""Expand each profile value, once, into every form an app or SDK may send it in.

Done at profile compile time so that scanning a request is one automaton pass, never a
loop over values. A form is a ``Needle``: the exact bytes, the data type, and the chain
of transforms that produced it (outermost first, ``("md5", "upper", "nosep")`` = md5 of
the upper-cased value with separators removed).

Naming of transform steps (shared with decode steps in ``Finding.encoding``):

* ``md5 sha1 sha224 sha256 sha384 sha512 sm3``: digest as lower-case hex; an outer
  ``upper`` means upper-case hex, ``prefix16`` the first 16 hex characters, ``uuid`` the hex
  laid out as 8-4-4-4-12; ``md5-raw`` under ``base64`` is base64 of the raw digest bytes;
* ``base64``/``base64url`` (standard or URL-safe, with or without padding, also found
  inside a longer base64 text), ``hex``, ``urlencode``, ``json-escape``;
* value variants, innermost: ``upper``/``lower`` (case), ``nosep``/``dash`` (MAC, UUID
  separators), ``cc+86``/``cc86``/``cc0086``/``spaced``/``dashed`` (phone numbers).

The depth of hash/encoding chains is bounded (``max_depth``); deeper levels only chain
the transforms SDKs actually stack (md5/sha1/sha256 of a hex digest), which keeps a full
profile at tens of thousands of needles instead of millions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

from ._sm3 import HAVE_OPENSSL_SM3, sm3

#: Values shorter than this many characters are only matched as whole tokens, and are not
#: expanded into encodings (a 4-character base64 fragment matches everywhere).
SAFE_VALUE_LEN = 6

#: Shortest encoded needle (base64 fragment, percent-encoding) worth searching for.
MIN_ENCODED_LEN = 8

#: Default depth of transform chains (``sha256(md5(sha1(x)))`` is depth 3).
DEFAULT_CHAIN_DEPTH = 3

# Boundary classes: which neighbouring characters make a hit part of a longer token.
BOUNDARY_NONE = 0
BOUNDARY_HEX = 1  # hex digits and digits: "a numeric value inside a longer hex run"
BOUNDARY_ALNUM = 2
BOUNDARY_TOKEN = 3  # alnum, "_" and any non-ASCII byte: whole-token match for short values
BOUNDARY_HEXDASH = 4  # UUID-like: hex digits and "-"


@dataclass(frozen=True, slots=True)
class Identifier:
    """One profile value to look for, under its data-type name (``imei``, ``email``…)."""

    data_type: str
    value: str

    def __post_init__(self) -> None:
        if not self.value:
            raise ValueError(f"empty value for {self.data_type}")


@dataclass(frozen=True, slots=True)
class Needle:
    """One exact form of one value."""

    text: bytes
    data_type: str
    chain: tuple[str, ...]
    case_sensitive: bool
    boundary: int
    #: for hex digests: the first 16 hex characters are a valid form of their own
    prefix16: bool = False
    #: for base64 fragments: the bytes they encode (a hit is confirmed by decoding)
    source: bytes = b""


HASHES: tuple[str, ...] = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3")
#: Hashes whose hex output SDKs feed into another hash or encoding (``md5(sha1(x))``).
CHAINABLE_HASHES: tuple[str, ...] = ("md5", "sha1", "sha256")

_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")

MAC_TYPES = frozenset({"mac", "bluetooth_mac", "bssid"})
UUID_TYPES = frozenset({"oaid", "gaid", "idfa", "idfv"})
DIGIT_TYPES = frozenset({"imei", "meid", "imsi", "iccid", "bank_card"})


# --------------------------------------------------------------------------- variants


def _uniq(pairs: Iterable[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
    seen: set[str] = set()
    out = []
    for text, chain in pairs:
        if text and text not in seen:
            seen.add(text)
            out.append((text, chain))
    return out


def _case_variants(value: str) -> list[tuple[str, tuple[str, ...]]]:
    return _uniq([(value, ()), (value.lower(), ("lower",)), (value.upper(), ("upper",))])


def _mac_variants(value: str) -> list[tuple[str, tuple[str, ...]]]:
    digits = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    if len(digits) != 12:
        return _case_variants(value)
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    colon, dash = ":".join(pairs), "-".join(pairs)
    return _uniq(
        [
            (colon, ()),
            (colon.upper(), ("upper",)),
            (digits, ("nosep",)),
            (digits.upper(), ("upper", "nosep")),
            (dash, ("dash",)),
            (dash.upper(), ("upper", "dash")),
        ]
    )


def _uuid_variants(value: str) -> list[tuple[str, tuple[str, ...]]]:
    if not _UUID_RE.fullmatch(value):
        return _case_variants(value)
    plain = value.replace("-", "").lower()
    dashed = f"{plain[:8]}-{plain[8:12]}-{plain[12:16]}-{plain[16:20]}-{plain[20:]}"
    return _uniq(
        [
            (dashed, ()),
            (dashed.upper(), ("upper",)),
            (plain, ("nosep",)),
            (plain.upper(), ("upper", "nosep")),
        ]
    )


def _phone_variants(value: str) -> list[tuple[str, tuple[str, ...]]]:
    digits = re.sub(r"\D", "", value)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    if not (len(digits) == 11 and digits.startswith("1")):
        return _uniq([(digits, ()), (value, ())])
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    dashed = f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return _uniq(
        [
            (digits, ()),
            ("+86" + digits, ("cc+86",)),
            ("86" + digits, ("cc86",)),
            ("0086" + digits, ("cc0086",)),
            ("+86 " + digits, ("cc+86", "spaced")),
            ("+86-" + digits, ("cc+86", "dashed")),
            (spaced, ("spaced",)),
            (dashed, ("dashed",)),
        ]
    )


def _bank_card_variants(value: str) -> list[tuple[str, tuple[str, ...]]]:
    digits = re.sub(r"\D", "", value)
    spaced = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return _uniq([(digits, ()), (spaced, ("spaced",))])


def base_variants(data_type: str, value: str) -> list[tuple[str, tuple[str, ...]]]:
    """The value in each spelling that is still "the same value" (case, separators, prefixes)."""
    value = value.strip()
    if data_type in MAC_TYPES:
        return _mac_variants(value)
    if data_type in UUID_TYPES:
        return _uuid_variants(value)
    if data_type in ("phone_number", "contact_phone"):
        return _phone_variants(value)
    if data_type == "bank_card":
        return _bank_card_variants(value)
    if data_type in DIGIT_TYPES:
        return [(value, ())]
    if data_type == "email":
        return _uniq([(value.lower(), ()), (value.upper(), ("upper",)), (value, ())])
    return _case_variants(value)


# --------------------------------------------------------------------------- needles


def _boundary_for(text: str) -> int:
    if len(text) < SAFE_VALUE_LEN:
        return BOUNDARY_TOKEN
    if _HEX_RE.fullmatch(text):
        return BOUNDARY_HEX
    if text.isascii() and text.isalnum():
        return BOUNDARY_ALNUM
    if _UUID_RE.fullmatch(text):
        return BOUNDARY_HEXDASH
    return BOUNDARY_NONE


def base64_fragments(data: bytes, alphabet: str = "std") -> list[bytes]:
    """The base64 text of ``data`` as it appears inside a longer base64 text, at each of the
    three byte alignments: only the characters fully determined by ``data``'s own bits."""
    std = _fragments(data)
    return std if alphabet == "std" else [frag.translate(_URLSAFE) for frag in std]


#: ``Needle``'s slots without its frozen ``__setattr__``: ``expand`` fills one of these with
#: plain assignments and makes it a ``Needle`` (same slots, so ``__class__`` may change). A
#: full profile compiles into 35,000 needles; the dataclass ``__init__`` (one
#: ``object.__setattr__`` per field) took 1.3 µs a needle, this 0.4 µs.
_NeedleSlots = type("_NeedleSlots", (), {"__slots__": Needle.__slots__})
_new = object.__new__

#: ``add(text, key, chain, case_sensitive, boundary, prefix16, source)``: ``key`` is what
#: makes a needle new for its data type (``text``, lower-cased unless case-sensitive)
_Add = Callable[[bytes, bytes, tuple[str, ...], bool, int, bool, bytes], None]

_b64 = binascii.b2a_base64
_hexlify = binascii.hexlify
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_md5, _sha1, _sha224, _sha256, _sha384, _sha512 = (
    hashlib.md5, hashlib.sha1, hashlib.sha224, hashlib.sha256, hashlib.sha384, hashlib.sha512
)
#: positions in ``HASHES`` of the ``CHAINABLE_HASHES``
_CHAINABLE_AT = tuple(HASHES.index(name) for name in CHAINABLE_HASHES)
_RAW_NAMES = tuple(f"{name}-raw" for name in HASHES)


def _hex_digests(data: bytes) -> list[bytes]:
    """The ``HASHES`` of ``data``, in that order, in lower-case hex (hashlib's constructors,
    called directly: ``hashlib.new(name)`` costs twice as much, and a full profile takes
    23,000 digests)."""
    sm3_digest = _sm3_copy()
    sm3_digest.update(data)
    return [
        _hexlify(_md5(data).digest()), _hexlify(_sha1(data).digest()), _hexlify(_sha224(data).digest()),
        _hexlify(_sha256(data).digest()), _hexlify(_sha384(data).digest()), _hexlify(_sha512(data).digest()),
        _hexlify(sm3_digest.digest()),
    ]


class _PureSm3:
    """``hashlib.new("sm3")``'s interface over the pure fallback (``_sm3.sm3``)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def update(self, data: bytes) -> None:
        self.data += data

    def digest(self) -> bytes:
        return sm3(self.data)


#: a fresh SM3 hash: a copy of a blank OpenSSL one (``hashlib.new("sm3", data)`` looks the
#: algorithm up by name each time, at twice the cost), or the pure fallback
_sm3_copy: Callable[[], Any] = hashlib.new("sm3").copy if HAVE_OPENSSL_SM3 else _PureSm3


def _fragments(data: bytes) -> list[bytes]:
    """``base64_fragments(data, "std")``; the URL-safe ones are these, translated. At byte
    alignment k (k zero bytes before ``data``), the characters from (8k + 5) // 6 to
    8 (k + n) // 6 depend on ``data`` alone."""
    n = len(data)
    out: list[bytes] = []
    for frag in (
        _b64(data, newline=False)[: 4 * n // 3],
        _b64(b"\0" + data, newline=False)[2 : 4 * (n + 1) // 3],
        _b64(b"\0\0" + data, newline=False)[3 : 4 * (n + 2) // 3],
    ):
        if len(frag) >= MIN_ENCODED_LEN and frag not in out:
            out.append(frag)
    return out


class _Steps(NamedTuple):
    """The chains one step longer than a chain, made once per chain: every needle of a
    step shares one tuple (a full profile has 35,000 needles and a few hundred chains)."""

    chain: tuple[str, ...]
    hashes: tuple[tuple[str, ...], ...]  # (name, *chain) for each of HASHES
    upper: tuple[tuple[str, ...], ...]  # ("upper", name, *chain) for each of CHAINABLE_HASHES
    base64: tuple[str, ...]
    base64url: tuple[str, ...]
    hex: tuple[str, ...]
    urlencode: tuple[str, ...]


def _steps(chain: tuple[str, ...]) -> _Steps:
    return _Steps(
        chain, tuple((name, *chain) for name in HASHES), tuple(("upper", name, *chain) for name in CHAINABLE_HASHES),
        ("base64", *chain), ("base64url", *chain), ("hex", *chain), ("urlencode", *chain),
    )


def _encodings(add: _Add, text: bytes, steps: _Steps, full: bool) -> None:
    """Outer encodings of one string: base64 (both alphabets, all alignments), hex,
    percent-encoding and JSON escaping."""
    std = _fragments(text)
    for frag in std:
        add(frag, frag, steps.base64, True, BOUNDARY_NONE, False, text)
    for frag in std:
        url = frag.translate(_URLSAFE)
        if url not in std:
            add(url, url, steps.base64url, True, BOUNDARY_NONE, False, text)
    if not full:
        return
    if len(text) <= 64:
        hexed = _hexlify(text)
        add(hexed, hexed, steps.hex, False, BOUNDARY_HEX, False, b"")
    if text.isalnum():  # ASCII letters and digits (hex digests): percent-encoding leaves them as they are
        return
    s = text.decode("utf-8", "surrogateescape")
    for quoted in dict.fromkeys((quote(s, safe=""), quote_plus(s, safe=""))):
        if quoted != s and len(quoted) >= MIN_ENCODED_LEN:
            q = quoted.encode()
            add(q, q.lower(), steps.urlencode, False, BOUNDARY_NONE, False, b"")
    if not s.isascii():
        _escapes(add, s, steps.chain)


def _escapes(add: _Add, s: str, chain: tuple[str, ...]) -> None:
    """Percent-, JSON- and base64-escaped forms of non-ASCII text: long and distinctive
    even when the value itself is short (a two-character Chinese name)."""
    raw = s.encode("utf-8")
    std = base64.b64encode(raw).rstrip(b"=")
    url = std.translate(_URLSAFE)
    add(std, std, ("base64", *chain), True, BOUNDARY_TOKEN, False, b"")
    add(url, url, ("base64url", *chain), True, BOUNDARY_TOKEN, False, b"")
    q = quote(s, safe="").encode()
    add(q, q.lower(), ("urlencode", *chain), False, BOUNDARY_NONE, False, b"")
    escaped = json.dumps(s)[1:-1].encode()
    add(escaped, escaped.lower(), ("json-escape", *chain), False, BOUNDARY_NONE, False, b"")


def _hash_forms(add: _Add, hexes: list[bytes], steps: _Steps) -> None:
    """Each digest of a value (``hexes``: ``_hex_digests``) as hex, as a UUID and as the
    base64 of its raw bytes."""
    chain = steps.chain
    for name, raw_name, hexd, step in zip(HASHES, _RAW_NAMES, hexes, steps.hashes, strict=True):
        digest = binascii.unhexlify(hexd)
        add(hexd, hexd, step, False, BOUNDARY_HEX, True, b"")
        uuid_form = b"-".join((hexd[:8], hexd[8:12], hexd[12:16], hexd[16:20], hexd[20:32]))
        add(uuid_form, uuid_form, ("uuid", name, *chain), False, BOUNDARY_HEXDASH, False, b"")
        std = _b64(digest, newline=False).rstrip(b"=")
        add(std, std, ("base64", raw_name, *chain), True, BOUNDARY_NONE, False, b"")
        url = std.translate(_URLSAFE)
        if url != std:
            add(url, url, ("base64url", raw_name, *chain), True, BOUNDARY_NONE, False, b"")


def _chained(hexes: list[bytes], steps: _Steps) -> list[tuple[bytes, tuple[str, ...]]]:
    """The digests SDKs feed into another hash or encoding, in lower- and upper-case hex."""
    out = []
    for at, upper in zip(_CHAINABLE_AT, steps.upper, strict=True):
        out.append((hexes[at], steps.hashes[at]))
        out.append((hexes[at].upper(), upper))
    return out


def expand(identifiers: Iterable[Identifier], max_depth: int = DEFAULT_CHAIN_DEPTH) -> list[Needle]:
    """Every form of every identifier, shortest chains first, deterministic order: the
    first form of a text (lower-cased unless case-sensitive) and data type is kept, so
    breadth-first generation keeps the shortest chain."""
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    needles: list[Needle] = []
    keep = needles.append
    seen: dict[str, set[bytes]] = {}
    known: dict[tuple[str, ...], _Steps] = {}

    def steps_of(chain: tuple[str, ...]) -> _Steps:
        steps = known.get(chain)
        if steps is None:
            steps = known[chain] = _steps(chain)
        return steps

    for ident in identifiers:
        data_type = ident.data_type
        taken = seen.setdefault(data_type, set())

        def add(
            text: bytes, key: bytes, chain: tuple[str, ...], case_sensitive: bool, boundary: int, prefix16: bool,
            source: bytes, data_type: str = data_type, is_taken: Callable[[bytes], bool] = taken.__contains__,
            take: Callable[[bytes], None] = taken.add,
        ) -> None:
            if is_taken(key):
                return
            take(key)
            n: Any = _new(_NeedleSlots)
            n.text, n.data_type, n.chain, n.case_sensitive, n.boundary, n.prefix16, n.source = (
                text, data_type, chain, case_sensitive, boundary, prefix16, source
            )
            n.__class__ = Needle
            keep(n)

        variants = [(text, text.encode("utf-8"), chain) for text, chain in base_variants(data_type, ident.value)]
        for text, raw, chain in variants:
            add(raw, raw.lower(), chain, False, _boundary_for(text), False, b"")
        if max_depth == 0:
            continue
        # Level 1: every hash and every encoding of every spelling.
        frontier: list[tuple[bytes, tuple[str, ...]]] = []
        for text, raw, chain in variants:
            hexes = _hex_digests(raw)
            steps = steps_of(chain)
            _hash_forms(add, hexes, steps)
            if len(text) >= SAFE_VALUE_LEN:
                _encodings(add, raw, steps, full=True)
            elif not text.isascii():
                _escapes(add, text, chain)
            frontier += _chained(hexes, steps)
            frontier.append((base64.b64encode(raw), steps.base64))
        # Deeper levels: hashes of hex digests (and of base64), base64 of the result.
        for depth in range(2, max_depth + 1):
            last = depth == max_depth
            nxt: list[tuple[bytes, tuple[str, ...]]] = []
            for text_b, chain in frontier:
                steps = steps_of(chain)
                hexes = _hex_digests(text_b)
                for hexd, step in zip(hexes, steps.hashes, strict=True):  # add(...), inline: most needles
                    if hexd in taken:
                        continue
                    taken.add(hexd)
                    n: Any = _new(_NeedleSlots)
                    n.text, n.data_type, n.chain, n.case_sensitive, n.boundary, n.prefix16, n.source = (
                        hexd, data_type, step, False, BOUNDARY_HEX, True, b""
                    )
                    n.__class__ = Needle
                    keep(n)
                _encodings(add, text_b, steps, full=not last)
                if not last:
                    nxt += _chained(hexes, steps)
            frontier = nxt
    return needles


def iter_chain_names(needles: Iterable[Needle]) -> Iterator[str]:
    """Every step name used (for documentation and tests)."""
    for n in needles:
        yield from n.chain
