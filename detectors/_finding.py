"""What the detectors report: a data type found at a place in a request, in a disguise."""

from __future__ import annotations

from dataclasses import dataclass


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


_new_finding = Finding.__new__
_set = object.__setattr__


def profile_finding(
    data_type: str, encoding: tuple[str, ...], location: str, evidence: str, match: tuple[int, int]
) -> Finding:
    """``Finding(data_type, encoding, location, evidence, match=match)`` for the scanner's
    hit loop, whose arguments are valid by construction (a profile's data type, a tuple):
    the fields set as the dataclass's own ``__init__`` sets them, without that ``__init__``
    and its check, which run interpreted (a frozen dataclass is no native class to mypyc;
    2 µs a finding, a twentieth of scanning an SDK batch of events)."""
    finding = _new_finding(Finding)
    _set(finding, "data_type", data_type)
    _set(finding, "encoding", encoding)
    _set(finding, "location", location)
    _set(finding, "evidence", evidence)
    _set(finding, "detail", "")
    _set(finding, "match", match)
    _set(finding, "confidence", "profile")
    return finding
