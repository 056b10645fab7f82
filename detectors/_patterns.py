"""PI without a profile: values found by validated patterns, not by a value written down.

One compiled regex pass per view picks candidate tokens (runs of hex digits, ':', '.' and
'-' of seven characters or more); '@' is found with ``str.find``, so e-mail addresses cost
nothing in views without one. Each candidate is validated cheaply before it becomes a
finding:

* ``imei``: 15 digits, Luhn check, a GSMA reporting-body prefix, a TAC that is not one
  digit repeated, not a run of consecutive digits;
* ``meid``: 14 hex digits with a regional code A0-FF (globally administered), not one
  digit repeated;
* ``id_number``: 18 characters, GB 11643 check digit, a real birth date, a province code;
* ``phone_number``: 11 digits with a currently assigned 1[3-9]x prefix, optional +86/0086;
* ``email``: a local part of the RFC 5322 dot-atom subset, a domain whose TLD is letters
  (and not a file name extension: ``icon@2x.png``);
* ``mac``: six octets with ':' or '-', not multicast, not all zeros or all ones, not
  Android's ``02:00:00:00:00:00`` placeholder;
* ``idfa`` / ``gaid`` / ``oaid``: a UUID, only in a field named like an advertising ID
  (the name is the last step of the view's ``location``), not the all-zero UUID of
  limited ad tracking;
* ``location``: a ``lat``/``latitude`` and a ``lng``/``lon``/``longitude`` in the same
  object or query, with four decimals or more, within China's bounds.

Candidates per view are bounded by ``Limits.max_pattern_candidates``. Nothing here is
compiled per profile: the scanner builds one ``PatternScan`` when patterns are on, and
none (so no work at all) when they are off.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date
from itertools import compress, filterfalse, pairwise
from typing import Final

from ._finding import Finding
from ._sniff import _CTRL
from ._view import PairsLocator, View

#: every pattern finding carries this ``Finding.confidence``
PATTERN: Final = "pattern"

#: candidate tokens: runs of hex digits and the separators of MACs, UUIDs and decimals
_TOKEN: Final = re.compile(r"[0-9A-Fa-f][0-9A-Fa-f:.\-]{6,}")
_ALNUM: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEXCH: Final = frozenset("0123456789abcdefABCDEF")
_MAC: Final = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}")
_UUID: Final = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_DECIMAL: Final = re.compile(r"\d{2,3}\.\d{4,15}")

# -- phone numbers -------------------------------------------------------------------

#: mainland mobile prefixes (first three digits) assigned to carriers and MVNOs; 140-144
#: (13-digit IoT numbers), 154, 179 and 194 are not mobile subscriber numbers
_MOBILE_PREFIXES: Final = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "146", "147", "148", "149"]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["162", "165", "166", "167"]
    + ["170", "171", "172", "173", "174", "175", "176", "177", "178"]
    + [f"18{d}" for d in range(10)]
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
)
#: China Mobile's service number, the placeholder forms fill in
_PHONE_PLACEHOLDERS: Final = frozenset({"13800138000"})


def phone_ok(digits: str) -> bool:
    """11 digits of a mainland mobile number (no +86): an assigned prefix, not a filler."""
    if len(digits) != 11 or digits[:3] not in _MOBILE_PREFIXES or digits in _PHONE_PLACEHOLDERS:
        return False
    return len(set(digits[3:])) > 1


# -- IMEI / MEID ---------------------------------------------------------------------

#: GSMA reporting-body identifiers: the first two digits of every allocated TAC
_IMEI_RBI: Final = frozenset(
    {"01", "10", "30", "33", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86", "91", "98", "99"}
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _sequential(digits: str) -> bool:
    """0123456789… or 9876543210… (wrapping): a test number, not an allocation."""
    steps = {(ord(b) - ord(a)) % 10 for a, b in pairwise(digits)}
    return steps in ({1}, {9})


def imei_ok(digits: str) -> bool:
    if len(digits) != 15 or digits[:2] not in _IMEI_RBI or not luhn_ok(digits):
        return False
    tac, serial = digits[:8], digits[8:14]
    return len(set(tac)) > 1 and len(set(serial)) > 1 and not _sequential(digits[:14]) and len(set(digits)) > 3


def meid_ok(token: str) -> bool:
    if len(token) != 14 or token[:2].upper() < "A0":
        return False
    return len(set(token.upper())) > 3


# -- resident ID numbers ---------------------------------------------------------------

_PROVINCES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)  # fmt: skip
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
#: birth years accepted (the youngest holders are newborns; checked against a fixed year
#: so results do not depend on the day of the scan)
_ID_YEARS: Final = (1900, 2030)


def id_number_ok(value: str) -> bool:
    """GB 11643-1999: province code, a real birth date, the check character."""
    if len(value) != 18 or not value[:17].isdigit() or int(value[:2]) not in _PROVINCES:
        return False
    year, month, day = int(value[6:10]), int(value[10:12]), int(value[12:14])
    if not _ID_YEARS[0] <= year <= _ID_YEARS[1]:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    total = sum((ord(ch) - 48) * w for ch, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


# -- MAC addresses -----------------------------------------------------------------------

#: Android 6+'s answer to apps asking for the MAC; the Android emulator's own
_MAC_PLACEHOLDERS: Final = frozenset({"020000000000", "0215b2000000"})


def mac_ok(token: str) -> bool:
    """Six octets of one device: not multicast, not all zeros or ones, not a placeholder
    (nor any address whose device half is zero: 1 in 16 million for a real NIC)."""
    octets = token.replace(":", "").replace("-", "").lower()
    if octets in ("000000000000", "ffffffffffff") or octets in _MAC_PLACEHOLDERS or octets[6:] == "000000":
        return False
    return not int(octets[:2], 16) & 1  # multicast / broadcast: not a device


# -- e-mail addresses ------------------------------------------------------------------------

_LOCAL: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
_DOMAIN: Final = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}([A-Za-z]{2,24})(?![A-Za-z0-9-])")
#: "TLDs" that are file name extensions: image@2x.png, bundle@1.0.js
_NOT_TLD: Final = frozenset(
    {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "js", "css", "html", "htm", "json", "xml", "txt",
     "mp3", "mp4", "webm", "so", "dex", "apk", "jar", "zip", "gz", "pdf", "ttf", "woff", "otf", "heic", "avif",
     "map", "lottie", "wasm", "md", "php", "aspx", "jsp", "do"}
)  # fmt: skip
_MAX_LOCAL = 64


def _email_at(text: str, at: int, lo: int, hi: int) -> tuple[int, int] | None:
    """The e-mail address around the '@' at ``at`` (within ``lo``..``hi``), as a span."""
    start = at
    while start > lo and at - start <= _MAX_LOCAL and text[start - 1] in _LOCAL:
        start -= 1
    if at - start > _MAX_LOCAL or start == at:
        return None
    # a '/' or '=' run-in (URL path, query) is not part of the address: keep what follows
    cut = max(text.rfind("/", start, at), text.rfind("=", start, at), text.rfind("&", start, at))
    if cut != -1:
        start = cut + 1
    local = text[start:at]
    if not local or local[0] == "." or local[-1] == "." or ".." in local or not any(c in _ALNUM for c in local):
        return None
    m = _DOMAIN.match(text, at + 1, hi)
    if m is None or m.group(1).lower() in _NOT_TLD:
        return None
    return start, m.end()


# -- field names ---------------------------------------------------------------------------------

_SEGMENT: Final = re.compile(r"(?:\[\d+\])*$")
_KEY_BEFORE: Final = re.compile(r'(?:"([^"\\]{1,40})"\s*:\s*"?|([A-Za-z0-9_.\-]{1,40})=)$')
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT: Final = re.compile(r"[^a-z0-9]+")

#: advertising-ID field names (compacted: lower-case, separators dropped) -> data type
_AD_ID_NAMES: Final = {
    "idfa": "idfa", "ifa": "idfa", "oaid": "oaid", "gaid": "gaid", "aaid": "gaid", "adid": "gaid",
    "gpsadid": "gaid", "googleadid": "gaid", "googleaid": "gaid", "advertisingid": "gaid", "adsid": "gaid",
    "advertiserid": "gaid",
    "androidadid": "gaid", "deviceadid": "gaid",
}  # fmt: skip
#: field names whose 11-digit values are numeric IDs, times or amounts, not phone numbers
#: (an ad SDK's ``cid=19944365299``, ``exclude_ids=[…]``): the name's last word, or any word
_NOT_PHONE_LAST: Final = frozenset({"id", "ids", "cid", "cids", "no", "num", "code", "seq"})
_NOT_PHONE_WORDS: Final = frozenset(
    {"campaign", "creative", "offer", "order", "item", "sku", "goods", "product", "ad", "ads", "unit", "slot",
     "placement", "ts", "time", "timestamp", "size", "count", "len", "length", "version", "ver", "price",
     "amount", "duration", "crc", "hash", "sign", "seq", "serial"}
)  # fmt: skip
_LAT_NAMES: Final = frozenset({"lat", "latitude"})
_LON_NAMES: Final = frozenset({"lng", "lon", "longitude"})
#: (mypyc left a ``Final`` tuple of floats unset at run time: plain floats)
_LAT_MIN: Final = 18.0
_LAT_MAX: Final = 54.0
_LON_MIN: Final = 73.0
_LON_MAX: Final = 135.0


def last_name(location: str) -> str:
    """The field name a location ends in: ``body.json:$.device.oaid`` -> ``oaid``,
    ``url.query:oaid`` -> ``oaid``, ``header:X-OAID`` -> ``X-OAID``, ``$['ad id'][0]`` -> ``ad id``."""
    loc = _SEGMENT.sub("", location)
    if loc.endswith("']"):
        i = loc.rfind("['")
        return loc[i + 2 : -2] if i != -1 else ""
    cut = max(loc.rfind("."), loc.rfind(":"), loc.rfind(">"), loc.rfind("$"))
    return loc[cut + 1 :]


def parent_of(location: str) -> str:
    """The object or query a location's field belongs to (``url.query:lat`` -> ``url.query``)."""
    loc = _SEGMENT.sub("", location)
    if loc.endswith("']"):
        i = loc.rfind("['")
        return loc[:i] if i != -1 else loc
    cut = max(loc.rfind("."), loc.rfind(":"), loc.rfind(">"))
    return loc[:cut] if cut > 0 else loc


