"""The rule list and the evaluation loop, with suppressions applied per rule ID."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from consentscope.model import AuditContact, AuditFinding, SessionResult
from consentscope.profile import Profile

from ._collection import rule_without_consent
from ._declared import Declared, rule_no_notice, rule_undeclared
from ._deletion import rule_after_account_deletion
from ._frequency import rule_frequency
from ._model import RULES_INFO, SEVERITIES, Thresholds, Violation
from ._permissions import rule_location_after_denial, rule_permission_before_consent, rule_permission_reasked
from ._push import rule_targeted_push
from ._scope import rule_beyond_scope, rule_sensitive
from ._sharing import rule_third_party
from ._suppress import Accept, Suppressions, known_pattern, rule_matches

#: a rule's signature; rules marked ``declared`` take the declared inventory as a 4th argument
RuleFunc = Callable[[SessionResult, Profile, Thresholds], list[Violation]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One unit: a function and the rule IDs it can report. ``declared``: the function also
    takes the project file's declared inventory (the privacy policy's lists)."""

    func: Callable[..., list[Violation]]
    ids: tuple[str, ...]
    declared: bool = False

    def run(self, result: SessionResult, profile: Profile, th: Thresholds,
            declared: Declared | None) -> list[Violation]:
        if self.declared:
            return self.func(result, profile, th, declared)
        return self.func(result, profile, th)


#: every rule, in the order the report lists them; a new rule goes here and nowhere else
RULES: tuple[Rule, ...] = (
    Rule(rule_no_notice, ("MIIT-1.1",)),
    Rule(rule_without_consent, ("MIIT-1.2", "IDM-3.2", "PIPL-15")),
    Rule(rule_third_party, ("MIIT-3", "PIPL-23"), declared=True),
    Rule(rule_undeclared, ("IDM-2.1",), declared=True),
    Rule(rule_beyond_scope, ("CAC-NPI-5", "PIPL-6")),
    Rule(rule_sensitive, ("MIIT-2.3",)),
    Rule(rule_frequency, ("MIIT-2.2",)),
    Rule(rule_targeted_push, ("MIIT-4", "PIPL-24")),
    Rule(rule_permission_reasked, ("MIIT-6",)),
    Rule(rule_permission_before_consent, ("IDM-3.1",)),
    Rule(rule_location_after_denial, ("IDM-3.3",)),
    Rule(rule_after_account_deletion, ("IDM-6.4",)),
)


def _split(result: SessionResult, entries: Sequence[Accept]) -> tuple[SessionResult, SessionResult, list[Accept]]:
    """The session without the accepted findings and contacts, the session of only those, and
    the entries that matched anything."""
    kept_f: list[AuditFinding] = []
    gone_f: list[AuditFinding] = []
    kept_c: list[AuditContact] = []
    gone_c: list[AuditContact] = []
    used: dict[int, Accept] = {}
    for f in result.findings:
        hit = [a for a in entries if a.matches_finding(f)]
        (gone_f if hit else kept_f).append(f)
        used.update((a.index, a) for a in hit)
    for c in result.contacts:
        hit = [a for a in entries if a.matches_contact(c)]
        (gone_c if hit else kept_c).append(c)
        used.update((a.index, a) for a in hit)
    return (
        replace(result, findings=kept_f, contacts=kept_c, violations=[]),
        replace(result, findings=gone_f, contacts=gone_c, violations=[]),
        [used[i] for i in sorted(used)],
    )


def evaluate(
    result: SessionResult,
    profile: Profile,
    *,
    suppressions: Suppressions | None = None,
    thresholds: Thresholds | None = None,
) -> list[Violation]:
    """Every violation in one session; accepted ones come back with ``suppressed`` set to the
    reason. ``thresholds`` wins over the project file's, which wins over the defaults."""
    th = thresholds or (suppressions.thresholds if suppressions else None) or Thresholds()
    declared = suppressions.declared if suppressions else None
    out: list[Violation] = []
    for rule in RULES:
        full = rule.run(result, profile, th, declared)
        for rid in rule.ids:
            entries = suppressions.for_rule(rid) if suppressions else ()
            if not entries:
                out.extend(v for v in full if v.rule == rid)
                continue
            whole = [a for a in entries if a.whole_rule]
            if whole:
                reason = "; ".join(a.reason for a in whole)
                out.extend(replace(v, suppressed=reason) for v in full if v.rule == rid)
                continue
            kept, gone, used = _split(result, entries)
            out.extend(v for v in rule.run(kept, profile, th, declared) if v.rule == rid)
            if used:
                reason = "; ".join(a.reason for a in used)
                out.extend(
                    replace(v, suppressed=reason)
                    for v in rule.run(gone, profile, th, declared)
                    if v.rule == rid and v.flows  # timeline-only checks rest on no accepted finding
                )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rank: dict[str, int] = {}
    for rid in (r for rule in RULES for r in rule.ids):
        rank.setdefault(rid, len(rank))
    return sorted(out, key=lambda v: (v.session, bool(v.suppressed), order[v.severity], rank[v.rule]))


def parse_fail_on(text: str) -> list[str]:
    """``--fail-on MIIT-1,PIPL-23`` → the patterns; ValueError naming an unknown one (a typo
    must not turn a CI gate into one that never fails)."""
    patterns = [p.strip() for p in text.split(",") if p.strip()]
    if not patterns:
        raise ValueError("expected rule IDs such as MIIT-1,MIIT-3")
    for p in patterns:
        if not known_pattern(p):
            raise ValueError(f"unknown rule {p!r}; known: {', '.join(RULES_INFO)} and the categories MIIT-1 to MIIT-8")
    return patterns


def fail_on(violations: Iterable[Violation], rules: Iterable[str]) -> list[Violation]:
    """The violations that should fail the run: not suppressed, and matching any pattern (a
    rule ID, its MIIT category, a related ID, or a dotted prefix: "MIIT-1" matches MIIT-1.2 and
    IDM-3.2). Truthy exactly when the run should exit non-zero; the list is what to print."""
    wanted = [r.strip() for r in rules if r.strip()]
    return [v for v in violations if not v.suppressed and any(rule_matches(v.rule, w) for w in wanted)]
