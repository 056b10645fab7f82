"""JSON and JSON Lines (``_dec_json.py``): paths, numbers as sent, keys as a view, the
whole-text view located on a hit, and invalid or deep documents named and still scanned."""

from __future__ import annotations

import base64
import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import _dec_json, decode_request
from consentscope.detectors._dec_json import _fast_kind, _json_decode
from tests.detectors.helpers import IMEI, found, imei_json, rec, rows

JSON_BODY = (
    b'{"header":{"imei":"861234567890127","n":861234567890127,"lat":39.908712,"v":1.50},'
    b'"apps":{"com.tencent.mm":"8.0.40","com.eg.android.AlipayGphone":"10.5"},'
    b'"list":[{"weird key":"x-marker"},"ok"],"f":[true,false,null]'
)


@pytest.mark.parametrize("tail", [b"}", b',"esc":"say \\"hi\\""}'], ids=["whole", "walked"])
def test_json_paths_numbers_as_sent_and_keys(tail: bytes) -> None:
    d = decode_request(rec(body=JSON_BODY + tail, headers=[("Content-Type", "application/json")]))
    assert found(d) == [("body.json:$.header.imei", ("json",)), ("body.json:$.header.n", ("json",))]
    assert found(d, b"39.908712") == [("body.json:$.header.lat", ("json",))]
    assert found(d, b"1.50") == [("body.json:$.header.v", ("json",))]
    assert found(d, b"com.eg.android.AlipayGphone") == [("body.json:$.apps", ("json",))]
    assert found(d, b"x-marker") == [("body.json:$.list[0]['weird key']", ("json",))]
    assert d.anomalies == ()


def test_walked_json_views_one_per_leaf_and_keys_no_literals() -> None:
    d = decode_request(rec(body=JSON_BODY + b',"esc":"say \\"hi\\""}'))
    body = [(loc, data) for loc, chain, data in rows(d) if loc.startswith("body")]
    assert ("body.json:$.apps", b"com.tencent.mm\ncom.eg.android.AlipayGphone") in body
    assert ("body.json:$.esc", b'say "hi"') in body
    assert ("body.json:$.header.v", b"1.50") in body
    assert not any(data in (b"true", b"True", b"false", b"False", b"null", b"None") for _, data in body)


def test_json_without_escapes_is_one_view_located_on_a_hit() -> None:
    # org.json escapes every "/" and Gson "=", "<"...: neither hides a value, so the text stays whole
    for body in (b'{"url":"https:\\/\\/a.cn\\/x","imei":"861234567890127"}',
                 b'{"t":"a\\u003cb\\u003d","imei":"861234567890127"}'):  # fmt: skip
        d = decode_request(rec(body=body))
        (view,) = [v for v in d.views if v.location.startswith("body")]
        assert view.location == "body.json:$" and view.resolve is not None and b"\\" not in view.data
        assert found(d) == [("body.json:$.imei", ("json",))]


def test_json_string_after_a_long_number_is_still_decoded() -> None:
    blob = base64.b64encode(imei_json()).decode()
    body = json.dumps(["a", 12345678901234567890, blob], separators=(",", ":")).encode()
    assert found(rec(body=body)) == [("body.json:$[2]>json:$.imei", ("json", "base64", "json"))]


def test_json_lines_one_document_per_line() -> None:
    blob = base64.b64encode(imei_json()).decode()
    lines = [json.dumps({"e": "open", "imei": IMEI.decode()}), "", json.dumps({"e": "tick", "d": blob})]
    body = "\n".join(lines).encode() + b"\n"
    d = decode_request(rec(body=body))
    assert found(d) == [
        ("body.jsonl:1>json:$.imei", ("json",)),
        ("body.jsonl:3>json:$.d>json:$.imei", ("json", "base64", "json")),
    ]
    assert d.anomalies == ()
    d = decode_request(rec(body=body + b'{"e":"cut","imei":"861234567890127"', truncated=True))
    assert found(d)[-1] == ("body.jsonl:4", ()) and d.anomalies == ("body-incomplete", "json-invalid")


