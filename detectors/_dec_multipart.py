"""multipart/form-data (and any multipart/*): each part decoded on its own, by its own
Content-Type, at ``body.multipart:<name>`` (its index when it has no name)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._decode import _Walker

_BOUNDARY_RE: Final = re.compile(r'boundary=(?:"([^"]+)"|([^\s;,]+))', re.I)
_PART_NAME_RE: Final = re.compile(r'(?:^|[;\s])name=(?:"([^"]*)"|([^\s;]+))', re.I)
_PART_TYPE_RE: Final = re.compile(r"^content-type:[ \t]*([^\r\n]+)", re.I | re.M)


class Multipart:
    name = "multipart"
    binary = False
    declared = True
    blob = False
    firsts = None

    def sniff(self, w: _Walker, data: bytes, ctype: str) -> bool:
        return ctype.lower().startswith("multipart/")

    def decode(self, w: _Walker, data: bytes, loc: str, chain: tuple[str, ...], depth: int, ctype: str) -> bool:
        m = _BOUNDARY_RE.search(ctype)
        if not m:
            w.anomaly("multipart-invalid")
            return False
        parts = data.split(b"--" + (m.group(1) or m.group(2)).encode("latin-1", "replace"))
        if len(parts) < 2 or (len(parts) == 2 and not parts[1].strip()):
            w.anomaly("multipart-invalid")
            return False
        for i, part in enumerate(parts[1:]):
            if part.startswith(b"--"):
                break
            head, sep, body = part.partition(b"\r\n\r\n")
            if not sep:
                head, sep, body = part.partition(b"\n\n")
            if body.endswith(b"\r\n"):
                body = body[:-2]
            elif body.endswith(b"\n"):
                body = body[:-1]
            headers = head.decode("latin-1")
            nm = _PART_NAME_RE.search(headers)
            name = (nm.group(1) if nm.group(1) is not None else nm.group(2)) if nm else str(i)
            pt = _PART_TYPE_RE.search(headers)
            w.content(body, w.join(loc, self.name, name), chain, depth + 1, pt.group(1) if pt else "")
        return True


DECODER: Multipart = Multipart()
