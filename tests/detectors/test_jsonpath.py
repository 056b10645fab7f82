"""The lazy JSONPath of an offset equals the path a full walk gives, on generated documents."""

from __future__ import annotations

import json
import random

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


def test_locator_builds_its_table_once() -> None:
    from consentscope.detectors._jsonpath import JsonLocator

    data = json.dumps({"a": [1, {"b": "x-value"}], "c": "y-value"}).encode()
    locate = JsonLocator(data, "body.json:")
    assert locate(data.index(b"x-value")) == "body.json:$.a[1].b"
    assert locate(data.index(b"y-value")) == "body.json:$.c"
    assert locate(0) == "body.json:$"
    assert len(locate._cache) == 1
