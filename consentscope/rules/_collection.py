"""MIIT-1.2, IDM-3.2, PIPL-15: personal information leaving the device without consent.

regulations.md §1.3: "before consent" means before ``consent_accepted``; any PI collection,
first party or embedded SDK, counts, even if the policy would later cover it. Traffic proves
it (T), so severity and confidence are high. Phases come from the timeline's table
(``consentscope.consent.PHASE_AFTER``); a session without any consent event gives no phase
and no violation here (the verdict says "cannot tell").
"""

from __future__ import annotations

from consentscope.consent import BEFORE_CONSENT, PHASE_AFTER, ConsentTimeline
from consentscope.model import Event, SessionResult, iso_time
from consentscope.profile import Profile

from ._evidence import (
    ZH,
    data_types,
    destinations,
    en_list,
    flows,
    requests,
    sdk_zh,
    types_zh,
    who,
    who_zh,
    zh_list,
)
from ._model import Thresholds, Violation

_WHEN = {
    BEFORE_CONSENT: ("MIIT-1.2", "before the user agreed to the privacy policy", "用户同意隐私政策前"),
    PHASE_AFTER["refusal"]: ("IDM-3.2", "after the user refused consent", "用户明确拒绝后"),
    PHASE_AFTER["withdrawal"]: ("PIPL-15", "after the user withdrew consent", "用户撤回同意后"),
}


def rule_without_consent(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    out = []
    transitions = [e for e in result.events if e.event in PHASE_AFTER]
    for phase, (rule, when_en, when_zh) in _WHEN.items():
        hits = [f for f in result.findings if f.phase == phase]
        if not hits:
            continue
        if phase == BEFORE_CONSENT:
            proof = transitions[:1]  # the first consent decision: everything before it had none
        else:
            name = next(k for k, v in PHASE_AFTER.items() if v == phase)
            proof = [e for e in transitions if e.event == name]
        first = hits[0]
        third = sorted({d for f in hits if f.destination.party != "first-party" for d in destinations([f])})
        names_zh = {who(f): who_zh(f) for f in hits}
        third_zh = [names_zh[d] for d in third]
        dests = destinations(hits)
        types = data_types(hits)
        n = requests(hits)
        out.append(Violation(
            rule, "high", "high",
            f"{when_en[0].upper()}{when_en[1:]}, {n} request(s) sent personal information ({en_list(types)}) "
            f"to {len(dests)} destination(s), {len(third)} of them third parties"
            f"{' (' + en_list(third) + ')' if third else ''}; the first at {iso_time(first.time)} to {first.host}.",
            flows(hits), tuple(iso_time(e.time) for e in proof), result.id, types,
            explanation_zh=(
                f"{when_zh}，已有 {n} 个请求将个人信息（{types_zh(types)}）发往 {len(dests)} 个目的地，"
                f"其中第三方 {len(third)} 个{'（' + zh_list(third_zh) + '）' if third else ''}；"
                f"最早一次于 {iso_time(first.time)} 发往 {first.host}。"
            ),
            check=phase, destinations=dests,
        ))
    out.extend(_api_reads(result))
    return out


def _api_reads(result: SessionResult) -> list[Violation]:
    """A hook saw the app read a privacy API without consent: the MIIT text calls reading
    collection, whether or not it is sent (check ``api-read``; ``readers/hooks.py``)."""
    from consentscope.readers.hooks import parse_api_read

    reads = [e for e in result.events if e.event == Event.API_READ]
    if not reads:
        return []
    timeline = ConsentTimeline(result.events)
    out = []
    for phase, (rule, when_en, when_zh) in _WHEN.items():
        hits = [e for e in reads if timeline.phase_at(e.time) == phase]
        if not hits:
            continue
        parsed = [(e, parse_api_read(e.detail)) for e in hits]
        types = tuple(sorted({p.data_type for _, p in parsed if p is not None}))
        sdks = tuple(sorted({p.sdk for _, p in parsed if p is not None and p.sdk}))
        apis = tuple(sorted({p.api for _, p in parsed if p is not None and p.api}))
        first = hits[0]
        who_en = f" by {en_list(sdks)}" if sdks else ""
        callers_zh = f"（调用方：{zh_list([sdk_zh(s) for s in sdks])}）" if sdks else ""
        out.append(Violation(
            rule, "high", "medium",
            f"{when_en[0].upper()}{when_en[1:]}, the app read personal information ({en_list(types)}) "
            f"{len(hits)} time(s){who_en} through privacy APIs ({en_list(apis[:5])}); the first at "
            f"{iso_time(first.time)} (hook log).",
            (), tuple(iso_time(e.time) for e in hits[:50]), result.id, types,
            explanation_zh=(
                f"{when_zh}，App 通过隐私接口（{zh_list(apis[:5])}）读取个人信息（{types_zh(types)}）{len(hits)} 次"
                f"{callers_zh}；最早一次于 {iso_time(first.time)}（{ZH.source('hook')}）。"
            ),
            check="api-read", destinations=sdks,
        ))
    return out