def test_invalid_and_deep_json_are_named_and_still_scanned() -> None:
    d = decode_request(rec(body=b'{"imei":"861234567890127",}', headers=[("Content-Type", "application/json")]))
    assert d.anomalies == ("json-invalid",) and found(d) == [("body", ())]
    d = decode_request(rec(body=b"[" * 100_000 + IMEI + b"]" * 100_000))
    assert "json-depth-exceeded" in d.anomalies and found(d) == [("body", ())]


def test_json_decode_is_the_decoders_decode() -> None:
    """``_json_decode`` calls the scanner directly: same documents, same errors."""
    def outcome(decode, text: str) -> tuple:  # type: ignore[no-untyped-def]
        try:
            return ("ok", decode(text))
        except json.JSONDecodeError as e:
            return ("error", e.msg, e.pos)

    for text in ["{}", "[1,2]", ' {"a":1} ', '{"a":1}{"b":2}', '{"a":1}\n{"b":2}\n', "", "x", "{", "[1,]", "  ",
                 '"s"', "1 2", '{"a": 1}  \n', "[NaN]", '{"a":"\\u00e9"}']:
        assert outcome(_json_decode, text) == outcome(json.JSONDecoder().decode, text), text


def test_numbers_as_text_decode_is_json_loads_with_the_hooks() -> None:
    """``_loads_num`` (the scanner made once) reads what ``json.loads(data, parse_int=_Num,
    parse_float=_Num, parse_constant=_Num)`` reads: the same documents with the same types
    (numbers as their text), the same errors; UTF-16 and 32 included."""
    from consentscope.detectors._jsonnum import _Num

    def outcome(decode, data: bytes) -> tuple:  # type: ignore[no-untyped-def]
        try:
            doc = decode(data)
        except json.JSONDecodeError as e:
            return ("error", e.msg, e.pos)
        except UnicodeDecodeError as e:
            return ("undecodable", e.reason)

        def typed(node: object) -> object:
            if isinstance(node, dict):
                return {k: typed(v) for k, v in node.items()}
            if isinstance(node, list):
                return [typed(v) for v in node]
            return (type(node).__name__, node)

        return ("ok", typed(doc))

    def reference(data: bytes) -> object:
        return json.loads(data, parse_int=_Num, parse_float=_Num, parse_constant=_Num)

    texts = [b"{}", b"[1,2.5,-3e4]", b'{"a":1} ', b'{"a":1}{"b":2}', b"{", b"[1,]", b'[NaN, Infinity, -Infinity]',
             b'{"a":"\\u00e9","b":[true,false,null]}', b'{"a":"\xff"}', b'["\xed\xa0\x80"]', b"[1] \n\t",
             '{"a": 1, "b": "中"}'.encode("utf-16-le"), '[1, 2]'.encode("utf-32-le"), b"[" + b"9" * 5000 + b"]"]
    for data in texts:
        assert outcome(_dec_json._loads_num, data) == outcome(reference, data), data


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=20,
)


def _kind(doc: object) -> str:
    """What the JSON decoder asks of a document: an object, an array, or neither (a bare
    number reads as an int in one parser and a float in the other; both are "neither")."""
    return "object" if isinstance(doc, dict) else "array" if isinstance(doc, list) else "neither"


def _stdlib_outcome(text: bytes) -> tuple:  # type: ignore[type-arg]
    try:
        doc = _json_decode(text.decode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        return ("error", type(e).__name__)
    return ("ok", _kind(doc))


def _assert_simdjson_only_shortcuts(text: bytes) -> None:
    kind = _fast_kind(text)
    if kind is not None:  # what simdjson reads, the json module reads, as a document of the same kind
        assert _stdlib_outcome(text) == ("ok", kind), text


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES, st.binary(max_size=4), st.integers(0, 200), st.sampled_from(["insert", "cut", "none"]))
def test_simdjson_reads_only_what_the_json_module_reads(value: object, junk: bytes, at: int, how: str) -> None:
    """``_fast_kind`` is a shortcut, never a second opinion: on documents and on damaged
    ones (bytes put in, text cut short) it answers only where the json module answers the same."""
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if how == "insert":
        text = text[:at] + junk + text[at:]
    elif how == "cut":
        text = text[:at]
    _assert_simdjson_only_shortcuts(text)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.binary(max_size=4), st.integers(0, 4400), st.sampled_from(["insert", "cut", "append", "none"]))