def ad_id_type(name: str) -> str | None:
    """The advertising-ID data type a field name stands for, or None."""
    low = _CAMEL.sub("_", name).lower()
    compact = _SPLIT.sub("", low)
    found = _AD_ID_NAMES.get(compact)
    if found is None:
        parts = [p for p in _SPLIT.split(low) if p]
        if parts:
            found = _AD_ID_NAMES.get(parts[-1])
    return found


def phone_field_ok(location: str) -> bool:
    """May a field of this name hold a phone number (``url.query:cid`` may not)?"""
    name = last_name(location)
    words = [p for p in _SPLIT.split(_CAMEL.sub("_", name).lower()) if p]
    if not words:
        return True
    compact = "".join(words)
    return words[-1] not in _NOT_PHONE_LAST and not _NOT_PHONE_WORDS.intersection(words) and not (
        compact.endswith(("ids", "cid"))
    )


def _name_before(text: str, off: int, lo: int) -> str:
    """The key just before a value in a JSON text or a run of pairs (cheap pre-check)."""
    m = _KEY_BEFORE.search(text, max(lo, off - 48), off)
    if m is None:
        return ""
    return m.group(1) or m.group(2) or ""


_SEPS: Final = ":.-"
#: the most common tokens of all, never a value: fractions (0.8284…) and times in ms
_DROP: Final = re.compile(r"0\.|1\d{12}$").match
#: (length, all digits) of the tokens worth a look: the digit counts of phone numbers
#: (13: 86 in front), IMEIs and ID numbers; a UUID; anything 7-20 characters with a
#: separator or letter (a trailing separator may make one more)
_KEEP: Final = frozenset(
    {(n, True) for n in (11, 13, 15, 17, 18)} | {(n, False) for n in range(7, 21)} | {(36, False), (37, False)}
)
_NO: Final = ()


