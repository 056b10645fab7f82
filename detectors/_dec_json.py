"""JSON objects and arrays, and JSON Lines (log uploads: one document per line).

JSON without escapes other than ``\\/`` (and Gson's HTML-safe ``\\u003d``…) holds every
value verbatim: it is scanned as one view whose paths are computed only where something
is found (``JsonLocator``). Otherwise, or when one of its strings needs decoding, the
parsed document is walked: one view per string and number (numbers as sent), one per
object holding its keys (app lists are sent as keys), none for true/false/null.

Places: ``body.json:$.d``, deeper ``url.query:d>json:$.imei``, a line of JSON Lines
``body.jsonl:3>json:$.a``; ``json`` joins the chain (a structure that disguises text).
"""

from __future__ import annotations

import json
import json.scanner
import re
import threading
from typing import TYPE_CHECKING, Any, Final, cast

import simdjson

from ._dec_api import Budget
from ._jsonnum import _Num
from ._jsonpath import JsonLocator, json_key
from ._sniff import (
    ALNUM,
    B_AMP,
    B_BSLASH,
    B_EQ,
    B_NUL,
    B_PCT,
    BLOB,
    FORM_RE,
    OTHER,
    PCT_RE,
    PLAIN,
    ByteClass,
    long_runs,
    shape,
)
from ._view import View

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

    from ._decode import _Walker

_BOM: Final = b"\xef\xbb\xbf"
#: escapes that leave JSON text valid when undone: org.json's "\/", Gson's HTML-safe set
_SAFE_ESCAPES: Final = (
    (b"\\u003d", b"="), (b"\\u0026", b"&"), (b"\\u003c", b"<"), (b"\\u003e", b">"), (b"\\u0027", b"'"),
    (b"\\u003D", b"="), (b"\\u003C", b"<"), (b"\\u003E", b">"),
)  # fmt: skip
#: JSON strings holding a k=v&… form ('=' and '&' never occur between strings)
_JSON_FORM_RE: Final = re.compile(rb'"([^"]*=[^"&]*&[^"]*)"')

_new_view = tuple.__new__
_scan_once = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: a decoder is its context
#: the scanner of ``json.loads(s, parse_int=_Num, parse_float=_Num, parse_constant=_Num)``:
#: made once (``json.loads`` with those arguments makes a decoder and its scanner per call,
#: in Python: 6 µs of a 15 µs parse of a 1.4 KB SDK event)
_scan_num = json.scanner.make_scanner(
    json.JSONDecoder(parse_int=_Num, parse_float=_Num, parse_constant=_Num)  # type: ignore[arg-type]  # as above
)
_WS: Final = " \t\n\r"


def _json_decode(s: str, numbers_as_text: bool = False) -> object:
    """``json.JSONDecoder().decode(s)`` (with ``numbers_as_text``, numbers as ``_Num``: its
    ``parse_int``, ``parse_float`` and ``parse_constant``), less its two Python frames and
    whitespace regexes: the scanner it calls, then the same errors ("Expecting value",
    "Extra data")."""
    idx = 0 if s[:1] not in _WS else len(s) - len(s.lstrip(_WS))
    try:
        doc, end = (_scan_num if numbers_as_text else _scan_once)(s, idx)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", s, err.value) from None
    if end != len(s):
        rest = s[end:].lstrip(_WS)
        if rest:
            raise json.JSONDecodeError("Extra data", s, len(s) - len(rest))
    return doc


#: one simdjson parser per thread (a parser holds one document at a time; batch tasks may
#: run in threads)
_PARSERS = threading.local()
_SIMD_KINDS: Final[dict[type, str]] = {simdjson.Object: "object", simdjson.Array: "array"}


def _fast_kind(text: bytes) -> str | None:
    """The kind of document ("object" or "array") when simdjson reads this escape-free
    JSON text as one, else None (the json module decides). Only tells JSON from not-JSON, building no Python objects:
    an escape-free document's values are read from its text (``_document``). Only ever a
    shortcut to the json module's own answer: what simdjson reads, the json module reads as
    a document of the same kind (it also takes NaN, Infinity, numbers beyond a double,
    encoded surrogates, integers over 64 bits, a byte-order mark; simdjson refuses those).
    Integers longer than the json module's digit limit (``sys.get_int_max_str_digits``, at
    least 640) are among those over 64 bits: no test of the text is needed for them. 5-6x
    orjson on SDK batches, which spent their time building the objects it threw away."""
    got = _fast_read(text)
    return None if got is None else got[0]


