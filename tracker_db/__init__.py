"""consentscope.tracker_db: which SDK, vendor and company each network destination is.

Data ships in this package as reviewable CSV with a source per row (``SOURCES.md``);
nothing is fetched at run time. ``TrackerDB.default()`` builds the index once per
process; lists we may not ship are imported by the user (``import_file``).
"""

from ._httpdns import names_from_httpdns
from ._imports import FORMATS, LICENCES, ImportResult, import_file, parse_document
from ._index import SdkMatch, TrackerDB
from ._normalize import ip_literal, normalize_host
from ._rules import CATEGORIES, CATEGORY_ZH, FORMAT_VERSION, KINDS, DataError, Rule, load_rules, read_rules
from ._tables import App, Company, Infra, Owner, SdkInfo
from ._userdata import data_dir, trackers_dir

__all__ = [
    "CATEGORIES",
    "CATEGORY_ZH",
    "FORMATS",
    "FORMAT_VERSION",
    "KINDS",
    "LICENCES",
    "App",
    "Company",
    "DataError",
    "ImportResult",
    "Infra",
    "Owner",
    "Rule",
    "SdkInfo",
    "SdkMatch",
    "TrackerDB",
    "data_dir",
    "import_file",
    "ip_literal",
    "load_rules",
    "names_from_httpdns",
    "normalize_host",
    "parse_document",
    "read_rules",
    "trackers_dir",
]
