"""Registrable domains from the Public Suffix List snapshot that tldextract ships.

tldextract stays the source of the list, but importing it imports ``requests``,
``urllib3`` and ``filelock`` at module level: about 0.12 s of a 0.14 s import of
``consentscope.destination``, on the serial start of every replay, batch worker and
live detector, though we only ever use its bundled snapshot offline. This module finds
that file without importing tldextract (``importlib.util.find_spec``), reads it once, on
the first lookup, and answers exactly as
``tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)`` with its default settings:
the ICANN section only (``include_psl_private_domains=False``), wildcard (``*.ck``) and
exception (``!www.ck``) rules walked as tldextract's ``_PublicSuffixListTLDExtractor``
walks its trie, ``xn--`` labels decoded with ``idna`` for matching as its
``_decode_punycode`` does, and the host taken out of a URL-like string as its
``lenient_netloc`` does. ``tests/test_psl.py`` holds it to tldextract's answers. Without
a readable snapshot, tldextract itself answers (imported then, on the first lookup).
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

__all__ = ["SNAPSHOT_NAME", "registrable_domain", "snapshot_path"]

#: The snapshot's file name inside the tldextract package (the same since tldextract 2).
SNAPSHOT_NAME = ".tld_set_snapshot"

#: Largest snapshot read: the list was 0.32 MB in 2025 and grows by a few kB a year; a
#: larger file is not the list, and tldextract is asked instead.
MAX_SNAPSHOT_BYTES = 8 << 20

# As tldextract's suffix_list.py: the ICANN section is the text before this line, and a
# rule is what starts a line with an optional run of ``.*!`` then a word character.
_PRIVATE_SEPARATOR = "// ===BEGIN PRIVATE DOMAINS==="
_RULE_RE = re.compile(r"^(?P<suffix>[.*!]*\w[\S]*)", re.UNICODE | re.MULTILINE)

# urllib.parse.scheme_chars, which tldextract's lenient_netloc uses to tell a scheme.
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+-.")
# Dots IDNA counts as label separators; tldextract strips them at the end and splits on them.
_DOTS = ".\u3002\uff0e\uff61"


#: A trie node: the next labels of rules, read from the right; the key None marks a rule's end.
_Trie = dict[str | None, "_Trie"]


class _Rules:
    """The ICANN rules as a trie of reversed labels, and its depth (labels of the longest rule).

    The root's subtries are built on the first lookup under their top-level label: a session
    meets a few dozen of the list's 1,450, and building all of them takes 7-8 ms, as long as
    reading, parsing and grouping the file by top-level label. Subtries are built whole
    before they are put in the root, so that threads only ever see complete ones.
    """

    __slots__ = ("_pending", "depth", "root")

    def __init__(self, rules: set[str]) -> None:
        self.root: _Trie = {}
        self.depth = max(rule.count(".") for rule in rules) + 1
        self._pending: dict[str, list[str]] = {}
        for rule in rules:
            self._pending.setdefault(rule.rpartition(".")[2], []).append(rule)
        # Rules of one label starting with "*" or "!" would be read as the root's wildcard
        # or exception for any top-level label: none are in the list, but built now all the same.
        for top in [t for t in self._pending if t[:1] in ("*", "!")]:
            self.build(top)

    def build(self, top: str) -> None:
        """Put the subtrie of the rules under the top-level label ``top`` in the root."""
        rules = self._pending.get(top)
        if rules is None:
            return
        sub: _Trie = {}
        for rule in rules:
            node = sub
            for label in reversed(rule.split(".")[:-1]):
                child = node.get(label)
                if child is None:
                    child = node[label] = {}
                node = child
            node[None] = {}
        self.root.setdefault(top, sub)
        self._pending.pop(top, None)


def snapshot_path() -> Path | None:
    """Where the installed tldextract keeps its snapshot, found without importing it."""
    try:
        spec = find_spec("tldextract")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or ()) if spec is not None else ():
        path = Path(folder) / SNAPSHOT_NAME
        if path.is_file():
            return path
    return None


def _parse(text: str) -> _Rules | None:
    public, _, _ = text.partition(_PRIVATE_SEPARATOR)
    rules = set(_RULE_RE.findall(public))
    return _Rules(rules) if rules else None


@lru_cache(maxsize=1)
def _rules() -> _Rules | None:
    """The snapshot's ICANN rules, read once; None when no usable snapshot is found."""
    path = snapshot_path()
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SNAPSHOT_BYTES + 1)
        if len(data) > MAX_SNAPSHOT_BYTES:
            return None
        return _parse(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=1)