#: levels of nesting the shortcut reads (the json module reads them with room to spare on
#: the stack); deeper, the json module decides: it runs out of stack near a thousand
#: levels, simdjson at 1,024, and only the json module's answer counts
_FAST_DEPTH: Final = 512
#: a text longer than ``2 * _FAST_DEPTH`` is parsed inside this many objects: simdjson,
#: which refuses more than 1,024 levels, then refuses exactly the texts nested deeper than
#: ``_FAST_DEPTH``, in the parse it makes anyway (a separate count of the brackets outside
#: strings took 4x that parse on SDK batches)
_WRAP_OPEN: Final = b'{"":' * _FAST_DEPTH
_WRAP_CLOSE: Final = b"}" * _FAST_DEPTH


def _fast_read(text: bytes, count: bool = False) -> tuple[str, int] | None:
    """("object" or "array", with ``count`` an array's number of elements, else -1) when
    simdjson reads ``text`` as one object or array nested at most ``_FAST_DEPTH`` deep;
    None when the json module must decide (``_fast_kind``). Wrapped, a text parses only
    when it is one JSON value (an object member's value) followed by nothing but
    whitespace: its first byte then says its kind."""
    if text[:1] not in (b"{", b"["):
        return None
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = simdjson.Parser()
    # a text shorter, or with fewer brackets, cannot nest deeper (counting them costs less
    # than parsing the wrapping up to some kilobytes: the typical API call's size)
    n = len(text)
    wrapped = n > 2 * _FAST_DEPTH and (n > 8 * _FAST_DEPTH or text.count(b"[") + text.count(b"{") > _FAST_DEPTH)
    try:  # the document proxy is dropped on return: the parser takes the next text
        doc: Any = parser.parse(_WRAP_OPEN + text + _WRAP_CLOSE if wrapped else text)
        if wrapped:
            if not count:
                return ("object" if text[:1] == b"{" else "array"), -1
            for _ in range(_FAST_DEPTH):
                doc = doc[""]
        kind = _SIMD_KINDS.get(type(doc))
        if kind is None:
            return None
        return kind, len(doc) if count and kind == "array" else -1
    except (ValueError, RuntimeError, KeyError):  # invalid, a big integer, too deep
        return None


#: the blob alphabet of ``_blob_strings``: base64 (both alphabets) and hex, without "="
_IN_BLOB: Final = ByteClass(ALNUM + b"+/_-").marks


def _blob_strings(text: bytes, min_len: int) -> list[bytes]:
    """The JSON strings of ``text`` shaped like base64 or hex (``blob_child`` decides):
    what ``re.findall(rb'"([A-Za-z0-9+/_-]{min_len,}+={0,2}+)"', text)`` gives (for a
    ``min_len`` of 1 or more). The runs of the alphabet that a quote opens come from
    ``long_runs``; one is taken when that quote closed no string taken before and
    ``={0,2}"`` closes it. The regex tried every quote of the text: 3.3x this on SDK
    batches (7,000 quotes in 70 KB), where it was 14% of the detection."""
    out: list[bytes] = []
    runs = long_runs(text, _IN_BLOB, min_len, 34)  # after a '"'
    n: i64 = len(text)
    free: i64 = 0  # quotes from here on are free to open a string (none closed one taken)
    for at in range(0, len(runs), 2):
        start: i64 = runs[at]
        if start > free:
            run_end: i64 = runs[at + 1]
            end: i64 = run_end
            while end < n and end < run_end + 2 and text[end] == 61:  # up to two '='
                end += 1
            if end < n and text[end] == 34:
                out.append(text[start:end])
                free = end + 1
    return out


def _json_text(data: bytes) -> bytes | None:
    """``data`` with its safe escapes undone, or None when other escapes remain. Any
    ``\\\\`` leaves a backslash behind, so replacing ``\\/`` never splits an escape."""
    if B_BSLASH not in data:
        return data
    text = data.replace(b"\\/", b"/")
    if text.find(b"\\u00") != -1:
        for esc, ch in _SAFE_ESCAPES:
            if esc in text:
                text = text.replace(esc, ch)
    return None if B_BSLASH in text else text


