"""Speed work on the profile build must not change what it builds: the needle list (every
field of every needle, in order), the gate and list entries, and the matcher's tables
(automaton keys in order with their entries, the hex-anchor table) of three fixed
profiles equal what the implementation gave before that work (issue 15), as digests.

A change that means to alter the build (a new encoding, another anchor rule) updates the
digests, and says so in its commit: ``python tests/detectors/test_build_equivalence.py``
prints the current ones.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from corpus import full_profile_toml  # benchmarks/corpus.py

from consentscope.detectors import GeoPoint, Identifier, Scanner, ScanProfile
from consentscope.detectors._expand import Needle
from consentscope.detectors._match import Entry
from consentscope.profile import load_profile

NEEDLE_FIELDS = ("text", "data_type", "chain", "case_sensitive", "boundary", "prefix16", "source")
ENTRY_FIELDS = ("kind", "index", "text", "lower", "case_sensitive", "boundary", "prefix16")


def full_profile() -> ScanProfile:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.toml"
        path.write_text(full_profile_toml(), encoding="utf-8")
        return load_profile(path).scan_profile()


def small_profile() -> ScanProfile:
    return ScanProfile((Identifier("imei", "861234567890127"), Identifier("android_id", "9774d56d682e549c")))


def odd_profile() -> ScanProfile:
    """Every variant path: non-ASCII (short and long), short values, phones in several
    spellings and one that is no mobile number, a MAC and a UUID with and without
    separators and one malformed, upper-case values, a location, apps and contacts."""
    ids = (
        Identifier("real_name", "李"),
        Identifier("real_name", "Zoë Müller-Lüdenscheidt"),
        Identifier("device_name", "小米的 Redmi Note 11"),
        Identifier("account_name", "ab1"),
        Identifier("ssid", "Café-Wi-Fi 5G"),
        Identifier("phone_number", "+86 138-1234-5678"),
        Identifier("phone_number", "0086 13912345678"),
        Identifier("phone_number", "021-6123 4567"),
        Identifier("contact_phone", "8613700002222"),
        Identifier("mac", "A4-50-46-1F-2C-9E"),
        Identifier("bssid", "a45046:1f2c9f"),
        Identifier("bluetooth_mac", "not-a-mac"),
        Identifier("oaid", "0C5A0E5C7F2B4A1F9A6E2D0F5B3C8E11"),
        Identifier("idfa", "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
        Identifier("gaid", "zz-not-a-uuid"),
        Identifier("imei", " 861234567890127 "),
        Identifier("bank_card", "6222 0212 3456 7890 128"),
        Identifier("email", "Zhang.Wei@Example.COM"),
        Identifier("serial", "R58M41ABCDE"),
        Identifier("custom", 'a "quoted" \\ value/with?query=1&x'),
    )
    return ScanProfile(
        ids,
        GeoPoint(31.2304, 121.4737, 500),
        ("com.tencent.mm", "com.eg.android.AlipayGphone", "com.Example.UPPER_app"),
        ("13900001111", "+86 137 0000 2222", "李雷", "Han Meimei", "010-12345678"),
    )


def _fields(obj: object, names: tuple[str, ...]) -> str:
    return repr((type(obj).__name__, *(getattr(obj, n) for n in names)))


def build_digests(profile: ScanProfile, **kw: object) -> dict[str, str]:
    """Digests of what ``Scanner(profile)`` builds: needles, gates and list members, the
    matcher's tables, and the key list given to the automaton."""
    scanner = Scanner(profile, **kw)  # type: ignore[arg-type]
    m = scanner._matcher

    def table(t: dict) -> str:
        return repr([(k, [_fields(e, ENTRY_FIELDS) for e in v], type(v).__name__) for k, v in t.items()])

    parts = {
        "needles": repr([_fields(n, NEEDLE_FIELDS) for n in scanner.needles]),
        "lists": repr((scanner._gate_axis, scanner._item_owner, scanner._list_sizes, m.size)),
        "hex": table(m._hex),
        "hex_bytes": repr([(k, [_fields(e, ENTRY_FIELDS) for e in v]) for k, v in m._hex_bytes.items()]),
        "automaton": table(m._automaton),
        "entries": repr([[_fields(e, ENTRY_FIELDS) for e in v] for v in m._entries]),
    }
    return {k: hashlib.sha256(v.encode("utf-8", "surrogatepass")).hexdigest()[:24] for k, v in parts.items()}


PROFILES = {"full": full_profile, "small": small_profile, "odd": odd_profile}