def _tldextract() -> Any:
    """tldextract itself on its snapshot, when ours cannot be read."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _netloc(url: str) -> str:
    """The host part of a URL-like string, as tldextract's ``lenient_netloc`` takes it."""
    if "/" not in url and "?" not in url and "#" not in url and "@" not in url and ":" not in url and "[" not in url:
        return url.strip().rstrip(_DOTS)  # a bare host, as normalize_host gives them
    start = url.find("//")
    if start == 0:
        url = url[2:]
    elif start >= 2 and url[start - 1] == ":" and not set(url[: start - 1]) - _SCHEME_CHARS:
        url = url[start + 2 :]
    authority = url.partition("/")[0].partition("?")[0].partition("#")[0]
    host = authority.rpartition("@")[2]
    if host[:1] == "[":
        before, bracket, _ = host.partition("]")
        if bracket:
            return before + "]"
    return host.partition(":")[0].strip().rstrip(_DOTS)


@lru_cache(maxsize=4096)
def _decode_punycode(lowered: str) -> str:
    """An ``xn--`` label as the rules are written, as tldextract's ``_decode_punycode`` does."""
    import idna  # a tldextract dependency; only hosts with an xn-- label pay its import

    try:
        return idna.decode(lowered)
    except (UnicodeError, IndexError):
        return lowered


def _suffix_index(root: _Trie, labels: list[str]) -> int | None:
    """Index of the public suffix's first label, walked from the right as tldextract does."""
    node = root
    suffix_idx = label_idx = len(labels)
    for label in reversed(labels):
        key = label.lower()
        if key.startswith("xn--"):
            key = _decode_punycode(key)
        child = node.get(key)
        if child is not None:
            label_idx -= 1
            node = child
            if None in node:
                suffix_idx = label_idx
            continue
        if "*" in node:
            return label_idx if "!" + key in node else label_idx - 1
        break
    return None if suffix_idx == len(labels) else suffix_idx


def registrable_domain(url: str) -> str:
    """The registrable domain (eTLD+1, ICANN section) of a host or URL, or ``""``.

    ``""`` when the host has no public suffix, or is one: IPs, ``localhost``, ``gov.cn``.
    The answer is tldextract's ``domain + "." + suffix`` for the same string.
    """
    rules = _rules()
    if rules is None:
        ext = _tldextract()(url)
        return f"{ext.domain}.{ext.suffix}" if ext.domain and ext.suffix else ""
    netloc = _netloc(url)
    if not netloc.isascii():
        netloc = netloc.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    # A suffix has at most depth labels (a wildcard's included) and the domain is one more:
    # the labels left of those stay one piece, whatever their number. A bracketed IPv6
    # literal, which tldextract sets apart, ends in "]", as no rule does: no suffix either.
    labels = netloc.rsplit(".", rules.depth + 1)
    top = labels[-1].lower()
    if top.startswith("xn--"):
        top = _decode_punycode(top)
    if top not in rules.root:
        rules.build(top)
    idx = _suffix_index(rules.root, labels)
    if not idx:
        return ""
    suffix = ".".join(labels[idx:])
    domain = labels[idx - 1]
    return f"{domain}.{suffix}" if domain and suffix else ""
