"""The one ClientHello parser: a real hello from Python's ssl, cut at every byte."""

from __future__ import annotations

import ssl

import pytest

from consentscope.readers._tls_hello import parse_client_hello, tls_client_hello


def _real_hello(name: str) -> bytes:
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_sni_alpn_versions_and_client_random() -> None:
    record = _real_hello("api.example.net")
    hello = tls_client_hello(record)
    assert hello is not None and hello.complete
    assert hello.sni == "api.example.net" and hello.alpn == ("h2", "http/1.1")
    assert 0x0304 in hello.versions and hello.tls_version == "TLSv1.3"
    assert hello.random == record[11:43] and len(hello.random) == 32  # the key of a key-log line


def test_quic_style_partial_hello_and_tls_record_cut_at_every_byte() -> None:
    """QUIC hands the parser what CRYPTO frames gave so far: a name is reported once its
    extension is whole, never a piece of it; TLS over TCP needs the whole record."""
    record = _real_hello("cut.example.net")
    msg = record[5:]
    names = set()
    for cut in range(len(msg) + 1):
        partial = parse_client_hello(msg[:cut])
        names.add(partial.sni if partial else None)
        assert tls_client_hello(record[: 5 + cut]) is None or cut == len(msg)
    assert names == {None, "cut.example.net"}
    assert tls_client_hello(record) is not None
