"""The decoder list (``_decoders.py``): one explicit list, in its documented order, each
entry a decoder as ``_dec_api.py`` defines it, naming a step every chain may hold."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import consentscope.detectors as detectors
from consentscope.detectors import _dec_protobuf
from consentscope.detectors._decoders import BLOB_DECODERS, DECODERS
from tests.detectors.helpers import STEPS


def test_the_list_in_its_order() -> None:
    assert [d.name for d in DECODERS] == [
        "gzip", "zstd", "zlib", "json", "multipart", "grpc", "protobuf", "form", "hex", "base64", "urlencode",
        "protobuf", "deflate",
    ]  # fmt: skip
    assert DECODERS.index(_dec_protobuf.DECLARED) < DECODERS.index(_dec_protobuf.SNIFFED)
    assert [d.name for d in BLOB_DECODERS] == ["hex", "base64"]


def test_each_decoder_has_the_api() -> None:
    for d in DECODERS:
        assert isinstance(d.name, str) and d.name
        assert isinstance(d.binary, bool) and isinstance(d.declared, bool) and isinstance(d.blob, bool)
        assert d.firsts is None or (isinstance(d.firsts, bytes) and d.firsts)
        assert callable(d.sniff) and callable(d.decode)
        if d.blob:
            assert callable(d.unwrap)  # type: ignore[attr-defined]
    # steps that join a chain are the ones a chain may hold; the rest name places
    assert {d.name for d in DECODERS} - STEPS == {"multipart", "grpc", "form"}


def test_every_decoder_module_is_in_the_list() -> None:
    """No discovery by name: a ``_dec_*.py`` module left out of the list is a mistake."""
    listed = {type(d).__module__ for d in DECODERS}
    modules = {
        f"{detectors.__name__}.{m.name}"
        for m in pkgutil.iter_modules([str(Path(detectors.__file__).parent)])
        if m.name.startswith("_dec_") and m.name != "_dec_api"
    }
    assert modules == listed
    for name in modules:
        importlib.import_module(name)


def test_blob_decoders_pass_on_what_is_not_theirs() -> None:
    hex_, base64_ = BLOB_DECODERS
    assert hex_.unwrap(b"QUJDREVGR0hJSktMTU5PUA") is False  # base64: asked next
    assert hex_.unwrap(b"9dd4e461268c8034f5c8564e155c67a6") is None  # md5(b"x"): hex's, no child
    assert hex_.unwrap(b"6869") == (b"hi", "hex")
    assert base64_.unwrap(b"QUJDREVGR0hJSktMTU5PUA") == (b"ABCDEFGHIJKLMNOP", "base64")
    assert base64_.unwrap(b"0123456789abcdef") is None  # hex digits are never base64