def _shapes(token: str) -> tuple[str, ...]:
    """The candidates in a token (one C-level ``findall`` gives the tokens): itself, less
    trailing separators, when its length and characters may make a pattern value, and
    what follows a short ``key:`` glued in front (``mac:a4:50:…`` tokenizes from ``c``).
    Called per token, so it rejects the common shapes first: digest hexes, timestamps,
    fractions."""
    n = len(token)
    if n > 19:
        if n == 36 and token[8] == "-":
            return (token,)
        if token[-1] in _SEPS:
            token = token.rstrip(_SEPS)
            n = len(token)
            if n > 19:
                return _NO
        else:
            return _NO
    if token.isdigit():
        if n in (11, 15, 17, 18) or (n == 13 and token[:2] == "86"):
            return (token,)
        return _NO
    if token[-1] in _SEPS:
        token = token.rstrip(_SEPS)
        if len(token) < 7:
            return _NO
        return _shapes(token)
    if token[1] == "." and token[0] == "0":
        return _NO  # 0.xxxx: a fraction
    first = min((i for i in (token.find(":"), token.find("-"), token.find(".")) if i != -1), default=-1)
    if 0 < first <= 8 and n - first - 1 >= 7 and (n not in (17, 36) or token[2] not in _SEPS):
        rest = token[first + 1 :]
        return (token, *_shapes(rest)) if n >= 7 else _shapes(rest)
    return (token,)


