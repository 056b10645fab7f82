"""Where a request goes, and who that is to the audited app.

``registrable_domain`` always uses the Public Suffix List bundled with tldextract (never a
download, never "the last two labels", so ``.com.cn`` and ``.gov.cn`` work), read by our
own lookup (``consentscope._psl``) with tldextract's answers: importing tldextract would
import requests and urllib3, 0.12 s of every process start.
``DestinationClassifier.classify`` is on the per-request hot path: answers are cached
per (host, name).

Relations, decided in this order (``Destination.decided_by`` names the step):

- ``first-party``: an SDK owned by the app's publisher itself, the same company and not
  only the same group (``same-company``); a path or IP rule answering on a first-party
  host (``first-party-backend``); no SDK rule and the host is under one of the app's
  first-party domains (``first-party-domain``) or the domain's owner is in the app
  operator's group (``owner-same-company`` / ``owner-same-group``);
- ``os-service``: an SDK rule of category ``os-vendor-service`` (``os-vendor-service``);
- ``same-group-sdk``: an SDK of another company of the app publisher's group
  (``same-group``);
- ``third-party``: any other SDK (``third-party-sdk``), or a domain owned by another known
  company (``owner-other-company``);
- ``cloud-tenant``: shared infrastructure and no SDK rule (``cloud-tenant``);
- ``unknown``: none of the above (``no-match``).

``party`` (kept for existing JSON consumers) is "first-party" only for ``first-party``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from consentscope import _psl
from consentscope.tracker_db import (
    CATEGORY_ZH,
    Owner,
    SdkMatch,
    TrackerDB,
    ip_literal,
    normalize_host,
)
from consentscope.tracker_db._httpdns import names_from_httpdns

__all__ = [
    "DECIDED_BY",
    "FIRST_PARTY",
    "PARTY_ZH",
    "RELATIONS",
    "RELATION_ZH",
    "THIRD_PARTY",
    "Destination",
    "DestinationClassifier",
    "registrable_domain",
]

FIRST_PARTY = "first-party"
THIRD_PARTY = "third-party"

#: Fine-grained relation of a destination to the app (JSON key ``relation``).
RELATIONS = (
    "first-party",
    "same-group-sdk",
    "third-party",
    "cloud-tenant",
    "os-service",
    "unknown",
)

#: Chinese names of the relations and parties, for the zh report.
RELATION_ZH = {
    "first-party": "第一方",
    "same-group-sdk": "同集团SDK",
    "third-party": "第三方",
    "cloud-tenant": "云服务租户",
    "os-service": "系统厂商服务",
    "unknown": "未知",
}
PARTY_ZH = {"first-party": "第一方", "third-party": "第三方"}

#: Which step of the classification decided the relation (``Destination.decided_by``).
DECIDED_BY = (
    "same-company",
    "first-party-backend",
    "first-party-domain",
    "owner-same-company",
    "owner-same-group",
    "os-vendor-service",
    "same-group",
    "third-party-sdk",
    "owner-other-company",
    "cloud-tenant",
    "no-match",
)

#: Size of the per-classifier cache; a session rarely talks to more distinct hosts.
CLASSIFY_CACHE_SIZE = 8192

#: IP → name memory of one session (DNS, SNI, HTTPDNS answers); bounded against floods.
MAX_IP_NAMES = 65536


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """The registrable domain (eTLD+1) of a host; IPs and bare names return themselves."""
    h = normalize_host(host)
    if not h or ip_literal(h) is not None:
        return h
    return _psl.registrable_domain(h) or h


@dataclass(frozen=True, slots=True)
class Destination:
    """A classified destination; the JSON ``party`` key stays first-/third-party.

    ``name`` is the name the answer is based on when ``host`` is an IP (from SNI, DNS or
    HTTPDNS answers of the same session); ``rule`` and ``source`` say which tracker_db
    row decided it. ``name_zh`` and ``vendor_zh`` are the SDK's and vendor's Chinese
    names as Chinese privacy policies write them, ``company`` the company that owns the
    SDK or domain, and ``decided_by`` which step chose the relation (``DECIDED_BY``).
    """

    host: str
    registrable_domain: str
    party: str
    relation: str | None
    sdk: str | None
    vendor: str | None
    group: str | None
    category: str | None
    country: str | None
    rule: str | None = None
    source: str | None = None
    name: str | None = None
    name_zh: str | None = None
    vendor_zh: str | None = None
    company: str | None = None
    decided_by: str | None = None

    @property
    def relation_zh(self) -> str | None:
        return RELATION_ZH.get(self.relation) if self.relation else None

    @property
    def party_zh(self) -> str:
        return PARTY_ZH.get(self.party, self.party)

    @property
    def category_zh(self) -> str | None:
        return CATEGORY_ZH.get(self.category) if self.category else None

    def to_json(self) -> dict[str, str | None]:
        """The keys findings and contacts share in the JSON output, in their order there."""
        return {"party": self.party, "relation": self.relation, "sdk": self.sdk, "vendor": self.vendor,
                "category": self.category}


class DestinationClassifier:
    """Classifies the destinations of one app's session.

    ``operator_group`` overrides the group found from ``app_package`` (apps table) or
    from the owners of ``first_party_domains``; ``operator_company`` likewise overrides
    the publisher company of the apps table (no company is guessed from domains).
    """

    def __init__(
        self,
        first_party_domains: Iterable[str] = (),
        app_package: str | None = None,
        db: TrackerDB | None = None,
        *,
        operator_group: str | None = None,
        operator_company: str | None = None,
    ) -> None:
        self.db = db if db is not None else TrackerDB.default()
        self.app_package = app_package
        self.app = self.db.app(app_package)
        entries = [normalize_host(d) for d in first_party_domains]
        if self.app is not None:
            entries.extend(self.app.first_party_domains)
        entries = [e for e in entries if e]
        # An entry on shared infrastructure names only its own subtree, not the cloud.
        self._fp_subtrees = frozenset(e for e in entries if self.db.infrastructure(e))
        self._fp_domains = frozenset(
            registrable_domain(e) for e in entries if e not in self._fp_subtrees
        )
        self.operator_group = operator_group or self._find_group(entries)
        self.operator_company = operator_company or (self.app.company if self.app else None)
        self._ip_names: dict[str, str] = {}
        self._cached = lru_cache(maxsize=CLASSIFY_CACHE_SIZE)(self._classify_name)

    @property
    def first_party(self) -> frozenset[str]:
        """The registrable domains counted as first-party."""
        return self._fp_domains

    def _find_group(self, entries: list[str]) -> str | None:
        if self.app is not None:
            return self.app.group
        groups = {o.group for e in entries if (o := self.db.owner(e)) is not None}
        return groups.pop() if len(groups) == 1 else None

    def is_first_party(self, host: str) -> bool:
        h = normalize_host(host)
        if registrable_domain(h) in self._fp_domains:
            return True
        return any(h == s or h.endswith("." + s) for s in self._fp_subtrees)

    # -- naming IPs ------------------------------------------------------------------

    def observe_dns(self, name: str, addresses: Iterable[str]) -> None:
        """Remember DNS answers (or SNI) of this session: later IP hosts get this name."""
        n = normalize_host(name)
        if not n or ip_literal(n) is not None:
            return
        for a in addresses:
            ip = ip_literal(normalize_host(a))
            if ip is not None and (len(self._ip_names) < MAX_IP_NAMES or str(ip) in self._ip_names):
                self._ip_names[str(ip)] = n

    def observe_httpdns(self, path: str, body: bytes | str) -> int:
        """Learn names from an HTTPDNS response; returns how many (name, ip) pairs."""
        pairs = names_from_httpdns(path, body)
        for name, ip in pairs:
            self.observe_dns(name, (ip,))
        return len(pairs)

    def name_of(self, ip: str) -> str | None:
        addr = ip_literal(normalize_host(ip))
        return self._ip_names.get(str(addr)) if addr is not None else None

    # -- classification --------------------------------------------------------------

    def classify(
        self,
        host: str,
        path: str | None = None,
        ip: str | None = None,
        sni: str | None = None,
    ) -> Destination:
        """Classify one request's destination; host answers are cached."""
        h = normalize_host(host) if host else ""
        if not h and ip:
            h = normalize_host(ip)
        name = None
        if ip_literal(h) is not None:
            s = normalize_host(sni) if sni else ""
            name = s if s and ip_literal(s) is None else self.name_of(h)
        d = self._cached(h, name)
        if d.sdk is not None:
            return d
        if path:
            m = self.db.lookup_path(path)
            if m is not None:
                return self._with_sdk(h, d.registrable_domain, m, name, by_host=False)
        if ip and d.relation == "unknown":
            m = self.db.lookup_ip(ip)
            if m is not None:
                return self._with_sdk(h, d.registrable_domain, m, name, by_host=False)
        return d

    def _classify_name(self, h: str, name: str | None) -> Destination:
        key = name or h
        reg = registrable_domain(key)
        m = self.db.lookup(key) if name is None else self.db.lookup(name) or self.db.lookup(h)
        if m is not None:
            return self._with_sdk(h, reg, m, name, by_host=m.rule.split(":", 1)[0] != "cidr")
        if ip_literal(key) is None:
            owner = self.db.owner(key)
            if self.is_first_party(key):
                if owner is None:
                    return Destination(h, reg, FIRST_PARTY, "first-party", *_NONE5, name=name,
                                       decided_by="first-party-domain")
                return self._owned(h, reg, owner, name, FIRST_PARTY, "first-party",
                                   "first-party-domain")
            infra = self.db.infrastructure(key)
            if infra is not None:
                company = self.db.company(infra.provider)
                return Destination(
                    h, reg, THIRD_PARTY, "cloud-tenant", None, infra.provider, infra.group,
                    None, infra.country, f"infrastructure:{infra.pattern}", infra.source, name,
                    vendor_zh=company.name_zh if company else None, company=infra.provider,
                    decided_by="cloud-tenant",
                )
            if owner is not None:
                if self.operator_company is not None and owner.company == self.operator_company:
                    return self._owned(h, reg, owner, name, FIRST_PARTY, "first-party",
                                       "owner-same-company")
                if owner.group == self.operator_group:
                    return self._owned(h, reg, owner, name, FIRST_PARTY, "first-party",
                                       "owner-same-group")
                return self._owned(h, reg, owner, name, THIRD_PARTY, "third-party",
                                   "owner-other-company")
        return Destination(h, reg, THIRD_PARTY, "unknown", *_NONE5, name=name,
                           decided_by="no-match")

    def _owned(
        self, h: str, reg: str, owner: Owner, name: str | None, party: str, relation: str,
        decided_by: str,
    ) -> Destination:
        """An answer from the ownership table: the company, not an SDK."""
        company = self.db.company(owner.company)
        return Destination(
            h, reg, party, relation, None, owner.company, owner.group, None, owner.country,
            f"owner:{owner.domain}", owner.source, name,
            vendor_zh=company.name_zh if company else None, company=owner.company,
            decided_by=decided_by,
        )

    def _with_sdk(
        self, h: str, reg: str, m: SdkMatch, name: str | None, *, by_host: bool
    ) -> Destination:
        """Relation for an SDK match.

        A host rule names the SDK's own endpoint, even on the operator's domain. An SDK
        owned by the app's publisher company itself is first-party (Baidu Mobile
        Statistics in the Baidu app, Tencent Beacon in WeChat); one of another company of
        the same group is ``same-group-sdk`` (GDT in QQ Music, Umeng in Taobao). A path or
        IP rule on a first-party host means the operator runs that SDK's backend itself:
        first-party.
        """
        if self.operator_company is not None and m.company == self.operator_company:
            party, relation, decided = FIRST_PARTY, "first-party", "same-company"
        elif not by_host and self.is_first_party(name or h):
            party, relation, decided = FIRST_PARTY, "first-party", "first-party-backend"
        elif m.category == "os-vendor-service":
            party, relation, decided = THIRD_PARTY, "os-service", "os-vendor-service"
        elif self.operator_group is not None and m.group == self.operator_group:
            party, relation, decided = THIRD_PARTY, "same-group-sdk", "same-group"
        else:
            party, relation, decided = THIRD_PARTY, "third-party", "third-party-sdk"
        return Destination(
            h, reg, party, relation, m.sdk, m.vendor, m.group, m.category, m.country,
            m.rule, m.source, name, m.name_zh, m.vendor_zh, m.company, decided,
        )


_NONE5 = (None, None, None, None, None)
