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
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from ._sm3 import sm3

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


def _digest(name: str) -> Callable[[bytes], bytes]:
    if name == "sm3":
        return sm3
    return lambda data: hashlib.new(name, data).digest()


HASHES: tuple[str, ...] = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3")
_DIGEST = {name: _digest(name) for name in HASHES}
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
    encode = base64.b64encode if alphabet == "std" else base64.urlsafe_b64encode
    out = []
    for k in range(3):
        enc = encode(b"\0" * k + data)
        start = (8 * k + 5) // 6
        end = (8 * (k + len(data))) // 6
        frag = enc[start:end]
        if len(frag) >= MIN_ENCODED_LEN and frag not in out:
            out.append(frag)
    return out


class _Builder:
    def __init__(self) -> None:
        self.needles: dict[tuple[bytes, str], Needle] = {}

    def add(self, needle: Needle) -> None:
        key = (needle.text.lower() if not needle.case_sensitive else needle.text, needle.data_type)
        # Breadth-first generation: the first chain seen for a text is the shortest.
        self.needles.setdefault(key, needle)


def _encodings(b: _Builder, data_type: str, text: bytes, chain: tuple[str, ...], full: bool) -> None:
    """Outer encodings of one string: base64 (both alphabets, all alignments), hex,
    percent-encoding and JSON escaping."""
    std = base64_fragments(text, "std")
    for frag in std:
        b.add(Needle(frag, data_type, ("base64", *chain), True, BOUNDARY_NONE, source=text))
    for frag in base64_fragments(text, "url"):
        if frag not in std:
            b.add(Needle(frag, data_type, ("base64url", *chain), True, BOUNDARY_NONE, source=text))
    if not full:
        return
    if len(text) <= 64:
        b.add(Needle(text.hex().encode(), data_type, ("hex", *chain), False, BOUNDARY_HEX))
    s = text.decode("utf-8", "surrogateescape")
    for quoted in dict.fromkeys((quote(s, safe=""), quote_plus(s, safe=""))):
        if quoted != s and len(quoted) >= MIN_ENCODED_LEN:
            b.add(Needle(quoted.encode(), data_type, ("urlencode", *chain), False, BOUNDARY_NONE))
    if not s.isascii():
        _escapes(b, data_type, s, chain)


def _escapes(b: _Builder, data_type: str, s: str, chain: tuple[str, ...]) -> None:
    """Percent-, JSON- and base64-escaped forms of non-ASCII text: long and distinctive
    even when the value itself is short (a two-character Chinese name)."""
    raw = s.encode("utf-8")
    for enc, step in ((base64.b64encode(raw), "base64"), (base64.urlsafe_b64encode(raw), "base64url")):
        b.add(Needle(enc.rstrip(b"="), data_type, (step, *chain), True, BOUNDARY_TOKEN))
    b.add(Needle(quote(s, safe="").encode(), data_type, ("urlencode", *chain), False, BOUNDARY_NONE))
    escaped = json.dumps(s)[1:-1]
    b.add(Needle(escaped.encode(), data_type, ("json-escape", *chain), False, BOUNDARY_NONE))


def _hash_needles(
    b: _Builder, data_type: str, text: bytes, chain: tuple[str, ...], names: Iterable[str], full: bool
) -> None:
    for name in names:
        digest = _DIGEST[name](text)
        hexd = digest.hex()
        b.add(Needle(hexd.encode(), data_type, (name, *chain), False, BOUNDARY_HEX, prefix16=True))
        if not full:
            continue
        h = hexd[:32]
        uuid_form = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        b.add(Needle(uuid_form.encode(), data_type, ("uuid", name, *chain), False, BOUNDARY_HEXDASH))
        raw = f"{name}-raw"
        std = base64.b64encode(digest).rstrip(b"=")
        b.add(Needle(std, data_type, ("base64", raw, *chain), True, BOUNDARY_NONE))
        url = base64.urlsafe_b64encode(digest).rstrip(b"=")
        if url != std:
            b.add(Needle(url, data_type, ("base64url", raw, *chain), True, BOUNDARY_NONE))


def expand(identifiers: Iterable[Identifier], max_depth: int = DEFAULT_CHAIN_DEPTH) -> list[Needle]:
    """Every form of every identifier, shortest chains first, deterministic order."""
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    b = _Builder()
    for ident in identifiers:
        variants = base_variants(ident.data_type, ident.value)
        for text, chain in variants:
            raw = text.encode("utf-8")
            b.add(Needle(raw, ident.data_type, chain, False, _boundary_for(text)))
        if max_depth == 0:
            continue
        # Level 1: every hash and every encoding of every spelling.
        frontier: list[tuple[bytes, tuple[str, ...]]] = []
        for text, chain in variants:
            raw = text.encode("utf-8")
            _hash_needles(b, ident.data_type, raw, chain, HASHES, full=True)
            if len(text) >= SAFE_VALUE_LEN:
                _encodings(b, ident.data_type, raw, chain, full=True)
            elif not text.isascii():
                _escapes(b, ident.data_type, text, chain)
            for name in CHAINABLE_HASHES:
                hexd = _DIGEST[name](raw).hex()
                frontier.append((hexd.encode(), (name, *chain)))
                frontier.append((hexd.upper().encode(), ("upper", name, *chain)))
            frontier.append((base64.b64encode(raw), ("base64", *chain)))
        # Deeper levels: hashes of hex digests (and of base64), base64 of the result.
        for depth in range(2, max_depth + 1):
            last = depth == max_depth
            nxt: list[tuple[bytes, tuple[str, ...]]] = []
            for text_b, chain in frontier:
                _hash_needles(b, ident.data_type, text_b, chain, HASHES, full=False)
                _encodings(b, ident.data_type, text_b, chain, full=not last)
                if last:
                    continue
                for name in CHAINABLE_HASHES:
                    hexd = _DIGEST[name](text_b).hex()
                    nxt.append((hexd.encode(), (name, *chain)))
                    nxt.append((hexd.upper().encode(), ("upper", name, *chain)))
            frontier = nxt
    return list(b.needles.values())


def iter_chain_names(needles: Iterable[Needle]) -> Iterator[str]:
    """Every step name used (for documentation and tests)."""
    for n in needles:
        yield from n.chain
