"""``consentscope trackers``: look up, list, count and import tracker data.

A thin shell over ``consentscope.tracker_db`` and ``consentscope.destination``. Bad
input ends as one line naming the file and what is wrong, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from consentscope.destination import DestinationClassifier
from consentscope.tracker_db import CATEGORIES, FORMATS, DataError, Rule, TrackerDB, import_file

__all__ = ["LOOKUP_JSON_KEYS", "VENDOR_ONLY_JSON_KEYS", "VendorOnly", "add_trackers_parser", "split_target",
           "vendor_only"]

EXIT_OK = 0
EXIT_INPUT = 2

#: Keys of ``trackers lookup --json``, in this order (other tools rely on them). Keys
#: after ``source`` were added with tracker_db format 2: Chinese names, the owning
#: company, and which classification step decided the relation (``DECIDED_BY``).
LOOKUP_JSON_KEYS = (
    "host", "sdk", "vendor", "group", "category", "country", "relation", "party", "rule",
    "source", "name_zh", "vendor_zh", "category_zh", "relation_zh", "company", "decided_by",
    "note",
)


def split_target(target: str) -> tuple[str, str | None]:
    """``HOST_OR_URL`` → (host, path with query or None)."""
    t = target.strip()
    if "://" not in t:
        t = "//" + t
    parts = urlsplit(t)
    path = parts.path or ""
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.hostname or "", path or None


def _fail(message: str) -> int:
    print(f"consentscope: error: {message}", file=sys.stderr)
    return EXIT_INPUT


def _note(clf: DestinationClassifier, rule: str | None) -> str | None:
    """Why a domain of an SDK vendor is answered by vendor only (ownership ``reason``)."""
    if rule and rule.startswith("owner:"):
        owner = clf.db.owners.get(rule.split(":", 1)[1])
        return owner.reason or None if owner else None
    return None


def cmd_lookup(args: argparse.Namespace) -> int:
    host, path = split_target(args.target)
    if not host:
        return _fail(f"{args.target!r}: no host")
    clf = DestinationClassifier(args.first_party or (), app_package=args.app_package)
    d = clf.classify(host, path=path)
    out = {
        "host": d.host, "sdk": d.sdk, "vendor": d.vendor, "group": d.group,
        "category": d.category, "country": d.country, "relation": d.relation,
        "party": d.party, "rule": d.rule, "source": d.source, "name_zh": d.name_zh,
        "vendor_zh": d.vendor_zh, "category_zh": d.category_zh, "relation_zh": d.relation_zh,
        "company": d.company, "decided_by": d.decided_by, "note": _note(clf, d.rule),
    }
    if args.json:
        print(json.dumps({k: out[k] for k in LOOKUP_JSON_KEYS}, ensure_ascii=False))
    else:
        for k in LOOKUP_JSON_KEYS:
            print(f"{k:<9} {out[k] if out[k] is not None else '-'}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    db = TrackerDB.default()
    rules = [
        r for r in db.rules
        if (args.category is None or r.category == args.category)
        and (args.country is None or r.country == args.country.upper())
    ]
    if args.source:
        for r in sorted(rules, key=lambda r: (r.sdk.lower(), r.label)):
            print(f"{r.label}\t{r.sdk}\t{r.dataset} ({r.licence})\t{r.source}")
        return EXIT_OK
    by_sdk: dict[str, list[str]] = {}
    first: dict[str, Rule] = {}
    for r in rules:
        by_sdk.setdefault(r.sdk, []).append(r.label)
        first.setdefault(r.sdk, r)
    for sdk in sorted(by_sdk, key=str.lower):
        r = first[sdk]
        name_zh, _ = db.names_zh(sdk, r.vendor)
        print(f"{sdk}\t{r.vendor}\t{r.group}\t{r.category}\t{r.country or '-'}\t"
              + " ".join(sorted(by_sdk[sdk])) + f"\t{name_zh or '-'}")
    return EXIT_OK


#: Keys of ``trackers vendor-only --json`` objects, in this order.
VENDOR_ONLY_JSON_KEYS = ("domain", "company", "group", "country", "sdk_rules", "reason", "source")


@dataclass(frozen=True, slots=True)
class VendorOnly:
    """A registrable domain of an SDK vendor that lookups answer by vendor only: no SDK rule
    names the domain itself. ``sdk_rules`` counts the host/suffix rules naming hosts under it
    (those hosts do get their SDK). ``reason`` is the ownership row's own reason; rows taken
    from v2fly, which carry none, get one from where they come from."""

    domain: str
    company: str
    group: str
    country: str
    sdk_rules: int
    reason: str
    source: str


def vendor_only(db: TrackerDB) -> list[VendorOnly]:
    """Every domain the tool names only by vendor, each with why (sorted by company, domain)."""
    vendors = {r.vendor for r in db.rules}
    named = {r.pattern for r in db.rules if r.kind in ("host", "suffix")}
    under: Counter[str] = Counter()
    for r in db.rules:
        if r.kind not in ("host", "suffix"):
            continue
        labels = r.pattern.split(".")
        for i in range(1, len(labels) - 1):
            under[".".join(labels[i:])] += 1
    out = []
    for domain, o in db.owners.items():
        if o.company not in vendors or domain in named:
            continue
        n = under[domain]
        reason = o.reason or (
            f"the company's own services; {n} rule(s) name the SDK hosts under it" if n else
            "the company's own service domain (listed under the company by v2fly); no SDK host of it is known"
        )
        out.append(VendorOnly(domain, o.company, o.group, o.country, n, reason, o.source))
    return sorted(out, key=lambda v: (v.company.lower(), v.domain))


def cmd_vendor_only(args: argparse.Namespace) -> int:
    rows = [
        v for v in vendor_only(TrackerDB.default())
        if (args.country is None or v.country == args.country.upper())
        and (args.company is None or v.company.lower() == args.company.lower())
    ]
    if args.json:
        print(json.dumps([asdict(v) for v in rows], ensure_ascii=False, indent=1))
        return EXIT_OK
    for v in rows:
        print(f"{v.domain}\t{v.company}\t{v.sdk_rules}\t{v.reason}")
    return EXIT_OK


def cmd_stats(_args: argparse.Namespace) -> int:
    db = TrackerDB.default()
    sdks = db.sdks()
    print(f"rules           {len(db.rules)}")
    for kind, n in sorted(Counter(r.kind for r in db.rules).items()):
        print(f"  {kind:<13} {n}")
    print(f"sdks            {len(sdks)}")
    print(f"  chinese (CN)  {sum(1 for r in sdks.values() if r.country == 'CN')}")
    print(f"  with name_zh  {sum(1 for s in sdks if db.names_zh(s)[0])}")
    for cat in CATEGORIES:
        n = sum(1 for r in sdks.values() if r.category == cat)
        if n:
            print(f"  {cat:<29} {n}")
    for ds, n in sorted(Counter(r.dataset for r in db.rules).items()):
        print(f"dataset {ds:<20} {n} rules")
    print(f"owned domains   {len(db.owners)}")
    print(f"infrastructure  {len(db.infra)}")
    print(f"apps            {len(db.apps)}")
    print(f"companies       {len(db.companies)}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        return _fail(f"{path}: no such file")
    try:
        res = import_file(path, args.format)
    except DataError as e:
        return _fail(str(e))
    except OSError as e:
        return _fail(f"{path}: {e.strerror or e}")
    print(f"imported {res.written} rules from {path} into {res.path} "
          f"({res.shadowed} already answered by consentscope's own rows, {res.skipped} skipped)")
    return EXIT_OK


def add_trackers_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``trackers`` with its actions to the main CLI's subparsers."""
    p = subparsers.add_parser("trackers", help="look up, list and import tracker/SDK data")
    sub = p.add_subparsers(dest="trackers_command", metavar="ACTION")
    sub.required = True

    lk = sub.add_parser("lookup", help="which SDK/company a host or URL is, to an app")
    lk.add_argument("target", metavar="HOST_OR_URL")
    lk.add_argument("--app-package", metavar="P", help="the audited app's package name")
    lk.add_argument("--first-party", action="append", metavar="DOMAIN",
                    help="a first-party domain of the app (repeatable)")
    lk.add_argument("--json", action="store_true", help="one JSON object")
    lk.set_defaults(func=cmd_lookup)

    ls = sub.add_parser("list", help="list known SDKs (or, with --source, every rule)")
    ls.add_argument("--category", choices=CATEGORIES)
    ls.add_argument("--country", metavar="CC", help="ISO country code, e.g. CN")
    ls.add_argument("--source", action="store_true",
                    help="one line per rule with its dataset, licence and source")
    ls.set_defaults(func=cmd_list)

    vo = sub.add_parser("vendor-only", help="domains of SDK vendors answered by vendor only, with why")
    vo.add_argument("--country", metavar="CC", help="ISO country code of the company, e.g. CN")
    vo.add_argument("--company", metavar="NAME", help="one company, as tracker_db names it")
    vo.add_argument("--json", action="store_true", help="a JSON list of objects")
    vo.set_defaults(func=cmd_vendor_only)

    st = sub.add_parser("stats", help="counts of rules, SDKs, owners, apps")
    st.set_defaults(func=cmd_stats)

    im = sub.add_parser("import", help="load a downloaded tracker list into the local cache")
    im.add_argument("file", metavar="FILE")
    im.add_argument("--format", required=True, choices=sorted(FORMATS))
    im.set_defaults(func=cmd_import)
    return p