def test_simdjson_reads_only_what_the_json_module_reads_long(value: object, junk: bytes, at: int, how: str) -> None:
    """The same of texts past 4 KB, which simdjson reads inside ``_FAST_DEPTH`` objects."""
    text = json.dumps([{"pad": "p" * 4200}, value], ensure_ascii=False).encode("utf-8", "surrogatepass")
    if how == "insert":
        text = text[:at] + junk + text[at:]
    elif how == "cut":
        text = text[:at]
    elif how == "append":
        text += junk
    _assert_simdjson_only_shortcuts(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_simdjson_shortcut_on_raw_bytes(text: bytes) -> None:
    _assert_simdjson_only_shortcuts(b"[" + text + b"]")
    _assert_simdjson_only_shortcuts(b"{" + text)


@pytest.mark.parametrize("text", [
    b"[NaN]", b"[Infinity]", b"[1e400]", b'["\xed\xa0\x80"]', b'["\\ud800"]', b"[123456789012345678901234567890]",
    b"[" + b"7" * 5000 + b"]", b'{"a":"' + b"9" * 5000 + b'"}', b"[" * 2000 + b"]" * 2000, b'{"a":1} ',
    b"[1] x", b'["a\nb"]', b'["\xc0\x80"]', b"[-0]", b"[1.5e3]", b"-9223372036854775809", b"1e400",
    b"\xef\xbb\xbf{}", b"[" * 1024 + b"]" * 1024, b"[" * 1025 + b"]" * 1025, b"[18446744073709551616]",
    b"[-9223372036854775809]", b"[1e-400]", b"{}\x00", b"[1,]", b"[01]",
    b"[-" + b"7" * 5000 + b"]", b"[0." + b"1" * 5000 + b"]", b"[1" + b"0" * 5000 + b".5]", b"[1e" + b"9" * 5000 + b"]",
    b'{"n":' + b"7" * 700 + b"}",
])
def test_simdjson_shortcut_edges(text: bytes) -> None:
    """Where the two parsers differ (NaN, huge numbers, encoded surrogates, integers past the
    json module's digit limit, a byte-order mark, deep nesting), the json module's answer is
    the one used."""
    _assert_simdjson_only_shortcuts(text)
    if b"7" * 5000 in text or text.startswith(b"\xef\xbb\xbf"):  # the json module refuses these
        assert _fast_kind(text) is None and _stdlib_outcome(text)[0] == "error"


def test_integers_past_the_lowest_digit_limit_are_left_to_the_json_module() -> None:
    """The json module refuses integers longer than ``sys.get_int_max_str_digits`` (640 at the
    least); simdjson refuses every integer over 64 bits, so the shortcut never reads one."""
    import sys

    saved = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        for text in (b"[" + b"7" * 641 + b"]", b'{"a":[1,-' + b"9" * 641 + b"]}", b"[" + b"1" * 21 + b"]"):
            assert _fast_kind(text) is None
        assert _stdlib_outcome(b"[" + b"7" * 641 + b"]")[0] == "error"
        assert _fast_kind(b"[" + b"7" * 19 + b", 0." + b"1" * 700 + b"]") == "array"  # a long fraction is a float
    finally:
        sys.set_int_max_str_digits(saved)


def test_simdjson_parser_is_one_per_thread() -> None:
    """A parser holds one document at a time: threads (batch tasks may run in threads) each
    get their own, and every answer is the one a single thread gives."""
    import threading

    texts = [json.dumps({"k": list(range(i % 50)), "s": "x" * i}).encode() for i in range(400)] + [b"[1,]", b"[NaN]"]
    expected = [_fast_kind(t) for t in texts]
    got: list[list[str | None]] = []

    def work() -> None:
        got.append([_fast_kind(t) for t in texts * 5][: len(texts)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [expected] * 4 and expected[:400] == ["object"] * 400 and expected[400:] == [None, None]


def test_deep_documents_are_left_to_the_json_module() -> None:
    """Nesting past ``_FAST_DEPTH`` goes to the json module, whatever simdjson would say;
    brackets inside strings do not count, and shallow documents with many brackets take
    the shortcut. A long text is read inside ``_FAST_DEPTH`` objects, so it must be one
    value and nothing after it but whitespace, as alone."""
    from consentscope.detectors._dec_json import _FAST_DEPTH, _fast_read

    def nest(levels: int, pair: bytes = b"[]") -> bytes:
        return pair[:1] * levels + pair[1:] * levels

    for pair in (b"[]", b'{"a":}'):
        at_limit = nest(_FAST_DEPTH, pair) if pair == b"[]" else b'{"a":' * (_FAST_DEPTH - 1) + b"{}" + b"}" * (
            _FAST_DEPTH - 1)
        assert _fast_kind(at_limit) is not None and _stdlib_outcome(at_limit)[0] == "ok"
    deep = nest(_FAST_DEPTH + 1)
    assert _fast_kind(deep) is None and _fast_kind(b"{" + b'"a":' + deep + b"}") is None
    alternating = b"{[" * (_FAST_DEPTH // 2) + b"]}" * (_FAST_DEPTH // 2)
    assert _fast_kind(alternating) is None  # "{[" alone is no JSON: refused at every depth
    strings = json.dumps([{"a": [1, {"b": "[[[{{{" * 300}]} for _ in range(400)]).encode()
    assert _fast_kind(strings) == "array" and _fast_read(strings, count=True) == ("array", 400)
    long_tail = b'{"a":"' + b"x" * 2000 + b'"}'
    assert _fast_kind(long_tail + b" \n") == "object"
    for bad in (long_tail + b",{}", long_tail + b" x", long_tail + b"}", b"[" + b"1," * 600 + b"1],[2]"):
        assert _fast_kind(bad) is None and _stdlib_outcome(bad)[0] == "error"
    assert _fast_kind(b"[" * 300 + b"}" * 300) is None


# -- JSON Lines read at once (``_lines_at_once``) gives what the line-by-line reading gives


def _views(body: bytes, truncated: bool = False) -> tuple:  # type: ignore[type-arg]
    d = decode_request(rec(body=body, truncated=truncated))
    return tuple((v.data, v.location, v.chain, type(v.resolve).__name__) for v in d.views), d.anomalies


def _both(body: bytes, truncated: bool = False) -> tuple[tuple, tuple]:  # type: ignore[type-arg]
    """(at once, line by line): the second with the whole-text reading switched off."""
    fast = _views(body, truncated)
    saved = _dec_json._lines_at_once
    _dec_json._lines_at_once = lambda *args: False  # the reference: ``_lines`` as it reads alone
    try:
        slow = _views(body, truncated)
    finally:
        _dec_json._lines_at_once = saved
    return fast, slow


_B64_IMEI = base64.b64encode(b'{"imei":"861234567890127"}').decode()
_LINE_PARTS = st.one_of(
    st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
    st.sampled_from([
        "861234567890127", _B64_IMEI, "0123456789abcdef0123456789abcdef", "1f8b0800", "a%20b", "k=v&x=y",
        "https://a.cn/x", "张伟", "say \"hi\"", "tab\there", "x" * 70,
    ]),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x9FFF, blacklist_characters='"\\'), max_size=12),
    st.text(max_size=6),
)
_DOCS = st.recursive(_LINE_PARTS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=6), inner, max_size=4), max_leaves=12).filter(lambda d: isinstance(d, dict | list))
_JUNK_LINES = [b"", b"   ", b"{}, {}", b"[1] [2]", b"plain text", b'{"cut":', b"{\x00}", b"[" * 600 + b"]" * 600,
               b'{"n":' + b"9" * 5000 + b"}", b'{"u":"\\u5f20"}', b'{"s":"a\\/b\\u003d"}', b"\r", b"{}\r"]


