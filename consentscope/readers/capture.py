"""One entry for every capture format: detect by content, then hand to the right reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from consentscope.detectors import DEFAULT_LIMITS, Limits

from ._base import CaptureError, CaptureItem

if TYPE_CHECKING:
    from ._keylog import KeyLog


def read_capture(
    path: str, limits: Limits = DEFAULT_LIMITS, keylog: KeyLog | None = None,
    anomalies: dict[str, int] | None = None,
) -> Iterator[CaptureItem]:
    """Items of a mitmproxy flow file, HAR, pcap or pcapng (optionally gzip/xz/zstd
    compressed), in capture order; CaptureError after the last complete item on damage.
    ``limits`` bounds the HAR and pcap readers (``Limits``' reader fields); ``keylog``: TLS
    secrets to decrypt packet captures with (a pcapng's own secrets are read in any case).
    ``anomalies``: counts, by name, what each reader skipped or could not parse (a flow over
    the size limit, a malformed HAR entry, a packet, an HTTPDNS answer refused, TCP bytes
    evicted by the stream budget); the audit adds them to the session's anomalies."""
    from ._open import detect_format, open_maybe_compressed

    fmt = detect_format(path)
    if fmt == "mitm":
        from .flowfile import iter_flowfile

        with open_maybe_compressed(path) as fo:
            yield from iter_flowfile(path, fo, anomalies=anomalies)
    elif fmt == "har":
        from .har import iter_har

        yield from iter_har(path, limits, anomalies=anomalies)
    elif fmt in ("pcap", "pcapng"):
        from ._keylog import KeyLog
        from .pcap import iter_pcap

        yield from iter_pcap(path, limits=limits, anomalies=anomalies,
                             keylog=keylog if keylog is not None else KeyLog())
    elif fmt == "empty":
        raise CaptureError(path, "empty file", 0)
    else:
        raise CaptureError(path, "not a mitmproxy flow file, HAR, pcap or pcapng (format detected by content)", 0)