def _parse_json(data: bytes) -> tuple[bytes | None, object] | None:
    """(the text when escape-free, else None; the document, or None where only the text
    was checked) for a JSON object or array, None for other JSON values. Raises what
    ``json.loads`` raises."""
    text = data if B_BSLASH not in data else _json_text(data)
    if text is not None and text[1:2] != b"\x00":  # no BOM or NUL: json.loads would decode it as UTF-8
        if _fast_kind(text) is not None:
            return text, None  # the text is all ``_document`` uses
        doc = _json_decode(text.decode("utf-8", "surrogatepass"))  # json.loads(text), less its overhead
    elif text is not None:
        doc = json.loads(text)  # only checked: numbers beyond 4300 digits make it invalid
    else:
        doc = _loads_num(data)
    return (text, doc) if isinstance(doc, dict | list) else None


def _loads_num(data: bytes) -> object:
    """``json.loads(data, parse_int=_Num, parse_float=_Num, parse_constant=_Num)`` for a
    text that starts with "{" or "[": UTF-8 unless its second byte is NUL (UTF-16 or 32,
    which ``json.loads`` detects and decodes), then the scanner made once."""
    if data[1:2] == b"\x00":
        return json.loads(data, parse_int=_Num, parse_float=_Num, parse_constant=_Num)
    return _json_decode(data.decode("utf-8", "surrogatepass"), True)


class Json:
    name = "json"
    binary = False
    declared = False
    blob = False
    firsts = b"{[ \t\r\n\xef"  # a document, after whitespace or a BOM

    firsts_decide = True  # the walker calls no sniff

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return True

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        doc = data.lstrip(b" \t\r\n")
        if doc[:3] == _BOM:
            doc = doc[3:].lstrip(b" \t\r\n")
        if doc[:1] not in (b"{", b"["):
            return False
        try:
            parsed = _parse_json(doc)
        except RecursionError:
            w.anomaly("json-depth-exceeded")
            return False
        except (ValueError, UnicodeDecodeError) as e:
            if isinstance(e, json.JSONDecodeError) and e.msg == "Extra data" and _lines(w, doc, loc, chain, depth):
                return True
            if "json" in ctype.lower() or doc.rstrip()[-1:] in (b"}", b"]"):
                w.anomaly("json-invalid")
            return False
        if parsed is None:
            return False
        _document(w, *parsed, loc, (*chain, self.name), depth)
        return True


