"""Host regular expressions from imported lists: split, made safe, anchored, and sampled.

Exodus writes a tracker's network signature as one search-style regular expression
(``ads\\.mopub\\.com|[a-z]+\\.odd-(cdn|api)\\.net``). Plain domains among its alternatives
become suffix rules; the real expressions become ``regex`` rules, which the index matches
against the whole host (``fullmatch``). Every regex rule needs an example host it matches
(the shipped data's rule, checked on load), so one is built from the expression itself.

An imported file is not ours: an expression is only accepted from a small, safe subset
(literals, escapes, ``.``, character classes, groups with alternatives, simple
quantifiers; no quantified groups, look-arounds or back-references), so no imported row
can make a lookup backtrack for long.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: Longest alternative accepted (real signatures are far shorter).
MAX_PATTERN = 200
#: What a host may hold before the expression when it is not anchored with ``^``.
_SUBDOMAINS = r"(?:[a-z0-9_-]+\.)*"
_QUANT = re.compile(r"\*|\+|\?|\{(\d{1,3})(?:,(\d{0,3}))?\}")


class UnsafePattern(ValueError):
    pass


def _structure(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth before it) of each character that is syntax: not
    escaped and not inside a character class."""
    depth, in_class, i = 0, False, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        else:
            yield i, c, depth
            depth += c == "("
            depth -= c == ")" and depth > 0
        i += 1


def alternatives(signature: str) -> list[str]:
    """Top-level ``|`` alternatives (not those inside a group or a character class)."""
    cuts = [i for i, c, depth in _structure(signature) if c == "|" and depth == 0]
    parts = [signature[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(signature)], strict=True)]
    return [p.strip() for p in parts if p.strip()]


def _class(pattern: str, i: int) -> tuple[str, int]:
    """A ``[...]`` class at ``pattern[i]``: one character it accepts, and the index after it."""
    j = i + 1
    if pattern[j:j + 1] == "^":
        raise UnsafePattern("negated character class")
    members = ""
    while j < len(pattern) and (pattern[j] != "]" or not members):
        if pattern[j] == "\\":
            members += {"d": "1", "w": "a"}.get(pattern[j + 1:j + 2], pattern[j + 1:j + 2])
            j += 2
        else:
            members += pattern[j]
            j += 1
    if j >= len(pattern):
        raise UnsafePattern("unclosed character class")
    return members[0], j + 1


def _group_end(pattern: str, i: int) -> int:
    """Index of the ``)`` closing the group that opens at ``pattern[i]``."""
    for j, c, depth in _structure(pattern, i):
        if c == ")" and depth == 1:
            return j
    raise UnsafePattern("unbalanced parentheses")


def sample(pattern: str) -> str:
    """One string the (anchor-free) expression matches, or UnsafePattern."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        group = False
        if c == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt.isalnum() and nxt not in "dw":
                raise UnsafePattern(f"escape \\{nxt}")
            piece, i = {"d": "1", "w": "a"}.get(nxt, nxt), i + 2
        elif c == ".":
            piece, i = "a", i + 1
        elif c == "[":
            piece, i = _class(pattern, i)
        elif c == "(":
            end = _group_end(pattern, i)
            inner = pattern[i + 1:end]
            if inner.startswith("?"):
                if not inner.startswith("?:"):
                    raise UnsafePattern("look-around or named group")
                inner = inner[2:]
            piece, i, group = sample(alternatives(inner)[0] if inner else ""), end + 1, True
        elif c in "^$|)*+?{":
            raise UnsafePattern(f"{c!r} where it cannot be sampled")
        else:
            piece, i = c, i + 1
        m = _QUANT.match(pattern, i)
        if m:
            if group:
                raise UnsafePattern("quantified group")
            low = int(m.group(1)) if m.group(1) else 1
            piece *= max(low, 1)
            i = m.end()
            if pattern[i:i + 1] in ("?", "+"):  # lazy or possessive
                i += 1
        out.append(piece)
    return "".join(out)


def host_regex(part: str) -> tuple[str, str]:
    """A search-style alternative as (fullmatch pattern for hosts, example host), or
    UnsafePattern saying why it is not accepted."""
    if len(part) > MAX_PATTERN:
        raise UnsafePattern("too long")
    core = part.removesuffix("$")
    anchored = core.startswith("^")
    core = core.removeprefix("^")
    if not anchored and core.startswith(".*"):
        core = core[2:].removeprefix("\\.")  # "anything before" is what _SUBDOMAINS says
    example = sample(core).lower()
    pattern = core if anchored else _SUBDOMAINS + core
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise UnsafePattern(f"bad regular expression: {e}") from None
    if not rx.fullmatch(example):
        raise UnsafePattern("no example host could be built")
    return pattern, example