@pytest.mark.interpreted
@settings(max_examples=300, deadline=None)
@given(st.lists(_DOCS.map(lambda d: json.dumps(d, ensure_ascii=len(str(d)) % 5 == 0).encode()), min_size=1,
                max_size=8),
       st.none() | st.tuples(st.integers(0, 8), st.sampled_from(_JUNK_LINES)),
       st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.booleans())
def test_json_lines_at_once_equal_line_by_line(
    lines: list[bytes], junk: tuple[int, bytes] | None, sep: bytes, tail: bool, cut: bool
) -> None:
    if junk is not None:
        lines.insert(junk[0], junk[1])
    body = sep.join(lines) + (sep if tail else b"")
    fast, slow = _both(body, cut)
    assert fast == slow


@pytest.mark.interpreted
@pytest.mark.parametrize("lines", [
    [b'{"a":1}', b'{"imei":"861234567890127","sid":"0123456789abcdef0123456789abcdef"}', b"[1,2]"],
    [b'{"a":1}', b"", b'{"d":"' + _B64_IMEI.encode() + b'"}'],  # one line needs its walk: all read alone
    [b'{"a":"x\\/y"}', b'{"b":"\\u003d861234567890127"}'],  # safe escapes undone, as line by line
    [b'{"a":1}', b"{}, {}"],  # a line of two documents: not JSON Lines, either way
    [b'{"a":1}', b'{"imei":"861234567890127"'],  # the last line cut short: line by line keeps it as text
])
def test_json_lines_at_once_cases(lines: list[bytes]) -> None:
    fast, slow = _both(b"\n".join(lines))
    assert fast == slow


