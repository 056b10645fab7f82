"""From findings to violations: each rule a small function with an ID from ``regulations.md``,
the evidence it rests on, and one sentence a person can act on (English and Chinese).

Rules see a finished ``SessionResult`` (findings with phases, contacts, the timeline) and the
profile (app type); they never look at traffic themselves. ``RULES`` lists every unit and the
IDs it reports; ``RULES_INFO`` names each ID; ``CATEGORIES`` are the eight MIIT types the
report's verdict table counts them under.
"""

from ._declared import Declared, DeclaredRecipient, parse_declared
from ._engine import RULES, Rule, evaluate, fail_on, parse_fail_on
from ._evidence import CONTACT_CHECKS, contact_ref
from ._model import CATEGORIES, RULES_INFO, Category, RuleInfo, Thresholds, Violation
from ._suppress import (
    Accept,
    EntryUse,
    SuppressionError,
    Suppressions,
    load_suppressions,
    parse_suppressions,
    rule_matches,
    usage,
)
from ._verdict import CHECKLIST, JSON_STATUS, STATUS, CheckItem, Verdict, verdicts
from ._vocab import permission_group, slug

__all__ = [
    "CATEGORIES",
    "CHECKLIST",
    "CONTACT_CHECKS",
    "JSON_STATUS",
    "RULES",
    "RULES_INFO",
    "STATUS",
    "Accept",
    "Category",
    "CheckItem",
    "Declared",
    "DeclaredRecipient",
    "EntryUse",
    "Rule",
    "RuleInfo",
    "SuppressionError",
    "Suppressions",
    "Thresholds",
    "Verdict",
    "Violation",
    "contact_ref",
    "evaluate",
    "fail_on",
    "load_suppressions",
    "parse_declared",
    "parse_fail_on",
    "parse_suppressions",
    "permission_group",
    "rule_matches",
    "slug",
    "usage",
    "verdicts",
]
