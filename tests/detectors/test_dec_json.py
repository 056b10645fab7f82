"""JSON and JSON Lines (``_dec_json.py``): paths, numbers as sent, keys as a view, the
whole-text view located on a hit, and invalid or deep documents named and still scanned."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentscope.detectors import decode_request
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
])
def test_simdjson_shortcut_edges(text: bytes) -> None:
    """Where the two parsers differ (NaN, huge numbers, encoded surrogates, integers past the
    json module's digit limit, a byte-order mark, deep nesting), the json module's answer is
    the one used."""
    _assert_simdjson_only_shortcuts(text)
    if b"7" * 5000 in text or text.startswith(b"\xef\xbb\xbf"):  # the json module refuses these
        assert _fast_kind(text) is None and _stdlib_outcome(text)[0] == "error"


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
    """Nesting past the shortcut's rounds goes to the json module, whatever simdjson would say;
    brackets inside strings do not count, and shallow documents with many brackets take the shortcut."""
    from consentscope.detectors._dec_json import _FAST_DEPTH, _shallow

    deep = b"[" * (_FAST_DEPTH + 1) + b"]" * (_FAST_DEPTH + 1)
    assert not _shallow(deep) and _fast_kind(deep) is None
    assert _shallow(b"[" * (_FAST_DEPTH // 2) + b"]" * (_FAST_DEPTH // 2))
    alternating = b"{[" * (_FAST_DEPTH // 2) + b"]}" * (_FAST_DEPTH // 2)  # two levels a round
    assert _shallow(alternating) and not _shallow(b"[{" + alternating + b"}]")
    wide = json.dumps([{"a": [1, {"b": "[[[{{{"}]} for _ in range(400)]).encode()
    assert _shallow(wide) and _fast_kind(wide) == "array"
    assert not _shallow(b'[{"a":1]}') and _fast_kind(b"[" * 300 + b"}" * 300) is None
