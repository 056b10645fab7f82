"""Sans-IO detection core: a request record and a compiled profile in, findings out.

Nothing in this package touches mitmproxy, files, sockets or databases; every source
(live addon, flow file, HAR, pcap) hands it a ``RequestRecord``.

Most of its modules are compiled to C by mypyc when the package is built (``setup.py``);
``COMPILED`` says whether they are. In a source checkout, a compiled module older than its
source is refused (``make`` rebuilds it): it would run the code from before the change.
"""

import copyreg

from . import _fresh, _scan  # noqa: F401  (_fresh first: it refuses stale compiled modules)
from ._adapters import BUILTIN_ADAPTERS, GROWINGIO, Adapter
from ._decode import DecodedRequest, decode_request
from ._deferred import DeferredScanner
from ._expand import DEFAULT_CHAIN_DEPTH, HASHES, Identifier, Needle, base_variants, expand
from ._finding import Finding
from ._limits import DEFAULT_LIMITS, MAX_BODY_SCAN_BYTES, SCAN_GC_THRESHOLD, Limits
from ._location import Coordinate, GeoPoint, LocationGates
from ._patterns import PATTERN
from ._pickling import by_fields
from ._record import RequestRecord
from ._scan import CONTACTS_MIN, INSTALLED_APPS_MIN, Scanner, ScanProfile, ScanResult
from ._sm3 import sm3
from ._view import View

__all__ = [
    "BUILTIN_ADAPTERS",
    "COMPILED",
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

# The frozen records that cross a process boundary (scan workers, the live detector, Dask
# workers) pickle by their fields: registered here once, for every class (``_pickling``).
for _frozen in (Adapter, Coordinate, DecodedRequest, Finding, GeoPoint, Limits, LocationGates, RequestRecord,
                ScanProfile, ScanResult):
    copyreg.pickle(_frozen, by_fields)
del _frozen

#: True when the detection core runs as C compiled by mypyc (``setup.py``), False when
#: interpreted (``CONSENTSCOPE_PURE=1``, or no C compiler at build time): the same findings
COMPILED: bool = not (_scan.__file__ or "").endswith(".py")
