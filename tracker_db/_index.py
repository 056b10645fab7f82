"""The lookup index: host → SDK in one walk down reversed labels.

Built once per process (``TrackerDB.default``), like tldextract's extractor: building
per call is what made tldextract#320 about 60x slower. Host and suffix rules live in one
trie keyed by reversed labels (``tldextract.tldextract.Trie`` does the same for the
suffix list) so the most specific rule wins in O(labels). Rules that cannot live in the
trie come after, in a fixed order: host regexes, URL-path rules, then IP networks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from threading import Lock
from typing import ClassVar

from ._normalize import ip_literal, normalize_host
from ._rules import Rule, load_meta, load_rules, package_dir
from ._tables import (
    App,
    Company,
    Infra,
    Owner,
    SdkInfo,
    read_apps,
    read_companies,
    read_infra,
    read_owners,
    read_sdks,
    suffix_get,
)

__all__ = ["SdkMatch", "TrackerDB"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class SdkMatch:
    """The SDK a destination belongs to, and the rule and source that say so."""

    sdk: str
    vendor: str
    group: str
    category: str
    country: str | None
    rule: str
    source: str
    dataset: str = "consentscope"
    licence: str = "MIT"
    #: Chinese names of the SDK and its vendor (``sdks.csv``/``companies.csv``), if known.
    name_zh: str | None = None
    vendor_zh: str | None = None
    #: The company that owns the SDK (``sdks.csv``); defaults to the vendor.
    company: str | None = None

    @classmethod
    def from_rule(
        cls, r: Rule, info: SdkInfo | None = None, vendor: Company | None = None
    ) -> SdkMatch:
        vendor_zh = (info.vendor_zh if info else "") or (vendor.name_zh if vendor else "")
        return cls(
            sdk=r.sdk,
            vendor=r.vendor,
            group=r.group,
            category=r.category,
            country=r.country or None,
            rule=r.label,
            source=r.source,
            dataset=r.dataset,
            licence=r.licence,
            name_zh=(info.name_zh if info else "") or None,
            vendor_zh=vendor_zh or None,
            company=info.company if info else r.vendor,
        )


class _Node:
    """One trie node: children by label, plus the rules ending here."""

    __slots__ = ("children", "exact", "suffix")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.exact: SdkMatch | None = None
        self.suffix: SdkMatch | None = None


class TrackerDB:
    """Endpoint rules and the ownership, infrastructure and app tables, indexed.

    Rules (and table rows) given first win over later duplicates: our own rows are given
    before imported ones.
    """

    _default: ClassVar[TrackerDB | None] = None
    _shipped: ClassVar[TrackerDB | None] = None
    _lock: ClassVar[Lock] = Lock()

    def __init__(
        self,
        rules: Iterable[Rule],
        owners: Iterable[Owner] = (),
        infra: Iterable[Infra] = (),
        apps: Iterable[App] = (),
        sdks: Iterable[SdkInfo] = (),
        companies: Iterable[Company] = (),
    ) -> None:
        self.sdk_info: dict[str, SdkInfo] = {}
        for s in sdks:
            self.sdk_info.setdefault(s.sdk, s)
        self.companies: dict[str, Company] = {}
        for c in companies:
            self.companies.setdefault(c.company, c)
        self.owners: dict[str, Owner] = {}
        for o in owners:
            self.owners.setdefault(o.domain, o)
        self.infra: dict[str, Infra] = {}
        for i in infra:
            self.infra.setdefault(i.pattern, i)
        self.apps: dict[str, App] = {}
        for a in apps:
            self.apps.setdefault(a.package, a)
        self.rules: tuple[Rule, ...] = ()
        self._root = _Node()
        self._regex: list[tuple[re.Pattern[str], SdkMatch]] = []
        self._path: list[tuple[re.Pattern[str], SdkMatch]] = []
        self._cidr: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, SdkMatch]] = []
        kept: list[Rule] = []
        seen: set[tuple[str, str]] = set()
        for r in rules:
            key = (r.kind, r.pattern)
            if key in seen:
                continue  # first wins: our own rows are given before imported ones
            seen.add(key)
            kept.append(r)
            self._add(r)
        self._cidr.sort(key=lambda x: -x[0].prefixlen)
        self.rules = tuple(kept)

    def _add(self, r: Rule) -> None:
        m = SdkMatch.from_rule(r, self.sdk_info.get(r.sdk), self.companies.get(r.vendor))
        if r.kind in ("host", "suffix"):
            node = self._root
            for label in reversed(r.pattern.split(".")):
                node = node.children.setdefault(label, _Node())
            if r.kind == "host":
                node.exact = m
            else:
                node.suffix = m
        elif r.kind == "regex":
            self._regex.append((re.compile(r.pattern), m))
        elif r.kind == "path":
            self._path.append((re.compile(r.pattern), m))
        elif r.kind == "cidr":
            self._cidr.append((ipaddress.ip_network(r.pattern), m))

    @classmethod
    def default(cls) -> TrackerDB:
        """The shipped rules plus the user's imported lists, built once per process."""
        with cls._lock:
            if cls._default is None:
                from ._userdata import imported_rules

                cls._default = cls._build(imported_rules())
            return cls._default

    @classmethod
    def shipped(cls) -> TrackerDB:
        """Only the data in this package (no user imports), built once: reproducible."""
        with cls._lock:
            if cls._shipped is None:
                cls._shipped = cls._build(())
            return cls._shipped

    @classmethod
    def _build(cls, extra_rules: Iterable[Rule]) -> TrackerDB:
        meta = load_meta()
        base = package_dir()
        owners: list[Owner] = []
        for name in meta.get("ownership", ()):
            owners.extend(read_owners(base / name))
        for name in meta.get("ownership_v2fly", ()):
            owners.extend(read_owners(base / name, v2fly_source=meta["v2fly_source"]))
        infra = [i for name in meta.get("infrastructure", ()) for i in read_infra(base / name)]
        apps = [a for name in meta.get("apps", ()) for a in read_apps(base / name)]
        sdks = [s for name in meta["sdks"] for s in read_sdks(base / name)]
        companies = [c for name in meta["companies"] for c in read_companies(base / name)]
        return cls([*load_rules(), *extra_rules], owners, infra, apps, sdks, companies)

    @classmethod
    def reset_default(cls) -> None:
        """Forget the cached default, e.g. after ``trackers import``."""
        with cls._lock:
            cls._default = None

    # -- lookups -------------------------------------------------------------------

    def lookup_host(self, host: str) -> SdkMatch | None:
        """Most specific host/suffix rule for a normalised host, then host regexes."""
        node = self._root
        best: SdkMatch | None = None
        labels = host.split(".")
        for i in range(len(labels) - 1, -1, -1):
            nxt = node.children.get(labels[i])
            if nxt is None:
                break
            node = nxt
            if i == 0 and node.exact is not None:
                return node.exact
            if node.suffix is not None:
                best = node.suffix
        if best is not None:
            return best
        for rx, m in self._regex:
            if rx.fullmatch(host):
                return m
        return None

    def lookup_path(self, path: str) -> SdkMatch | None:
        """First URL-path rule matching at the start of the path (query included)."""
        for rx, m in self._path:
            if rx.match(path):
                return m
        return None

    def lookup_ip(self, ip: str | IPAddress) -> SdkMatch | None:
        """Most specific IP network rule containing the address."""
        addr = ip if not isinstance(ip, str) else ip_literal(normalize_host(ip))
        if addr is None:
            return None
        for net, m in self._cidr:
            if addr.version == net.version and addr in net:
                return m
        return None

    def lookup(self, host: str, path: str | None = None, ip: str | None = None) -> SdkMatch | None:
        """The SDK for a destination: host rules, then path rules, then IP rules."""
        h = normalize_host(host) if host else ""
        addr = ip_literal(h)
        if h and addr is None:
            m = self.lookup_host(h)
            if m is not None:
                return m
        if path:
            m = self.lookup_path(path)
            if m is not None:
                return m
        if addr is None and ip:
            addr = ip_literal(normalize_host(ip))
        return self.lookup_ip(addr) if addr is not None else None

    def owner(self, host: str) -> Owner | None:
        """The company behind the host's most specific listed domain."""
        h = normalize_host(host)
        return suffix_get(self.owners, h) if h and ip_literal(h) is None else None

    def infrastructure(self, host: str) -> Infra | None:
        """The shared-infrastructure suffix the host is a tenant of, if any."""
        h = normalize_host(host)
        return suffix_get(self.infra, h) if h and ip_literal(h) is None else None

    def app(self, package: str | None) -> App | None:
        """The well-known app with this package name, if listed."""
        return self.apps.get(package) if package else None

    def company(self, name: str | None) -> Company | None:
        """The listed company of this name (SDK owner or app publisher), if any."""
        return self.companies.get(name) if name else None

    def names_zh(self, sdk: str | None, vendor: str | None = None) -> tuple[str | None, str | None]:
        """Chinese names of an SDK and its vendor, for answers stored without them."""
        info = self.sdk_info.get(sdk) if sdk else None
        v = self.companies.get(vendor) if vendor else None
        vendor_zh = (info.vendor_zh if info else "") or (v.name_zh if v else "")
        return (info.name_zh if info and info.name_zh else None), (vendor_zh or None)

    def __len__(self) -> int:
        return len(self.rules)

    def sdks(self) -> dict[str, Rule]:
        """One representative rule per SDK name, in first-seen order."""
        out: dict[str, Rule] = {}
        for r in self.rules:
            out.setdefault(r.sdk, r)
        return out
