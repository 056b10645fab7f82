"""A decoded view: some bytes of a request, where they came from and how they were uncovered."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

#: (start, end, location) of the one value that holds an offset of a view
Piece = tuple[int, int, str]


class View(NamedTuple):
    """Text to scan. ``chain`` lists the decoding steps from the raw request to ``data``,
    outermost first (``("base64", "gzip", "json")``); ``location`` is the place in the
    request (see ``Finding.location``).

    A named tuple rather than a dataclass: a request yields dozens of views and building
    them is on the per-request hot path.
    """

    data: bytes
    location: str
    chain: tuple[str, ...] = ()
    #: for a view holding a whole document (JSON) or a run of query/form pairs
    #: (``PairsLocator``): the exact location of an offset in it
    resolve: Callable[[int], str] | None = None

    def location_at(self, offset: int) -> str:
        return self.location if self.resolve is None else self.resolve(offset)

    def piece_at(self, offset: int) -> Piece | None:
        """The value holding ``offset``, which is what a match must stay inside and what
        its evidence is cut from: the whole view, except in a run of pairs, where it is
        one value (None: the offset lies in a name, which is not scanned)."""
        resolve = self.resolve
        if resolve is None:
            return 0, len(self.data), self.location
        if type(resolve) is PairsLocator:
            return resolve.piece(offset)
        return 0, len(self.data), resolve(offset)


class PairsLocator:
    """Locates an offset in a run of plain query or form pairs (``k=v&k=v``, '+' already
    a space, no '%'): the value there is at ``prefix + k`` (``url.query:imei``), a bare
    token at the prefix's own place (``url.query``). Names are not scanned: an offset in
    one has no piece. Computed only on a hit, from the separators around it."""

    __slots__ = ("data", "prefix")

    def __init__(self, data: bytes, prefix: str) -> None:
        self.data = data
        self.prefix = prefix  # "url.query:", "body.form:"…

    def __eq__(self, other: object) -> bool:  # two decodings of one request compare equal
        if not isinstance(other, PairsLocator):
            return NotImplemented
        return self.data == other.data and self.prefix == other.prefix

    def __hash__(self) -> int:
        return hash((self.data, self.prefix))

    def __call__(self, offset: int) -> str:
        piece = self.piece(offset)
        return self.prefix[:-1] if piece is None else piece[2]

    def piece(self, offset: int) -> Piece | None:
        """The value (or bare token) around ``offset``; None when ``offset`` is in a name."""
        data = self.data
        start = data.rfind(b"&", 0, offset) + 1
        end = data.find(b"&", offset)
        if end == -1:
            end = len(data)
        eq = data.find(b"=", start, end)
        if eq == -1:
            return start, end, self.prefix[:-1]
        if offset <= eq:
            return None
        return eq + 1, end, self.prefix + data[start:eq].decode("utf-8", "replace")
