"""What the detectors report: a data type found at a place in a request, in a disguise."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data found in one request.

    ``encoding`` is the whole disguise, outermost first: the decoding steps that uncovered
    the text (``base64``, ``gzip``, ``json``…) followed by the transforms applied to the
    profile value (``md5``, ``upper``…). ``location`` names the place like Zeek's
    ``Intel::Seen$where``: ``url.query:imei``, ``header:X-Device``, ``cookie:uid``,
    ``body.json:$.header.imei``, ``body.form:data``, ``body``.
    """

    data_type: str
    encoding: tuple[str, ...]
    location: str
    evidence: str
    detail: str = ""
    #: where the matched text stands in ``evidence`` (characters), for highlighting
    match: tuple[int, int] = (0, 0)
    #: how the value was recognised: ``"profile"`` (a value the profile names, in some
    #: disguise) or ``"pattern"`` (a validated shape: a Luhn-valid IMEI, an ID number with
    #: its check digit…, ``_patterns.py``), found without the value being written down
    confidence: str = "profile"

    def __post_init__(self) -> None:
        if not self.data_type:
            raise ValueError("Finding needs a data_type")
        if not isinstance(self.encoding, tuple):
            object.__setattr__(self, "encoding", tuple(self.encoding))


_set = object.__setattr__
#: each frozen dataclass's field names in order, as ``built`` sets them
_FIELDS: dict[type, tuple[str, ...]] = {}


def built(cls: type[_T], *values: object) -> _T:
    """``cls(*values)`` for a frozen slots dataclass, every field given in order: the fields
    set as its own ``__init__`` sets them (``object.__setattr__``, past the frozen guard),
    without that ``__init__`` and its checks, which run interpreted (a frozen dataclass is
    no native class to mypyc): 1.1 µs a ``Finding`` against 1.5-2 µs, on the scanner's
    path, where the values are valid by construction. (A ``zip`` of names and values made
    it as slow as the ``__init__``.)"""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    if len(values) != len(names):
        raise TypeError(f"{cls.__name__} has {len(names)} fields, {len(values)} given")
    obj = cls.__new__(cls)
    for i, name in enumerate(names):
        _set(obj, name, values[i])
    return obj


def profile_finding(
    data_type: str, encoding: tuple[str, ...], location: str, evidence: str, match: tuple[int, int]
) -> Finding:
    """``Finding(data_type, encoding, location, evidence, match=match)`` for the scanner's
    hit loop, whose arguments are valid by construction (a profile's data type, a tuple),
    through ``built`` (a twentieth of scanning an SDK batch of events went to ``__init__``)."""
    return built(Finding, data_type, encoding, location, evidence, "", match, "profile")
