"""The decoders, in the order the walker offers them a piece of data: the one list.

Adding a decoder is adding its module (see ``_dec_api.py`` for what it holds) and one line
here. The order is part of the behaviour, cheapest and surest first:

* compressed streams by magic number, whatever the headers said;
* JSON / JSON Lines by their first byte;
* what a Content-Type declares (multipart, gRPC, protobuf), skipped without one;
* a form (declared, or sniffed: two or more name-like ``k=v`` pairs);
* hex, then base64 blobs (the token is scanned as it is AND decoded);
* percent-encoded text;
* last, on binary nothing claimed: protobuf without a Content-Type (strict enough to be
  its own sniff), then raw DEFLATE (no magic at all).

Protobuf is listed twice: declared, it is tried before the text decoders; sniffed, after
them, only on binary. Whatever no decoder claims is scanned as it is (the raw view is
never lost, not even when a decoder fails).
"""

from __future__ import annotations

from typing import Final

from . import (
    _dec_base64,
    _dec_deflate,
    _dec_form,
    _dec_grpc,
    _dec_gzip,
    _dec_hex,
    _dec_json,
    _dec_multipart,
    _dec_protobuf,
    _dec_urlencode,
    _dec_zlib,
    _dec_zstd,
)
from ._dec_api import BlobDecoder, Decoder

DECODERS: Final[tuple[Decoder, ...]] = (
    _dec_gzip.DECODER,
    _dec_zstd.DECODER,
    _dec_zlib.DECODER,
    _dec_json.DECODER,
    _dec_multipart.DECODER,
    _dec_grpc.DECODER,
    _dec_protobuf.DECLARED,
    _dec_form.DECODER,
    _dec_hex.DECODER,
    _dec_base64.DECODER,
    _dec_urlencode.DECODER,
    _dec_protobuf.SNIFFED,
    _dec_deflate.DECODER,
)

#: The blob decoders, in list order: who unwraps a token that may be a blob.
BLOB_DECODERS: Final[tuple[BlobDecoder, ...]] = tuple(d for d in DECODERS if d.blob)  # type: ignore[misc]
