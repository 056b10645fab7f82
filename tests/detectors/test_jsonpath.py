"""The lazy JSONPath of an offset equals the path a full walk gives, on generated documents."""

from __future__ import annotations

import bisect
import json
import random
import re

from consentscope.detectors._jsonpath import json_key, jsonpath_at


def walk(node: object, path: str = "$") -> list[tuple[str, str]]:
    """(path, text) of every scalar, as the decoder's full walk names them."""
    out: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out += walk(v, json_key(path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += walk(v, f"{path}[{i}]")
    elif isinstance(node, str):
        out.append((path, node))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        out.append((path, json.dumps(node)))
    return out


def random_doc(rng: random.Random, depth: int = 0) -> object:
    if depth > 3 or rng.random() < 0.3:
        # scalars unlike any key or other scalar, so the test can find each one's offset
        return rng.choice([f"v{rng.randrange(10**9)}x", 10**9 + rng.randrange(10**9), True, None])
    if rng.random() < 0.5:
        return [random_doc(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [rng.choice(["a", "b_1", "weird key", "x'y", "ok"]) + str(i) for i in range(rng.randint(0, 4))]
    return {k: random_doc(rng, depth + 1) for k in keys}


def test_every_scalar_resolves_to_its_walk_path() -> None:
    rng = random.Random(3)
    checked = 0
    for _ in range(300):
        doc = {"root": random_doc(rng), "n": [4242424242, {"m": "tail-value"}]}
        text = json.dumps(doc, separators=(rng.choice([",", ", "]), rng.choice([":", ": "])))
        data = text.encode()
        pos = 0
        for path, scalar in walk(doc):
            token = json.dumps(scalar) if not scalar.lstrip("-").isdigit() else scalar
            at = data.index(token.encode(), pos)
            pos = at + len(token)
            assert jsonpath_at(data, at + (1 if token.startswith('"') else 0)) == path
            checked += 1
    assert checked > 1000


def test_object_keys_resolve_to_their_object() -> None:
    data = b'{"apps": {"com.tencent.mm": "8.0", "com.sina.weibo": "1"}}'
    assert jsonpath_at(data, data.index(b"com.sina.weibo")) == "$.apps"
    assert jsonpath_at(data, data.index(b"apps")) == "$"


def test_locator_answers_as_the_table_in_any_order() -> None:
    """The locator reads as far as the offsets asked need; every offset, asked in increasing
    order (as the scanner does), in random order (each behind the furthest re-reads a
    block), and twice, gets the table's answer."""
    from consentscope.detectors._jsonpath import JsonLocator

    rng = random.Random(5)
    for round_ in range(60):
        doc = {"root": random_doc(rng), "n": [4242424242, {"m": "tail-value", "é k": ["ü", -1.5e3]}],
               "s,{": ["a,b]", {"k:[": "}{,", "e": {}}, [], [[]]], "": [",", ":", " , "], "z": [True, None, 0]}
        if rng.random() < 0.5:
            doc = {"w": [doc, random_doc(rng)]}
        text = json.dumps(doc, ensure_ascii=round_ % 2 == 0, separators=(rng.choice([",", ", "]), rng.choice([":", ": "])))
        data = text.encode() + (b"\n" if round_ % 3 == 0 else b"")

        expected = ["body.json:" + (jsonpath_at(data, at) or "$") for at in range(len(data) + 1)]
        locate = JsonLocator(data, "body.json:")
        offsets = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, 40)))
        assert [locate(at) for at in offsets] == [expected[at] for at in offsets]
        shuffled = list(range(len(data) + 1))
        rng.shuffle(shuffled)
        assert [locate(at) for at in shuffled] == [expected[at] for at in shuffled]
        fresh = JsonLocator(data, "body.json:")
        assert [fresh(at) for at in range(len(data) + 1)] == expected


#: The token pattern the tokenizer reads as (``_Tokens``), and the walk over its matches
#: that the locator replaced: the reference its answers are checked against.
_TOKEN_RE = re.compile(
    rb'\s*(?:("(?:[^"\\]|\\.)*")|(-?[0-9][0-9.eE+-]*)|(true|false|null|NaN|-?Infinity)|([{}\[\],:]))'
)


def reference_token_paths(data: bytes) -> list[tuple[int, int, str]] | None:
    """(start, end, path) of every token, by the pattern; None where a value of an object
    comes before any key (the reference has no path for it; the tokenizer gives the
    object's)."""
    frames: list[list] = []
    out: list[tuple[int, int, str]] = []

    def path(fs: list[list]) -> str | None:
        p = "$"
        for kind, key, _ in fs:
            if kind == "obj" and key is None:
                return None
            p = f"{p}[{key}]" if kind == "arr" else json_key(p, key)
        return p

    for m in _TOKEN_RE.finditer(data):
        g = m.lastindex or 0
        start, end = m.span(g)
        tok = m.group(g)
        at: str | None
        if g == 4:
            if tok in (b"}", b"]"):
                if frames:
                    frames.pop()
            elif tok == b",":
                if frames and frames[-1][0] == "arr":
                    frames[-1][1] += 1
                elif frames:
                    frames[-1][2] = True
            elif tok == b":" and frames:
                frames[-1][2] = False
            elif tok in (b"{", b"["):
                at = path(frames)
                if at is None:
                    return None
                out.append((start, end, at))
                frames.append(["obj", None, True] if tok == b"{" else ["arr", 0, False])
            continue
        if frames and frames[-1][0] == "obj" and frames[-1][2]:
            frames[-1][1] = tok[1:-1].decode("utf-8", "replace")
            at = path(frames[:-1])
        else:
            at = path(frames)
        if at is None:
            return None
        out.append((start, end, at))
    return out


def _mutated(rng: random.Random, data: bytes) -> bytes:
    alphabet = b'{}[],:"\\ \n\t-0123456789.eE+truefalsnNIinfyx\x00\xff'
    if rng.random() < 0.4:
        return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
    for _ in range(rng.randint(1, 3)):
        if data:
            i = rng.randrange(len(data))
            data = data[:i] + bytes([rng.choice(alphabet)]) + data[i + rng.randint(0, 1):]
    return data


def test_any_text_reads_as_the_token_pattern_reads_it() -> None:
    """Valid JSON with escapes, and text that is no JSON (cut, unpaired, garbage: never what
    the decoder hands over), get the reference's paths, at every offset, asked in order and
    shuffled."""
    from consentscope.detectors._jsonpath import JsonLocator, token_paths

    rng = random.Random(11)
    compared = 0
    for round_ in range(1500):
        doc = {"root": random_doc(rng), "esc\\aped": ["q\"uote", {"k\n": "t\tab", "u": "\u2028é"}]}
        data = json.dumps(doc, ensure_ascii=round_ % 2 == 0).encode()
        if round_ % 3:
            data = _mutated(rng, data)
        expected = reference_token_paths(data)
        if expected is None:
            continue
        assert token_paths(data) == expected, data
        locate = JsonLocator(data, "body.json:")
        starts = [t[0] for t in expected]
        offsets = list(range(-1, len(data) + 2))
        if round_ % 2:
            rng.shuffle(offsets)
        for at in offsets:
            i = bisect.bisect_right(starts, at) - 1
            want = expected[i][2] if i >= 0 and at < expected[i][1] else "$"
            assert locate(at) == "body.json:" + want, (data, at)
        compared += 1
    assert compared > 1200


def test_a_value_before_any_key_is_at_its_object() -> None:
    from consentscope.detectors._jsonpath import JsonLocator

    data = b'{: "v", "k": [2]}'
    locate = JsonLocator(data, "b:")
    assert [locate(data.index(b"v")), locate(data.index(b"2"))] == ["b:$", "b:$.k[0]"]


def test_many_hits_in_a_large_document_cost_one_pass() -> None:
    """The text is read once, in the hits' order, so hits x size never adds up (40,000 hits
    in a 700 KB document)."""
    import time

    from consentscope.detectors._jsonpath import JsonLocator

    value = b'"861234567890127"'
    data = b'{"' + b"k" * 1000 + b'": [' + b",".join([value] * 40_000) + b"]}"
    hits = [m.start() for m in re.finditer(b"8612", data)]
    locate = JsonLocator(data, "body.json:")
    t0 = time.process_time()
    got = [locate(at) for at in hits]
    assert time.process_time() - t0 < 5  # hits x size would be 40,000 x 700 KB
    key = "$." + "k" * 1000
    assert got == [f"body.json:{key}[{i}]" for i in range(40_000)]


def test_deep_nesting_is_read_without_recursion() -> None:
    from consentscope.detectors._jsonpath import JsonLocator

    data = b'{"a": ' * 50_000 + b'"x"' + b"}" * 50_000
    locate = JsonLocator(data, "b:")
    assert locate(data.index(b'"x"')) == "b:$" + ".a" * 50_000


def test_a_large_document_keeps_a_few_bytes_a_token() -> None:
    """The tokenizer keeps its state every ``BLOCK_TOKENS`` tokens, not a table of tokens:
    a hit at the end of 4 MB of numbers (2 million tokens) costs a few MB, where a table
    needed about 80 bytes a token; hits behind it read at most a block again."""
    import tracemalloc

    from consentscope.detectors._jsonpath import BLOCK_TOKENS, JsonLocator

    data = b"[" + b",".join([b"7"] * 2_000_000) + b',"861234567890127"]'
    locate = JsonLocator(data, "body.json:")
    tracemalloc.start()
    try:
        got = locate(data.index(b"8612"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == "body.json:$[2000000]"
    assert peak < 2_000_000 // BLOCK_TOKENS * 200 + 1_000_000, peak  # about 7 MB allowed; a table: 160 MB
    assert [locate(at) for at in (1, 3, 2 * 1_999_999 + 1)] == [
        "body.json:$[0]", "body.json:$[1]", "body.json:$[1999999]"]