def _lines(w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
    """JSON Lines, each document at ``jsonl:<line number>``. All lines are parsed before
    anything is emitted, so a body that is no JSON Lines falls back whole; only a last
    line cut short (a truncated capture) is kept as text."""
    if _lines_at_once(w, data, loc, chain, depth):
        return True
    docs: list[tuple[int, tuple[bytes | None, object] | None, bytes]] = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            parsed = _parse_json(line) if line[:1] in (b"{", b"[") else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            parsed = None
        if parsed is None and number < len(lines):
            return False
        docs.append((number, parsed, line))
    if sum(parsed is not None for _, parsed, _ in docs) < 2:
        return False
    chain = (*chain, "json")
    for number, parsed, line in docs:
        where = w.join(loc, "jsonl", str(number))
        if parsed is None:
            w.anomaly("json-invalid")
            w.emit(line, where, chain[:-1])
        else:
            _document(w, *parsed, where, chain, depth)
    return True


def _lines_at_once(w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int) -> bool:
    """JSON Lines whose every line is an escape-free document (log uploads: thousands of
    lines), read as ``_lines`` reads them line by line, in a few whole-text passes: each
    line's text, every line checked at once as the elements of one array (an element per
    line, or some line is no single document), and ``_needs_walk`` asked once of the whole
    text. Same views; False (nothing emitted) leaves the body to the line-by-line reading.

    Why the answers are the same: the safe escapes and the NUL test are per byte, so the
    whole text's lines are the lines' texts; "[" + lines joined by "," + "]" is valid with
    one element per line only when each line is one JSON value (a line adds at least one
    element, so no line adds two), starting with "{" or "[": a document of that kind, as
    ``_fast_kind`` would say of it alone (nesting it would leave to the json module sends
    the whole body back to ``_lines``, which asks line by line); and none of
    ``_needs_walk``'s matches spans a line break, so asked of the whole text it says whether
    it would say yes of any line."""
    text = _json_text(data)
    if text is None or B_NUL in text:
        return False
    numbered = [(n, line) for n, line in enumerate(map(bytes.strip, text.split(b"\n")), 1) if line]
    if len(numbered) < 2 or not all(line[:1] in (b"{", b"[") for _, line in numbered):
        return False
    got = _fast_read(b"[" + b",".join([line for _, line in numbered]) + b"]", count=True)
    if got is None or got[1] != len(numbered):
        return False
    chain = (*chain, "json")
    if _needs_walk(w, text):
        for number, line in numbered:  # some line needs its walk: each asked as ``_lines`` would
            _document(w, line, None, w.join(loc, "jsonl", str(number)), chain, depth)
        return True
    prefix = f"{loc}>jsonl:" if ":" in loc else f"{loc}.jsonl:"  # ``w.join(loc, "jsonl", n)``
    for number, line in numbered:
        _whole(w, line, f"{prefix}{number}>json:", chain)
    return True


def _document(w: _Walker, text: bytes | None, doc: object, loc: str, chain: tuple[str, ...], depth: int) -> None:
    """Emit a parsed document: whole when its text holds every value verbatim and none
    decodes further, else walked."""
    if text is not None and not _needs_walk(w, text):
        _whole(w, text, f"{loc}>json:" if ":" in loc else f"{loc}.json:", chain)  # ``w.join(loc, "json", "")``
        return
    if text is not None:  # one of its strings decodes: walk (numbers as source text)
        doc = _loads_num(text)
    _walk(w, doc, w.join(loc, "json", "$"), chain, depth, 0)  # type: ignore[arg-type]


def _whole(w: _Walker, text: bytes, base: str, chain: tuple[str, ...]) -> None:
    """Emit an escape-free document as one view at ``base + "$"``, its paths computed on a hit."""
    w.emit(text, base + "$", chain, JsonLocator(text, base))


def _needs_walk(w: _Walker, text: bytes) -> bool:
    """Does any string of this escape-free JSON text decode to something more? (Outside
    strings JSON holds no '%', '=' or '&', so a search of the whole text is enough.)"""
    if B_PCT in text and PCT_RE.search(text):
        return True
    if B_AMP in text and B_EQ in text:
        for m in _JSON_FORM_RE.finditer(text):
            if FORM_RE.fullmatch(m.group(1)):
                return True
    blobs = _blob_strings(text, w.min_len)
    # each distinct string once: SDK documents repeat their ids in every event
    return bool(blobs) and any(w.blob_child(raw) is not None for raw in dict.fromkeys(blobs))


def _walk(w: _Walker, node: dict | list, path: str, chain: tuple[str, ...], depth: int, level: int) -> None:
    """Emit a JSON container's strings and numbers in document order (numbers as their
    source text); an object's keys are one view of their own (app lists are often sent
    as keys: {"com.tencent.mm": "8.0"}). The hot loop of JSON bodies: views are appended
    here directly, and their bytes charged once per container."""
    if level > w.limits.max_structure_depth:
        w.anomaly("json-depth-exceeded")
        return
    is_dict = type(node) is dict
    if is_dict:
        if not node:
            return
        w.emit("\n".join(node).encode("utf-8", "surrogatepass"), path, chain)
        items = node.items()  # type: ignore[union-attr]
    else:
        items = enumerate(node)
    min_len = w.min_len
    max_views = w.max_views
    views = w.views
    suffixes = w.key_suffixes
    used = 0
    for key, value in items:
        kind = type(value)
        if kind is bool or value is None:
            continue
        if is_dict:
            suffix = suffixes.get(key)
            if suffix is None:  # keys repeat across a document's objects
                suffix = suffixes[key] = f".{key}" if key.isascii() and key.isidentifier() else json_key("", key)
            where = path + suffix
        else:
            where = f"{path}[{key}]"
        if kind is dict or kind is list:
            _walk(w, value, where, chain, depth, level + 1)
            continue
        if not value:
            continue
        # a string or a number's text (``_Num``): typed, the encode is a direct C call, not
        # a method looked up by name (a tenth of walking an SDK event)
        raw = cast(str, value).encode("utf-8", "surrogatepass")
        kind_ = shape(raw, min_len, True) if kind is str and (len(raw) >= min_len or B_PCT in raw) else PLAIN
        if kind_ == OTHER:
            w.content(raw, where, chain, depth + 1, text=True)
            continue
        # numbers and plain text: scanned as they are (blobs too, then decoded)
        if len(views) + w.extra_views >= max_views:
            w.anomaly("views-limit")
            raise Budget
        used += len(raw)
        views.append(_new_view(View, (raw, where, chain, None)))
        if kind_ == BLOB:
            w.unblob(raw, where, chain, depth + 1)
    w.budget -= used
    if w.budget < 0:
        w.anomaly("decoded-bytes-limit")
        raise Budget


DECODER: Json = Json()
