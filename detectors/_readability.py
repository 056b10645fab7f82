"""Whether a request's payload could be read: "not seen" is only a claim where it could.

Most SDKs that Chinese apps embed encrypt their payloads themselves (Umeng's envelope,
Tencent Beacon, Getui, JPush: AES or SM4 under RSA or SM2). The decoder then finds nothing
to open, and a scan that finds no identifier in ciphertext proves nothing. This module
classifies each request from what the decoder made of it:

- ``empty``: no body and no query string;
- ``opaque``: a body beyond ``OPAQUE_MIN_BYTES`` of which less than ``READABLE_SHARE`` (and
  fewer than ``READABLE_MIN_BYTES``) decoded to readable text: binary that no decoder knows,
  or text that is only a long base64/hex blob the decoder could not open (ciphertext sent as
  base64, alone or as the one value of a JSON or form field);
- ``truncated``: readable as far as it was scanned, but the scan stopped at a limit;
- ``readable``: the rest, and photo/video/audio uploads (binary with a known framing).

Readable bytes are counted over the body's views: printable text (UTF-8 included) outside
runs of at least ``BLOB_RUN`` base64/hex characters. A blob the decoder did open contributes
through its decoded child view, so ``{"d": base64(gzip(json))}`` is readable and
``{"d": base64(aes(…))}`` is opaque.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._record import RequestRecord
from ._sniff import ALNUM, ByteClass, all_in, long_runs
from ._view import View

#: A body this small is no evidence of encryption (a binary ping, a counter, a short token).
OPAQUE_MIN_BYTES = 64
#: Readable share of the body below which it is opaque: a JSON wrapper of a few keys around a
#: ciphertext field is ~2-5 % of the body; real API payloads are mostly readable text.
READABLE_SHARE = 0.10
#: …unless that much readable text came out whatever the share (a large upload with a form).
READABLE_MIN_BYTES = 256
#: Base64/hex runs at least this long are blobs: 64 characters hold 48 bytes, more than any
#: identifier or digest in its text form (SHA-256 hex is 64: a digest alone stays readable).
BLOB_RUN: Final = 65
#: …and only runs that look random: at least this many distinct characters among their first
#: 128 (random hex has 16, random base64 ~55; padding such as "xxxx…" or "0000…" has one).
BLOB_MIN_DISTINCT = 12

_BLOB_ALPHABET = ALNUM + b"+/=_-"
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_PRINTABLE_CLASS = ByteClass(_PRINTABLE)
#: the blob alphabet: a view of nothing else (a base64 payload no decoder opened) is one run
_BLOB_CLASS = ByteClass(_BLOB_ALPHABET)
_MEDIA_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"\x1aE\xdf\xa3", b"ID3", b"OggS")


def _is_media(body: bytes, headers: Sequence[tuple[str, str]]) -> bool:
    """By magic number (C-level, first), else by the first Content-Type."""
    if body.startswith(_MEDIA_MAGIC) or body[4:8] == b"ftyp" or (body[:4] == b"RIFF" and body[8:12] == b"WEBP"):
        return True
    for k, v in headers:
        if len(k) == 12 and k.lower() == "content-type":  # most names: no lower-cased copy
            return v.lower().startswith(("image/", "video/", "audio/"))
    return False


#: a view this long is first measured on its head (``_text_bytes``'s ``enough``)
_HEAD = 8192


def _text_bytes(data: bytes, enough: int = 0) -> int:
    """Bytes of ``data`` that read as text, outside base64/hex blobs (0 for binary); with
    ``enough``, possibly fewer, but never fewer than ``enough`` when the count reaches it:
    all ``readability`` asks. A long view (an SDK batch, 70 KB) then often needs only its
    head: without a blob run in it, every byte of the head but a run at its very end (which
    may go on to be a blob) is text of the whole."""
    if len(data) < BLOB_RUN and all_in(data, _PRINTABLE_CLASS):
        return len(data)  # too short to hold a blob, and every byte printable (0 for b"")
    if all_in(data, _BLOB_CLASS):  # one run of blob characters, as long as the view: no text
        return 0 if _random(data, 0) else len(data)
    sample = data[:4096]
    # printable bytes are 1 in the class's marks: the zeros counted are the others (C speed)
    if len(sample) - sample.translate(_PRINTABLE_CLASS.marks).count(0) < 0.85 * len(sample):
        try:
            data.decode("utf-8")  # Chinese text is not binary
        except UnicodeDecodeError:
            return 0
    if enough and len(data) > _HEAD:
        head = data[:_HEAD]
        if not _blob_runs(head):
            head_text = len(head.rstrip(_BLOB_ALPHABET))  # a run at its end may go on to be a blob
            if head_text >= enough:
                return head_text
    runs = _blob_runs(data)
    blobs = 0
    for at in range(0, len(runs), 2):
        if _random(data, runs[at]):
            blobs += runs[at + 1] - runs[at]
    return len(data) - blobs


def _blob_runs(data: bytes) -> list[int]:
    """The maximal runs of the blob alphabet at least ``BLOB_RUN`` long, as their starts and
    ends in turn (``long_runs``: text, words or JSON, is mostly read a short run in every 65
    bytes). Before: the view translated into marks, searched for 65 marks in a row, then a
    regex over the view where one was found."""
    return long_runs(data, _BLOB_CLASS.marks, BLOB_RUN)


def _random(data: bytes, start: int) -> bool:
    """Does the blob run at ``start`` look random (``BLOB_MIN_DISTINCT``), not padding?"""
    return len(set(data[start : start + 128])) >= BLOB_MIN_DISTINCT


def readability(record: RequestRecord, views: Sequence[View], body_scan_truncated: bool) -> str:
    """``readable``, ``opaque``, ``truncated`` or ``empty`` (``consentscope.model.Readability``)."""
    body = record.body
    if not body:
        return "readable" if "?" in record.path else "empty"
    if len(body) > OPAQUE_MIN_BYTES and not _is_media(body, record.headers):
        readable = 0
        for v in views:
            if v.location.startswith("body"):
                readable += _text_bytes(v.data, READABLE_MIN_BYTES - readable)
                if readable >= READABLE_MIN_BYTES:
                    break
        if readable < READABLE_MIN_BYTES and readable < READABLE_SHARE * len(body):
            return "opaque"
    return "truncated" if body_scan_truncated else "readable"


__all__ = ["BLOB_MIN_DISTINCT", "BLOB_RUN", "OPAQUE_MIN_BYTES", "READABLE_MIN_BYTES", "READABLE_SHARE", "readability"]