#: written by the implementation before the build's speed work (main at 8193e2a), with its
#: one hash-seed-dependent step (the two percent-encodings of a text, taken from a set) in
#: a fixed order, quote before quote_plus: main's needles under any seed are these,
#: with at most such a pair swapped
EXPECTED: dict[str, dict[str, str]] = {
    "full": {
        "automaton": "77863f26055fe1416f6aa484",
        "entries": "bc76fa2f5f8eda7602016a3e",
        "hex": "318107e651c049a53972fc1b",
        "hex_bytes": "d3de28d45bad00d7ba832f84",
        "lists": "8dc9cef20dd9dd3f1ade8279",
        "needles": "3147dd9eee356a4d9d45afe5",
    },
    "odd": {
        "automaton": "4751cc5c8467fa386e94362b",
        "entries": "4fd6425e6c6677769b8dd4b7",
        "hex": "2c589201c3d7193b48ef012d",
        "hex_bytes": "25887d650f7b00a7e6474be8",
        "lists": "67a5b5f802b79cec9621897e",
        "needles": "33221de0cc1584b46b32034b",
    },
    "odd@0": {
        "automaton": "235e40ccb53f4ee11ef93bc9",
        "entries": "55499a64f9cd8a5f47125a39",
        "hex": "56a5d5dbb21bd1746398ba39",
        "hex_bytes": "a6a373e6d47b149ad3907bb8",
        "lists": "62b6407bd35141a21ec33eb9",
        "needles": "c0f9590bf5d2d04c9aebffb5",
    },
    "odd@1": {
        "automaton": "0d970e8b54bdb8c4cc5a30cf",
        "entries": "57cbd91cb8ab6ac42dba92db",
        "hex": "aa00e1e90854c6961008f495",
        "hex_bytes": "97f56a71bbf3760b1bb630e5",
        "lists": "badd7efd556a0e80d9687aac",
        "needles": "e7f5effbf83ad6c639633890",
    },
    "odd@2": {
        "automaton": "5c1f887021d025bbdeb5ae85",
        "entries": "f25141de2ce9c0c776324c5e",
        "hex": "06485ff0573d68bb7ed232a3",
        "hex_bytes": "43522b63fe45414beb0202af",
        "lists": "96b004e0c6537d42adc50491",
        "needles": "d4963d1176434f785807c108",
    },
    "small": {
        "automaton": "3c69fce30f0654c0465f890b",
        "entries": "ad07041dae4de7b9820549f5",
        "hex": "549b78f2e0a2be680fc7f7a7",
        "hex_bytes": "0e64cd5334996be3524cce48",
        "lists": "bfae2026e824dc0c4626d98b",
        "needles": "25a50e6bed00274b25d97651",
    },
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_build_equals_reference(name: str) -> None:
    assert build_digests(PROFILES[name]()) == EXPECTED[name]


def test_fast_automaton_builds_the_same_tables() -> None:
    assert build_digests(odd_profile(), fast_automaton=True) == EXPECTED["odd"]


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_shallower_chains_equal_reference(depth: int) -> None:
    assert build_digests(odd_profile(), max_chain_depth=depth) == EXPECTED[f"odd@{depth}"]


def test_types_the_scan_reads() -> None:
    """Needles are made without their dataclass ``__init__``: they are still exactly what
    it makes (type, every field, equality, hash), and the field list above is the
    dataclass's own, so a new field fails here until the build sets it. Entries (a plain
    class) hold what their ``__init__`` takes, field by field."""
    assert tuple(f.name for f in fields(Needle)) == NEEDLE_FIELDS
    slots = getattr(Entry, "__slots__", None)  # compiled, a native class keeps no __slots__
    assert slots is None or sorted(slots) == sorted(ENTRY_FIELDS)
    scanner = Scanner(odd_profile())
    for n in scanner.needles:
        assert type(n) is Needle
        made = Needle(*(getattr(n, f) for f in NEEDLE_FIELDS))
        assert made == n and hash(made) == hash(n)
    m = scanner._matcher
    groups = (*m._hex_bytes.values(), *m._entries)
    assert all(type(g) is tuple for g in groups)
    for e in (e for g in groups for e in g):
        assert type(e) is Entry
        made_e = Entry(*(getattr(e, f) for f in ENTRY_FIELDS))
        assert _fields(made_e, ENTRY_FIELDS) == _fields(e, ENTRY_FIELDS)
    with pytest.raises(FrozenInstanceError):
        scanner.needles[0].text = b"x"  # type: ignore[misc]


def current() -> dict[str, dict[str, str]]:
    out = {name: build_digests(make()) for name, make in PROFILES.items()}
    for depth in (0, 1, 2):
        out[f"odd@{depth}"] = build_digests(odd_profile(), max_chain_depth=depth)
    return out


if __name__ == "__main__":
    import pprint

    pprint.pprint(current(), width=120)
