"""Sans-IO detection core: a request record and a compiled profile in, findings out.

Nothing in this package touches mitmproxy, files, sockets or databases; every source
(live addon, flow file, HAR, pcap) hands it a ``RequestRecord``.
"""

from ._adapters import BUILTIN_ADAPTERS, GROWINGIO, Adapter
from ._decode import DecodedRequest, decode_request
from ._expand import DEFAULT_CHAIN_DEPTH, HASHES, Identifier, Needle, base_variants, expand
from ._finding import Finding
from ._limits import DEFAULT_LIMITS, MAX_BODY_SCAN_BYTES, SCAN_GC_THRESHOLD, Limits
from ._location import GeoPoint
from ._patterns import PATTERN
from ._record import RequestRecord
from ._scan import CONTACTS_MIN, INSTALLED_APPS_MIN, DeferredScanner, Scanner, ScanProfile, ScanResult
from ._sm3 import sm3
from ._view import View

__all__ = [
    "BUILTIN_ADAPTERS",
    "CONTACTS_MIN",
    "DEFAULT_CHAIN_DEPTH",
    "DEFAULT_LIMITS",
    "GROWINGIO",
    "HASHES",
    "INSTALLED_APPS_MIN",
    "MAX_BODY_SCAN_BYTES",
    "PATTERN",
    "SCAN_GC_THRESHOLD",
    "Adapter",
    "DecodedRequest",
    "DeferredScanner",
    "Finding",
    "GeoPoint",
    "Identifier",
    "Limits",
    "Needle",
    "RequestRecord",
    "ScanProfile",
    "ScanResult",
    "Scanner",
    "View",
    "base_variants",
    "decode_request",
    "expand",
    "sm3",
]
