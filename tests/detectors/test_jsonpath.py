"""The lazy JSONPath of an offset equals the path a full walk gives, on generated documents."""

from __future__ import annotations

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
    """The locator walks lazily as far as asked; every offset, asked in increasing order
    (as the scanner does), in random order, and twice, gets the table's answer."""
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
        if b"\\" not in data:  # escape-free, as the decoder gives it: read from the brackets, no token table
            assert locate._table is None and fresh._table is None


def test_locator_of_escaped_or_unpaired_text_uses_the_table() -> None:
    """Quotes tell strings apart only without escapes, brackets only when they pair: other
    text (never what the decoder gives the locator) gets the token table's answers."""
    from consentscope.detectors._jsonpath import JsonLocator

    for data in (b'{"a\\/b": 1, "c": ["x\\"y", 2]}', b'{"a": [1, 2}', b'{"a": "b"]', b'{"a": "b}'):
        locate = JsonLocator(data, "body.json:")
        got = [locate(at) for at in range(-1, len(data) + 2)]
        assert locate._table is not None
        assert got == ["body.json:" + (jsonpath_at(data, at) or "$") for at in range(-1, len(data) + 2)]


def test_many_hits_in_a_large_document_cost_one_table() -> None:
    """Each hit's counting may span the document; past ``DIRECT_BYTES`` the token table
    answers (one pass), so hits x size stays bounded, with the same answers."""
    import time

    from consentscope.detectors._jsonpath import DIRECT_BYTES, JsonLocator

    value = b'"861234567890127"'
    data = b'{"' + b"k" * 1000 + b'": [' + b",".join([value] * 40_000) + b"]}"
    hits = [m.start() for m in re.finditer(b"8612", data)]
    locate = JsonLocator(data, "body.json:")
    t0 = time.process_time()
    got = [locate(at) for at in hits]
    assert time.process_time() - t0 < 5  # hits x size would be 40,000 x 700 KB
    assert locate._table is not None and locate._spent > DIRECT_BYTES
    key = "$." + "k" * 1000
    assert got[0] == f"body.json:{key}[0]" and got[-1] == f"body.json:{key}[39999]"
    assert [got[i] for i in (1, 2)] == ["body.json:" + (jsonpath_at(data, hits[i]) or "$") for i in (1, 2)]