# -- the pass ----------------------------------------------------------------------------------------


class PatternScan:
    """The pattern pass over a request's views (``Scanner(..., patterns=True)``).

    ``scan`` takes the views, their joined latin-1 text (as the matcher ran over it) and
    the view offsets in it, plus the spans the profile matched (a value that matches the
    profile gives only the profile finding)."""

    __slots__ = ("evidence_context", "max_candidates")

    def __init__(self, max_candidates: int, evidence_context: int = 24) -> None:
        self.max_candidates = max_candidates
        self.evidence_context = evidence_context

    def scan(
        self,
        views: Sequence[View],
        text: str,
        starts: Sequence[int],
        taken: Sequence[tuple[int, int]] = (),
        near_profile_point: Callable[[float, float], bool] | None = None,
    ) -> tuple[list[Finding], list[str]]:
        out: dict[tuple[str, str, tuple[str, ...]], Finding] = {}
        anomalies: list[str] = []
        taken_sorted = sorted(taken)
        taken_starts = [s for s, _ in taken_sorted]
        reach = 0
        taken_reach: list[int] = []
        for _, e in taken_sorted:
            reach = max(reach, e)
            taken_reach.append(reach)
        lats: dict[str, tuple[int, int, str, str]] = {}
        lons: dict[str, tuple[int, int, str, str]] = {}
        limit = self.max_candidates

        def overlaps(s: int, e: int) -> bool:
            i = bisect_right(taken_starts, e - 1) - 1
            return i >= 0 and taken_reach[i] > s

        for vi, view in enumerate(views):
            vs = starts[vi]
            ve = vs + len(view.data)
            tokens = _TOKEN.findall(text, vs, ve)  # C-level; most views hold none
            if not tokens:
                cands: list[str] = []
            else:
                if len(tokens) > limit:
                    tokens = tokens[:limit]
                    if "pattern-candidates-limit" not in anomalies:
                        anomalies.append("pattern-candidates-limit")
                # C speed, no Python frame per token: fractions and millisecond times out, then
                # (length, all digits) sorts out digests and counters
                tokens = list(filterfalse(_DROP, tokens))
                keep = map(_KEEP.__contains__, zip(map(len, tokens), map(str.isdigit, tokens), strict=True))
                tokens = list(compress(tokens, keep))
                cands = [c for t in tokens for c in _shapes(t)]
            cursor = vs
            for tok in cands:
                s = text.find(tok, cursor, ve)
                while s > vs and text[s - 1] in _ALNUM:  # inside a longer token: look further
                    s = text.find(tok, s + 1, ve)
                if s == -1:
                    continue
                e = s + len(tok)
                cursor = e
                nxt = text[e] if e < ve else ""
                found = self._classify(view, text, vs, ve, s, e, tok, nxt)
                if found is None:
                    continue
                dtype, s, e, detail = found
                if dtype in ("lat", "lon"):
                    loc = self._location(view, s - vs)
                    if loc is None or last_name(loc).lower() not in (_LAT_NAMES if dtype == "lat" else _LON_NAMES):
                        continue
                    if not _texty(view.data, s - vs, e - vs):
                        continue
                    key = parent_of(loc)
                    axis = lats if dtype == "lat" else lons
                    axis.setdefault(key, (vi, s - vs, text[s:e], loc))
                    continue
                if overlaps(s, e):
                    continue
                self._add(out, view, dtype, s - vs, e - vs, detail)
            at = text.find("@", vs, ve)
            budget = limit
            while at != -1:
                budget -= 1
                if budget < 0:
                    if "pattern-candidates-limit" not in anomalies:
                        anomalies.append("pattern-candidates-limit")
                    break
                span = _email_at(text, at, vs, ve)
                if span is not None and not overlaps(*span):
                    self._add(out, view, "email", span[0] - vs, span[1] - vs, "")
                    at = text.find("@", span[1], ve)
                else:
                    at = text.find("@", at + 1, ve)
        findings = list(out.values())
        for key, lat in lats.items():
            lon = lons.get(key)
            if lon is None:
                continue
            if near_profile_point is not None and near_profile_point(float(lat[2]), float(lon[2])):
                continue
            view = views[lat[0]]
            findings.append(
                Finding("location", view.chain, lat[3], f"lat {lat[2]}, lon {lon[2]}", confidence=PATTERN)
            )
        return findings, anomalies

    def _classify(
        self, view: View, text: str, vs: int, ve: int, s: int, e: int, tok: str, nxt: str
    ) -> tuple[str, int, int, str] | None:
        n = len(tok)
        if tok.isdigit():
            if nxt in _ALNUM:
                if n == 17 and nxt in "Xx" and (e + 1 >= ve or text[e + 1] not in _ALNUM):
                    cand = tok + nxt
                    if id_number_ok(cand):
                        return "id_number", s, e + 1, ""
                return None
            if nxt == "." and e + 1 < ve and text[e + 1].isdigit():
                return None
            if n == 11:
                if phone_ok(tok):
                    plus = s - vs >= 3 and text[s - 3 : s] == "+86"
                    return "phone_number", s - 3 if plus else s, e, ""
                return None
            if n == 13:
                if tok[:2] == "86" and phone_ok(tok[2:]):
                    plus = s > vs and text[s - 1] == "+"
                    return "phone_number", s - 1 if plus else s, e, ""
                return None
            if n == 15:
                if tok[:4] == "0086" and phone_ok(tok[4:]):
                    return "phone_number", s, e, ""
                if imei_ok(tok):
                    return "imei", s, e, f"TAC {tok[:8]}"
                return None
            if n == 18:
                return ("id_number", s, e, "") if id_number_ok(tok) else None
            return None
        if nxt in _ALNUM:
            return None
        if n == 14:
            if all(c in _HEXCH for c in tok) and meid_ok(tok):
                return "meid", s, e, ""
            return None
        if n == 17:
            if _MAC.fullmatch(tok) and mac_ok(tok):
                return "mac", s, e, ""
            return None
        if n == 36:
            if not _UUID.fullmatch(tok) or tok.strip("0-") == "":
                return None
            name = last_name(view.location) if view.resolve is None else _name_before(text, s, vs)
            dtype = ad_id_type(name) if name else None
            if dtype is None:
                return None
            if view.resolve is not None:  # the cheap look back agreed: confirm with the path
                loc = self._location(view, s - vs)
                dtype = ad_id_type(last_name(loc)) if loc is not None else None
                if dtype is None:
                    return None
            return dtype, s, e, ""
        if 7 <= n <= 19 and _DECIMAL.fullmatch(tok):
            value = float(tok)
            if _LAT_MIN <= value <= _LAT_MAX:
                axis, names = "lat", _LAT_NAMES
            elif _LON_MIN <= value <= _LON_MAX:
                axis, names = "lon", _LON_NAMES
            else:
                return None
            name = last_name(view.location) if view.resolve is None else _name_before(text, s, vs)
            if name.lower() not in names:
                return None
            return axis, s, e, ""
        return None

    @staticmethod
    def _location(view: View, offset: int) -> str | None:
        piece = view.piece_at(offset) if type(view.resolve) is PairsLocator else None
        if type(view.resolve) is PairsLocator:
            return None if piece is None else piece[2]
        return view.location_at(offset)

    def _add(self, out: dict[tuple[str, str, tuple[str, ...]], Finding], view: View, dtype: str, start: int,
             end: int, detail: str) -> None:
        piece = view.piece_at(start)
        if piece is None or end > piece[1]:
            return  # in a name of a run of pairs, or across two values
        lo, hi, location = piece
        key = (dtype, location, view.chain)
        if key in out or not _texty(view.data, start, end):
            return
        if dtype == "phone_number":
            near = view.data[max(lo, start - 48) : start].decode("latin-1")
            inner = _name_before(near, len(near), 0)  # a k=v or "k": inside the value
            if not phone_field_ok(location) or (inner and not phone_field_ok(inner)):
                return
        evidence, match = _excerpt(view.data[lo:hi], start - lo, end - lo, self.evidence_context)
        out[key] = Finding(dtype, view.chain, location, evidence, detail, match, PATTERN)


