"""The rules (regulations.md §2, §5, §9, §10) and the evaluation loop."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from consentscope.appdata import app_types, pi_vocabulary
from consentscope.pipeline import AuditFinding, SessionResult, iso_time
from consentscope.profile import Profile

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """MIIT-2.2 (frequency) has no number in any binding text (regulations.md §9); these
    defaults follow the scenario examples ("every 30 s") and are meant to be tuned."""

    repeat_count: int = 3  # uploads of one data type to one destination…
    repeat_interval_s: float = 30.0  # …at a median interval this short or shorter
    reask_window_s: float = 48 * 3600  # a denied permission asked again within this


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    severity: str
    confidence: str
    explanation: str
    flows: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    session: str = ""
    data_types: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {
            "session": self.session,
            "rule": self.rule,
            "severity": self.severity,
            "confidence": self.confidence,
            "explanation": self.explanation,
            "evidence": {"flows": list(self.flows), "events": list(self.events)},
        }


#: our data-type names -> the vocabulary slugs of necessary_pi.yaml
_SLUGS = {
    "mac": "mac_address", "bluetooth_mac": "mac_address", "bssid": "wifi_info", "ssid": "wifi_info",
    "serial": "serial_number", "device_name": "device_id", "account_name": "account_id",
}
#: sensitive in the sense the campaign names (identity document, financial account, address book)
_SENSITIVE = {"id_number", "bank_card", "contacts"}
_PUSH_AD = {"advertising", "push"}


def slug(data_type: str, profile: Profile) -> str | None:
    if data_type == "location":
        precise = profile.location is None or profile.location.precision_m <= 1000
        return "location_precise" if precise else "location_coarse"
    s = _SLUGS.get(data_type, data_type)
    return s if s in pi_vocabulary() else None


def _flows(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.flow_id for f in findings))


def _types(findings: Iterable[AuditFinding]) -> tuple[str, ...]:
    return tuple(sorted({f.finding.data_type for f in findings}))


def _consent_events(result: SessionResult, name: str) -> tuple[str, ...]:
    return tuple(iso_time(e.time) for e in result.events if e.event == name)


def rule_before_consent(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    out = []
    for phase, rule, what in (
        ("before-consent", "MIIT-1.2", "before the user agreed to the privacy policy"),
        ("after-refusal", "IDM-3.2", "after the user refused consent"),
        ("after-withdrawal", "PIPL-15", "after the user withdrew consent"),
    ):
        hits = [f for f in result.findings if f.phase == phase]
        if not hits:
            continue
        first = hits[0]
        event = {"MIIT-1.2": "consent", "IDM-3.2": "refusal", "PIPL-15": "withdrawal"}[rule]
        out.append(Violation(
            rule, "high", "high",
            f"{len(hits)} transmission(s) of personal information ({', '.join(_types(hits))}) left the device "
            f"{what}; the first at {iso_time(first.time)} to {first.host}.",
            _flows(hits), _consent_events(result, event), result.id, _types(hits),
        ))
    return out


def rule_third_party(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    out = []
    third = [f for f in result.findings if f.destination.party == "third-party"]
    early = [f for f in third if f.phase in ("before-consent", "after-refusal", "after-withdrawal")]
    if early:
        sdks = sorted({f.destination.sdk or f.host for f in early})
        out.append(Violation(
            "MIIT-3", "high", "high",
            f"Personal information ({', '.join(_types(early))}) went to third parties ({', '.join(sdks)}) "
            "without the user's consent.",
            _flows(early), _consent_events(result, "consent"), result.id, _types(early),
        ))
    later = [f for f in third if f.phase == "after-consent"]
    if later:
        sdks = sorted({f.destination.sdk or f.host for f in later})
        out.append(Violation(
            "PIPL-23", "low", "medium",
            f"After a general consent, personal information ({', '.join(_types(later))}) went to third parties "
            f"({', '.join(sdks)}); providing it to another processor needs separate consent naming the recipient.",
            _flows(later), _consent_events(result, "consent"), result.id, _types(later),
        ))
    contacts = [c for c in result.contacts if c.destination.party == "third-party" and c.destination.sdk
                and c.phase in ("before-consent", "after-refusal")]
    if contacts:
        sdks = sorted({c.destination.sdk or c.contact.host for c in contacts})
        out.append(Violation(
            "MIIT-3", "low", "low",
            f"The app contacted third-party SDK hosts ({', '.join(sdks)}) before consent; the content was not "
            "visible (encrypted), so this shows contact, not the data sent.",
            tuple(c.contact.flow_id or f"{c.contact.via}:{c.contact.host}" for c in contacts),
            (), result.id, (),
        ))
    return out


def rule_beyond_scope(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    app_type = app_types().get(profile.app.app_type) if profile.app.app_type else None
    if app_type is None:
        return []
    allowed = set(app_type.necessary_pi)
    if "location_precise" in allowed:
        allowed.add("location_coarse")
    outside = [f for f in result.findings if (s := slug(f.finding.data_type, profile)) and s not in allowed]
    if not outside:
        return []
    return [Violation(
        "CAC-NPI-5", "medium", "medium",
        f"{app_type.name_en} apps ({app_type.name_zh}) need "
        f"{', '.join(app_type.necessary_pi) or 'no personal information'} "
        f"for their basic function; this session sent {', '.join(_types(outside))} too. Beyond the necessary scope "
        "unless the user agreed to it for an extended feature (MIIT-2.1).",
        _flows(outside), (), result.id, _types(outside),
    )]


def rule_sensitive(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    hits = [f for f in result.findings if f.finding.data_type in _SENSITIVE]
    if not hits:
        return []
    return [Violation(
        "MIIT-2.3", "medium", "medium",
        f"Sensitive personal information ({', '.join(_types(hits))}) was sent; it needs a specific purpose, "
        "necessity and separate consent (PIPL-28/29).",
        _flows(hits), (), result.id, _types(hits),
    )]


def rule_frequency(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    groups: dict[tuple[str, str], list[AuditFinding]] = defaultdict(list)
    for f in result.findings:
        groups[(f.finding.data_type, f.destination.registrable_domain or f.host)].append(f)
    out = []
    for (dtype, dest), fs in sorted(groups.items()):
        times = sorted({f.time for f in fs})
        if len(times) < th.repeat_count:
            continue
        median = statistics.median(b - a for a, b in itertools.pairwise(times))
        if median > th.repeat_interval_s:
            continue
        out.append(Violation(
            "MIIT-2.2", "low", "medium",
            f"{dtype} was sent to {dest} {len(times)} times, every {median:.0f} s (median) — "
            f"more often than a function usually needs (threshold: {th.repeat_count} uploads at ≤ "
            f"{th.repeat_interval_s:.0f} s).",
            _flows(fs), (), result.id, (dtype,),
        ))
    return out


def rule_targeted_push(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    hits = [f for f in result.findings
            if f.finding.data_type == "installed_apps" and (f.destination.category or "") in _PUSH_AD]
    if not hits:
        return []
    sdks = sorted({f.destination.sdk or f.host for f in hits})
    return [Violation(
        "MIIT-4", "medium", "medium",
        f"The list of installed apps went to advertising/push SDKs ({', '.join(sdks)}), the data targeted "
        "push and precision marketing use; the user must be told and able to switch it off.",
        _flows(hits), (), result.id, ("installed_apps",),
    )]


def rule_permission_reasked(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    """MIIT-6 from the timeline: a permission asked again soon after the user denied it.
    48 hours is app-store review practice, not a regulation (regulations.md §9), hence low."""
    out = []
    denied: dict[str, float] = {}
    for e in result.events:
        name = e.detail.strip().lower()
        if e.event == "permission-denied" and name:
            denied[name] = e.time
        elif e.event == "permission-asked" and name in denied and e.time - denied[name] <= th.reask_window_s:
            hours = (e.time - denied[name]) / 3600
            out.append(Violation(
                "MIIT-6", "medium", "low",
                f"The {name} permission was asked for again {hours:.1f} h after the user denied it.",
                (), (iso_time(denied[name]), iso_time(e.time)), result.id, (),
            ))
    return out


Rule = Callable[[SessionResult, Profile, Thresholds], list[Violation]]
RULES: tuple[Rule, ...] = (
    rule_before_consent, rule_third_party, rule_beyond_scope, rule_sensitive, rule_frequency, rule_targeted_push,
    rule_permission_reasked,
)


def evaluate(result: SessionResult, profile: Profile, thresholds: Thresholds = Thresholds()) -> list[Violation]:
    out: list[Violation] = []
    for rule in RULES:
        out.extend(rule(result, profile, thresholds))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda v: (v.session, order[v.severity], v.rule))


def fail_on(violations: Sequence[Violation], rules: Iterable[str]) -> list[Violation]:
    """Violations matching any of ``rules`` (an ID or a prefix: "MIIT-1" matches "MIIT-1.2")."""
    wanted = [r.strip() for r in rules if r.strip()]
    return [v for v in violations if any(v.rule == w or v.rule.startswith(w + ".") for w in wanted)]
