"""Cheap tests on bytes that several decoders and the walker share: is it text, is it a
blob's alphabet, what does a value look like before any sniff runs, and %XX decoding.

Character classes are checked with ``bytes.translate`` (``all_in``): on short tokens it
is several times faster than a regex fullmatch.

The sample windows below are part of what a sniff means, not budgets: each test reads a
fixed number of bytes whatever the input's size, so none of them needs a ``Limits`` field
(changing one would change which input is taken for what, not how much work one request
costs).
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from mypy_extensions import i64  # compiled: machine integers; interpreted: never evaluated

#: Bytes of a body ``is_text`` samples: bodies can be megabytes, and text or binary shows
#: in the first few hundred bytes.
TEXT_SAMPLE: Final = 512

HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
HEXISH: Final = HEX_DIGITS + b"-"  # md5, UUIDs, digits: values in their own right, never base64
ALNUM: Final = bytes(c for c in range(128) if chr(c).isalnum())
B64_STD: Final = ALNUM + b"+/"
B64_URL: Final = ALNUM + b"-_"
BLOBISH: Final = ALNUM + b"+/=_-\r\n"  # base64, hex, and base64 wrapped in lines
#: what a blob (base64, hex) may open with, whitespace around it included
BLOB_FIRSTS: Final = ALNUM + b"+/-_ \t\r\n"
PCT_RE: Final = re.compile(rb"%[0-9a-fA-F]{2}")
FORM_KEY: Final = rb"[A-Za-z0-9_.\-\[\]%*]{1,64}"
#: a form sniffed without a Content-Type: two or more k=v pairs, name-like keys, no spaces
FORM_RE: Final = re.compile(FORM_KEY + rb"=[^&\s]*(?:&" + FORM_KEY + rb"=[^&\s]*)+&?")
_CTRL: Final = bytes(range(9)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"


class ByteClass:
    """A set of byte values, for ``all_in``."""

    __slots__ = ("marks", "members")

    def __init__(self, members: bytes) -> None:
        self.members = members
        #: each member byte as 1, every other as 0
        self.marks = bytes(1 if c in members else 0 for c in range(256))


#: below this length ``all_in`` maps through the marks; from it on it deletes the members
_MARKS_BELOW: Final = 256
#: …after a look at this many bytes of its head
_HEAD_BYTES: Final = 64


def all_in(data: bytes, cls: ByteClass) -> bool:
    """Is every byte of ``data`` in ``cls`` (true of b"")? A short value through the
    class's marks, then a search for a 0 (50-80 ns up to 64 bytes); a long one by deleting
    the members (``translate(None, members)`` builds its table on every call, 150-170 ns
    on short values, but runs faster per byte), after its head through the marks: most
    long values asked are not of the class (a binary body asked whether it is base64),
    and their head says so without a pass over the whole."""
    if len(data) < _MARKS_BELOW:
        return B_NUL not in data.translate(cls.marks)
    if B_NUL in data[:_HEAD_BYTES].translate(cls.marks):
        return False
    return not data.translate(None, cls.members)


HEX_CLASS: Final = ByteClass(HEX_DIGITS)
HEXISH_CLASS: Final = ByteClass(HEXISH)
B64_STD_CLASS: Final = ByteClass(B64_STD)
B64_URL_CLASS: Final = ByteClass(B64_URL)
BLOBISH_CLASS: Final = ByteClass(BLOBISH)
#: every byte but the C0 controls other than tab and newlines, and DEL: what never stands
#: in printable UTF-8 text (they are never part of a multi-byte character)
_NOT_CONTROL: Final = ByteClass(bytes(c for c in range(256) if c not in _CTRL))

#: CPython's C decoder of backslash escapes (undocumented: ``unquote`` falls back to urllib without it)
_escape_decode = getattr(codecs, "escape_decode", None)

#: Single bytes as ints, for ``B_PCT in data``: CPython 3.11 first tries a ``bytes`` needle
#: (``b"%" in data``) as an int and formats the TypeError it then drops, 410 ns a test
#: against 38 ns for an int; about a tenth of a typical request's scan went there.
B_PCT: Final = 0x25  # %
B_PLUS: Final = 0x2B  # +
B_EQ: Final = 0x3D  # =
B_AMP: Final = 0x26  # &
B_BSLASH: Final = 0x5C  # backslash
B_NL: Final = 0x0A
B_NUL: Final = 0x00

#: What a value looks like to the sniffs (``shape``)
PLAIN: Final = 0  # nothing to decode: scanned as it is
BLOB: Final = 1  # base64 / hex alphabet only: scanned as it is, and tried as a blob
OTHER: Final = 2  # anything else: through every decoder (``_Walker.content``)


def shape(value: bytes, min_len: int, text: bool = False) -> int:
    """Sort a value before the sniffs run: most are short tokens or plain words, and
    skipping the decoder list for them is most of the decoding speed. ``text``: known text."""
    if B_PCT in value:
        return OTHER
    if len(value) < min_len:
        return PLAIN
    if value[:1] in (b"{", b"[") or (B_EQ in value and B_AMP in value):
        return OTHER
    if all_in(value, BLOBISH_CLASS):
        return BLOB
    return PLAIN if text or is_text(value) else OTHER


def is_text(data: bytes) -> bool:
    """Mostly printable UTF-8, at most one control character in 20 (sampled: bodies can
    be large)."""
    sample = data[:TEXT_SAMPLE]
    if not sample:
        return False
    if sample.isascii():
        return (len(sample) - len(sample.translate(None, _CTRL))) * 20 <= len(sample)
    text = sample.decode("utf-8", "replace")  # no exception: raising one costs more than this test
    if len(data) > len(sample):
        text = text.rstrip("\ufffd")  # a character cut by the sample's end
    if not text or "\ufffd" in text:
        return False
    if text.isprintable():
        return True
    bad = sum(1 for ch in text if not ch.isprintable() and ch not in "\t\n\r")
    return bad * 20 <= len(text)


def all_printable(data: bytes) -> bool:
    """Entirely printable UTF-8 (tab and newlines allowed): a protobuf string, not a
    nested message, whose tag and length bytes are control characters (looked for first:
    they rule a message out without decoding it)."""
    if not all_in(data, _NOT_CONTROL):
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.isprintable() or text.replace("\t", "").replace("\n", "").replace("\r", "").isprintable()


def long_runs(data: bytes, members: bytes, least: int, opener: int = -1, ends: bool = True) -> list[int]:
    """The maximal runs of ``data`` at least ``least`` (1 or more) long of the bytes that
    ``members`` marks (``members[c]`` true): their starts and ends in turn, or with ``ends``
    false their starts only; with an ``opener`` byte, only the runs right after one. Found
    by one compiled pass that skips: a run of ``least`` starting anywhere in ``i .. i +
    least - 1`` holds the byte at ``i + least - 1``, so where that byte is no member, the
    places before it are passed over unread; where it is one, only its own run is read.
    Where long runs are rare, most bytes are never read: hex run starts in typical requests
    2.6x faster than a translation into marks searched by an automaton, JSON blob strings
    3.3x faster than a regex trying every quote (SDK batches). Only what is asked for is
    kept: each number kept is an object, and keeping both ends of every hex run of an SDK
    batch made its pass 1.5x slower."""
    out: list[int] = []
    n: i64 = len(data)
    width: i64 = max(least, 1)
    before: i64 = opener
    i: i64 = 0  # runs before i are found; data[i - 1], if any, is no member
    while i + width <= n:
        p: i64 = i + width - 1
        if not members[data[p]]:
            i = p + 1
            continue
        start: i64 = p  # the run that holds p starts at i or later (data[i - 1] is no member)
        while start > i and members[data[start - 1]]:
            start -= 1
        end: i64 = p + 1
        while end < n and members[data[end]]:
            end += 1
        if end - start >= width and (before < 0 or (start > 0 and data[start - 1] == before)):
            out.append(start)
            if ends:
                out.append(end)
        i = end + 1  # data[end] is no member (or end is the end of data)
    return out


def is_hex(blob: bytes) -> bool:
    return bool(blob) and not len(blob) & 1 and all_in(blob, HEX_CLASS)


def b64_alphabet(blob: bytes) -> int:
    """0: not base64; 1: standard alphabet; 2: URL-safe ('-' or '_'). Padding optional."""
    core = blob.rstrip(b"=")
    if not core or len(blob) - len(core) > 2:
        return 0
    if all_in(core, B64_STD_CLASS):
        return 1
    return 2 if all_in(core, B64_URL_CLASS) else 0


def sbytes(s: str) -> bytes:
    """Header or URL text back to its bytes: readers decode them as latin-1 (byte exact),
    HAR gives Unicode. Never raises."""
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape")  # undoes a reader's surrogateescape decoding
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def unquote(b: bytes) -> bytes:
    """%XX decoding, as ``unquote_to_bytes``. urllib's is a Python loop over the escapes;
    ``codecs.escape_decode`` does the same in C once every '%' is a "\\x" (backslashes
    doubled first), and it refuses the whole text when an escape is invalid (``%zz``)."""
    if _escape_decode is not None:
        try:
            return _escape_decode(b.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
        except ValueError:
            pass
    return unquote_to_bytes(b)


def unquote_plus(b: bytes) -> bytes:
    """Form decoding; most values hold no escapes, and urllib's decoder is slow Python."""
    if B_PLUS in b:
        b = b.replace(b"+", b" ")
    return unquote(b) if B_PCT in b else b