#: bytes either side of a candidate that must read as text (``_texty``)
_TEXT_MARGIN: Final = 24


def _texty(data: bytes, start: int, end: int) -> bool:
    """Is the candidate in text? Random bytes (a photo in a multipart form) spell an
    e-mail-shaped run now and then, but not amid valid UTF-8 with few control bytes."""
    window = data[max(0, start - _TEXT_MARGIN) : end + _TEXT_MARGIN]
    if window.isascii():
        return (len(window) - len(window.translate(None, _CTRL))) * 20 <= len(window)
    text = window.decode("utf-8", "replace").strip("\ufffd")  # a character cut at either edge
    if "\ufffd" in text:
        return False
    return sum(1 for ch in text if not ch.isprintable() and ch not in "\t\n\r") * 20 <= len(text)


def _printable(s: str) -> str:
    return "".join(ch if ch.isprintable() else "·" for ch in s)


def _excerpt(view: bytes, start: int, end: int, context: int) -> tuple[str, tuple[int, int]]:
    lo = max(0, start - context)
    hi = min(len(view), end + context)
    before = ("…" if lo > 0 else "") + _printable(view[lo:start].decode("utf-8", "replace"))
    match = _printable(view[start:end].decode("utf-8", "replace"))
    after = _printable(view[end:hi].decode("utf-8", "replace")) + ("…" if hi < len(view) else "")
    return before + match + after, (len(before), len(before) + len(match))