@pytest.mark.interpreted
def test_json_lines_at_once_is_taken_for_plain_logs() -> None:
    body = b"\n".join(json.dumps({"e": i, "imei": IMEI.decode() if i == 7 else "x"}).encode() for i in range(50))
    calls = []
    saved = _dec_json._lines_at_once
    _dec_json._lines_at_once = lambda *a: calls.append(saved(*a)) or calls[-1]
    try:
        assert found(rec(body=body)) == [("body.jsonl:8>json:$.imei", ("json",))]
    finally:
        _dec_json._lines_at_once = saved
    assert calls == [True]


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=160).map(lambda b: bytes(b'"=aZ09+/_-,: {}\x00\xff'[x % 17] for x in b)), st.integers(1, 20))
def test_blob_strings_as_the_plain_pattern(text: bytes, min_len: int) -> None:
    """The compiled pass finds what the plain pattern finds, in the same order (strings
    that share a quote, runs at either end of the text, too many "=" included)."""
    plain = re.compile(rb'"([A-Za-z0-9+/_-]{%d,}={0,2})"' % min_len)
    assert _dec_json._blob_strings(text, min_len) == plain.findall(text)


def test_blob_strings_of_long_texts() -> None:
    """Long runs of ids and digests, as an SDK batch holds them, and quotes shared by two strings."""
    rng = random.Random(8)
    plain = re.compile(rb'"([A-Za-z0-9+/_-]{16,}={0,2})"')
    pieces = [b'"' + bytes(rng.choice(b"0123456789abcdefXYZ+/_-") for _ in range(rng.randint(1, 70))) + b'"'
              for _ in range(50)] + [b":", b",", b"=", b"==", b'"', b" ", b"{", b"}"]
    for _ in range(300):
        text = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 200)))
        assert _dec_json._blob_strings(text, 16) == plain.findall(text), text
