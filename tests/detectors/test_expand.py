"""Each disguise of a value is found, with the chain that names it."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from urllib.parse import quote

import pytest

from consentscope.detectors import Identifier, Scanner, ScanProfile, View, expand, sm3
from consentscope.detectors._expand import HASHES, MIN_ENCODED_LEN, _hex_digests, _PureSm3, base64_fragments
from consentscope.detectors._sm3 import sm3_pure

IMEI = "861234567890127"
MAC = "a4:50:46:1f:2c:9e"
ANDROID_ID = "9774d56d682e549c"
OAID = "0c5a0e5c-7f2b-4a1f-9a6e-2d0f5b3c8e11"
PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"
NAME = "张伟"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    ids = (
        Identifier("imei", IMEI),
        Identifier("mac", MAC),
        Identifier("android_id", ANDROID_ID),
        Identifier("oaid", OAID),
        Identifier("phone_number", PHONE),
        Identifier("email", EMAIL),
        Identifier("real_name", NAME),
    )
    return Scanner(ScanProfile(ids))


def found(scanner: Scanner, data: bytes | str, location: str = "body") -> set[tuple[str, tuple[str, ...]]]:
    raw = data.encode() if isinstance(data, str) else data
    return {(f.data_type, f.encoding) for f in scanner.scan_views([View(raw, location)])}


def h(name: str, data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return sm3(raw) if name == "sm3" else hashlib.new(name, raw).digest()


@pytest.mark.parametrize("name", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sm3"])
def test_every_digest_in_every_rendering(scanner: Scanner, name: str) -> None:
    d = h(name, IMEI)
    hx = d.hex()
    assert found(scanner, f"id={hx}&x=1") == {("imei", (name,))}
    assert found(scanner, f"id={hx.upper()}&x=1") == {("imei", ("upper", name))}
    assert found(scanner, f"id={hx[:16]}&x=1") == {("imei", ("prefix16", name))}
    uuid = f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:32]}"
    assert found(scanner, f'"{uuid}"') == {("imei", ("uuid", name))}
    assert found(scanner, f'"{base64.b64encode(d).decode()}"') == {("imei", ("base64", f"{name}-raw"))}


def test_sm3_fallback_matches_standard_vectors() -> None:
    assert sm3_pure(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3_pure(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert sm3(b"consentscope") == sm3_pure(b"consentscope")


def test_digests_of_the_build_are_hashlib_s() -> None:
    """The build's own digest paths (constructors called directly, SM3 by copying a blank
    hash, or the pure fallback behind the same interface) give what hashlib.new gives."""
    for data in (b"", IMEI.encode(), hashlib.sha256(b"x").hexdigest().encode(), bytes(range(256)) * 3):
        assert _hex_digests(data) == [h(name, data).hex().encode() for name in HASHES]
        pure = _PureSm3()
        pure.update(data)
        assert pure.digest() == sm3_pure(data)


def _fragments_by_definition(data: bytes, alphabet: str) -> list[bytes]:
    """The characters of base64(k zero bytes + data) that ``data`` alone decides, for k in 0-2."""
    encode = base64.b64encode if alphabet == "std" else base64.urlsafe_b64encode
    out = []
    for k in range(3):
        frag = encode(b"\0" * k + data)[(8 * k + 5) // 6 : (8 * (k + len(data))) // 6]
        if len(frag) >= MIN_ENCODED_LEN and frag not in out:
            out.append(frag)
    return out


def test_base64_fragments_are_the_characters_data_alone_decides() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 70)))
        if rng.random() < 0.2:  # zeros: equal fragments at two alignments
            data = bytes(len(data))
        for alphabet in ("std", "url"):
            assert base64_fragments(data, alphabet) == _fragments_by_definition(data, alphabet), data


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"{\"a\":1,\"imei\":\""])
def test_base64_inside_longer_base64_at_every_alignment(scanner: Scanner, prefix: bytes) -> None:
    blob = base64.b64encode(prefix + IMEI.encode() + b'","os":"android"}')
    assert ("imei", ("base64",)) in found(scanner, b"payload=" + blob)


def test_base64_variants(scanner: Scanner) -> None:
    raw = IMEI.encode()
    assert found(scanner, base64.b64encode(raw)) == {("imei", ("base64",))}
    assert found(scanner, base64.b64encode(raw).rstrip(b"=")) == {("imei", ("base64",))}
    # a value whose base64 differs between the two alphabets
    token = "~~~>>>???~~~"
    assert b"+" in base64.b64encode(token.encode())
    s = Scanner(ScanProfile((Identifier("token", token),)))
    url = base64.urlsafe_b64encode(token.encode())
    assert found(s, b"t=" + url) == {("token", ("base64url",))}
    assert found(s, b"t=" + base64.b64encode(token.encode())) == {("token", ("base64",))}
    assert len(base64_fragments(token.encode(), "url")) == 3


def test_hex_urlencode_json_escape(scanner: Scanner) -> None:
    assert found(scanner, IMEI.encode().hex()) == {("imei", ("hex",))}
    assert found(scanner, "e=" + quote(EMAIL, safe="")) == {("email", ("urlencode",))}
    assert found(scanner, json.dumps(NAME)) == {("real_name", ("json-escape",))}
    assert found(scanner, quote(NAME)) == {("real_name", ("urlencode",))}


def test_value_spellings(scanner: Scanner) -> None:
    assert found(scanner, "m=A4:50:46:1F:2C:9E;") == {("mac", ("upper",))}
    assert found(scanner, "m=a450461f2c9e;") == {("mac", ("nosep",))}
    assert found(scanner, "m=A4-50-46-1F-2C-9E;") == {("mac", ("upper", "dash"))}
    assert found(scanner, "o=0C5A0E5C7F2B4A1F9A6E2D0F5B3C8E11;") == {("oaid", ("upper", "nosep"))}
    assert found(scanner, "tel=+8613812345678&") == {("phone_number", ("cc+86",))}
    assert found(scanner, "tel=008613812345678&") == {("phone_number", ("cc0086",))}
    assert found(scanner, "tel=138-1234-5678&") == {("phone_number", ("dashed",))}
    assert found(scanner, "tel=138 1234 5678&") == {("phone_number", ("spaced",))}
    assert found(scanner, "E=ZHANG.WEI@EXAMPLE.COM") == {("email", ("upper",))}


def test_chains(scanner: Scanner) -> None:
    md5_of_sha1 = hashlib.md5(hashlib.sha1(IMEI.encode()).hexdigest().encode()).hexdigest()
    assert found(scanner, md5_of_sha1) == {("imei", ("md5", "sha1"))}
    b64_of_md5_hex = base64.b64encode(hashlib.md5(IMEI.encode()).hexdigest().encode()).decode()
    assert found(scanner, f'"{b64_of_md5_hex}"') == {("imei", ("base64", "md5"))}
    mac_upper = MAC.replace(":", "").upper()
    assert found(scanner, hashlib.sha256(mac_upper.encode()).hexdigest()) == {
        ("mac", ("sha256", "upper", "nosep"))
    }
    md5_of_upper_md5 = hashlib.md5(hashlib.md5(ANDROID_ID.encode()).hexdigest().upper().encode()).hexdigest()
    assert found(scanner, md5_of_upper_md5) == {("android_id", ("md5", "upper", "md5"))}
    triple = IMEI.encode()
    for _ in range(3):
        triple = hashlib.md5(triple).hexdigest().encode()
    assert found(scanner, triple) == {("imei", ("md5", "md5", "md5"))}


def test_chain_depth_is_configurable() -> None:
    ids = (Identifier("imei", IMEI),)
    md5_of_sha1 = hashlib.md5(hashlib.sha1(IMEI.encode()).hexdigest().encode()).hexdigest().encode()
    shallow = Scanner(ScanProfile(ids), max_chain_depth=1)
    deep = Scanner(ScanProfile(ids), max_chain_depth=2)
    assert not shallow.scan_views([View(md5_of_sha1, "body")])
    assert deep.scan_views([View(md5_of_sha1, "body")])
    assert len(expand(ids, 1)) < len(expand(ids, 2)) < len(expand(ids, 3))
    assert len(expand(ids, 0)) == 1


def test_numbers_inside_longer_runs_are_not_matches(scanner: Scanner) -> None:
    assert found(scanner, "n=9" + IMEI + "1") == set()
    assert found(scanner, "n=a" + IMEI) == set()
    assert found(scanner, "h=00" + ANDROID_ID + "ff") == set()
    md5 = hashlib.md5(IMEI.encode()).hexdigest()
    assert found(scanner, "h=" + md5 + "0") == set()
    assert found(scanner, "n=" + IMEI + "&") == {("imei", ())}


def test_look_alike_values_are_told_apart_in_base64() -> None:
    """A Wi-Fi and a Bluetooth MAC differ in their last digit only; their base64 fragments
    coincide, the decoded text does not."""
    s = Scanner(ScanProfile((Identifier("mac", "a4:50:46:1f:2c:9e"), Identifier("bluetooth_mac", "a4:50:46:1f:2c:9f"))))
    for prefix in (b"", b"x", b"xy"):
        blob = base64.b64encode(prefix + b"a4:50:46:1f:2c:9e" + b"|os=android")
        assert {f.data_type for f in s.scan_views([View(b"d=" + blob, "body")])} == {"mac"}


def test_base64_of_a_short_chinese_name() -> None:
    s = Scanner(ScanProfile((Identifier("real_name", NAME),)))
    assert found(s, b'{"n":"' + base64.b64encode(NAME.encode()) + b'"}') == {("real_name", ("base64",))}
