"""MIIT-4 targeted push, PIPL-24 after personalisation was switched off.

Behaviour data (app lists, browsing and search history, app-usage records) going to advertising,
attribution or push SDKs is the data targeted push and precision marketing run on (regulations.md
§2 MIIT-4, M164-1.4). Traffic shows only that part (P): whether the app labels it and offers an
off switch is for the tester (checklist). After a ``personalization-off`` event the same transfer
is stronger evidence: PIPL-24.
"""

from __future__ import annotations

from consentscope.model import SessionResult, iso_time
from consentscope.profile import Profile

from ._evidence import data_types, destinations, destinations_zh, en_list, flows, requests, types_zh, zh_list
from ._model import Thresholds, Violation
from ._timeline import PERSONALIZATION_OFF, PERSONALIZATION_ON, last_event_before, state_at
from ._vocab import BEHAVIOUR_SLUGS, slug

#: tracker_db categories that do targeting or reach the user with it
TARGETING_CATEGORIES = frozenset({"advertising", "attribution", "push"})


def rule_targeted_push(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    hits = [
        f for f in result.findings
        if slug(f.finding, profile) in BEHAVIOUR_SLUGS and (f.destination.category or "") in TARGETING_CATEGORIES
    ]
    if not hits:
        return []
    events = sorted(result.events, key=lambda e: e.time)
    off = [f for f in hits if state_at(events, f.time, PERSONALIZATION_OFF, PERSONALIZATION_ON)]
    out = []
    if off:
        proof = tuple(dict.fromkeys(
            iso_time(e.time) for f in off if (e := last_event_before(events, PERSONALIZATION_OFF, f.time))
        ))
        types, who = data_types(off), destinations(off)
        out.append(Violation(
            "PIPL-24", "high", "medium",
            f"After the user switched personalised recommendations off, {requests(off)} request(s) still sent "
            f"{en_list(types)} to advertising/push SDKs ({en_list(who)}).",
            flows(off), proof, result.id, types,
            explanation_zh=(
                f"用户关闭个性化推荐后，仍有 {requests(off)} 个请求将 {types_zh(types)} "
                f"发送给广告/推送类SDK（{zh_list(destinations_zh(off))}）。"
            ),
            check="after-personalization-off", destinations=who,
        ))
    types, who = data_types(hits), destinations(hits)
    out.append(Violation(
        "MIIT-4", "medium", "medium",
        f"{en_list(types)} went to advertising/push SDKs ({en_list(who)}) in {requests(hits)} request(s): the data "
        "targeted push and precision marketing use. The app must say so, mark it, and offer an off switch "
        "(check the UI).",
        flows(hits), (), result.id, types,
        explanation_zh=(
            f"{types_zh(types)} 被发送给广告/推送类SDK（{zh_list(destinations_zh(hits))}），"
            f"共 {requests(hits)} 个请求："
            "这是定向推送和精准营销所用的数据。"
            "App 应明示并显著标识，并提供关闭选项（请在界面中核实）。"
        ),
        check="behaviour-data", destinations=who,
    ))
    return out
