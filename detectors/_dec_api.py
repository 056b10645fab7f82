"""What a decoder is, as mitmproxy's ``contentviews/_api.py`` says what a content view is.

A decoder is one small module (``_dec_gzip.py``, ``_dec_json.py``…) holding one object with

* ``name``: the step it adds to a view's encoding chain (``"gzip"``, ``"base64"``,
  ``"json"``, ``"protobuf"``), or, for a structure that only names a place (form,
  multipart), the kind used in its locations;
* ``binary``: True when it only applies to bytes not known to be text, so the walker
  never offers it a JSON string;
* ``declared``: True when it only applies under a Content-Type, so the walker skips it for
  values and bodies without one;
* ``firsts``: the bytes its input can open with (a magic number's first byte, ``{[`` and
  whitespace for JSON), or None for any: the walker offers data only to the decoders
  whose ``firsts`` hold its first byte, so most sniffs never run;
* ``sniff(walker, data, ctype)``: a cheap test (a magic number, a header); it must not
  decode, and it only sees data whose first byte is in ``firsts``; a decoder whose
  ``firsts`` are the whole test also sets ``firsts_decide = True``, and the walker then
  calls no sniff (JSON: offered a body or string about three times per typical request);
* ``decode(walker, data, loc, chain, depth, ctype)``: the bounded decode. It hands what it
  finds back to the walker (``walker.content`` for bytes to decode further,
  ``walker.emit`` / ``walker.leaf`` for views, ``walker.anomaly`` for malformed input) and
  returns True when it claimed ``data``, False when ``data`` turned out not to be its
  format; the walker then offers ``data`` to the next decoder and, when none claims it,
  scans it as it is.

A blob decoder (``blob = True``: hex, base64) decodes a whole token to another one; the
walker scans the token as it is too (an md5 in hex is a value in its own right), and asks
the blob decoders in turn (``unwrap``) for a token's child wherever a value may be a blob.

Every decoder reads its bounds from ``walker.limits``, and all budgets (views, decoded
bytes, protobuf steps) are the walker's. The list and its order are in ``_decoders.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ._decode import _Walker


class Budget(Exception):
    """Raised when the views or decoded-bytes budget of a request is spent; only the
    walker catches it (what was emitted until then is kept)."""


class Decoder(Protocol):
    # read-only members: each decoder sets them as plain class attributes
    @property
    def name(self) -> str: ...
    @property
    def binary(self) -> bool: ...
    @property
    def declared(self) -> bool: ...
    @property
    def blob(self) -> bool: ...
    @property
    def firsts(self) -> bytes | None: ...
    def __hash__(self) -> int: ...  # decoders key the walker's cached plans

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool: ...

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool: ...


class BlobDecoder(Decoder, Protocol):
    def unwrap(self, blob: bytes) -> tuple[bytes, str] | Literal[False] | None:
        """What ``blob`` (base64 / hex alphabet, stripped) decodes to and the chain step;
        None when it is this decoder's format but decodes to nothing worth a view; False
        when it is not this decoder's, and the next blob decoder is asked. One call that
        both claims and decodes: it runs for every blob-shaped JSON string (45,000 times
        in 300 corpus SDK batches), and a second call per blob cost 2 % of their decoding."""
        ...
