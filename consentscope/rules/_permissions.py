"""Permission checks from the timeline (MIIT-5 to MIIT-7 are not visible in traffic).

The tester, a UI-automation run or a hook log records ``permission-asked``,
``permission-granted`` and ``permission-denied`` with the permission's name in ``detail``
(``android.permission.ACCESS_FINE_LOCATION``, ``location``…; names are grouped as the dialog
groups them, so fine and coarse location are one permission).

- MIIT-6: a denied permission asked again within ``reask_window_s`` (48 h: app-store review
  practice, not a regulation, regulations.md §9), hence low confidence. A second denial with no
  ask recorded in between counts as a re-ask: the dialog was shown.
- IDM-3.1: a permission that can collect PI asked for before the first consent decision.
- IDM-3.3: location-class data (coordinates, Wi-Fi BSSID/SSID) sent while the location
  permission stood denied: collection beyond what the user authorised.
"""

from __future__ import annotations

from consentscope.consent import PHASE_AFTER
from consentscope.model import SessionResult, TimelineEvent, iso_time
from consentscope.profile import Profile

from ._evidence import ZH, data_types, destinations, destinations_zh, en_list, flows, requests, types_zh, zh_list
from ._model import Thresholds, Violation
from ._timeline import PERMISSION_ASKED, PERMISSION_DENIED, PERMISSION_GRANTED
from ._vocab import permission_group, slug

#: permission groups through which an app can read personal information
PI_PERMISSIONS = frozenset({
    "location", "contacts", "phone", "call_log", "sms", "camera", "microphone", "calendar", "storage",
    "nearby_devices", "app_list",
})
_LOCATION_SLUGS = frozenset({"location_precise", "location_coarse", "location_track", "wifi_info"})
_PERMISSION_EVENTS = (PERMISSION_ASKED, PERMISSION_GRANTED, PERMISSION_DENIED)


def rule_permission_reasked(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    denied_at: dict[str, float] = {}
    asked_since_denial: set[str] = set()
    reasks: dict[str, list[tuple[float, float]]] = {}
    for e in sorted(result.events, key=lambda e: e.time):
        if e.event not in _PERMISSION_EVENTS or not e.detail.strip():
            continue
        g = permission_group(e.detail)
        if e.event == PERMISSION_GRANTED:
            denied_at.pop(g, None)
            continue
        shown_again = e.event == PERMISSION_ASKED or g not in asked_since_denial
        if g in denied_at and shown_again and e.time - denied_at[g] <= th.reask_window_s:
            reasks.setdefault(g, []).append((denied_at[g], e.time))
        if e.event == PERMISSION_ASKED:
            asked_since_denial.add(g)
        else:
            denied_at[g] = e.time
            asked_since_denial.discard(g)
    out = []
    for g, pairs in sorted(reasks.items()):
        first_gap_h = (pairs[0][1] - pairs[0][0]) / 3600
        window_h = th.reask_window_s / 3600
        out.append(Violation(
            "MIIT-6", "medium", "low",
            f"The {g} permission was asked for again {len(pairs)} time(s) after the user denied it, the first "
            f"{first_gap_h:.1f} h after the denial (within {window_h:g} h: app-store practice, not a regulation).",
            (), tuple(dict.fromkeys(iso_time(t) for pair in pairs for t in pair)), result.id, (),
            explanation_zh=(
                f"用户拒绝{ZH.permission(g)}权限后，App 又 {len(pairs)} 次申请该权限，"
                f"首次在拒绝后 {first_gap_h:.1f} 小时"
                f"（{window_h:g} 小时内：应用商店审核惯例，非法规规定）。"
            ),
            check="reask", destinations=(), observed=(("permission", g), ("reasks", len(pairs))),
        ))
    return out


def rule_permission_before_consent(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    events = sorted(result.events, key=lambda e: e.time)
    decision = next((e for e in events if e.event in PHASE_AFTER), None)
    if decision is None:
        return []
    early = [
        e for e in events
        if e.time < decision.time and e.event in _PERMISSION_EVENTS and permission_group(e.detail) in PI_PERMISSIONS
    ]
    if not early:
        return []
    groups = sorted({permission_group(e.detail) for e in early})
    return [Violation(
        "IDM-3.1", "medium", "medium",
        f"The app asked for the {en_list(groups)} permission(s) before the user had decided on the privacy "
        f"policy (first at {iso_time(early[0].time)}, decision at {iso_time(decision.time)}).",
        (), (*dict.fromkeys(iso_time(e.time) for e in early), iso_time(decision.time)), result.id, (),
        explanation_zh=(
            f"用户对隐私政策作出选择前，App 已申请{zh_list([ZH.permission(g) for g in groups])}权限"
            f"（首次于 {iso_time(early[0].time)}，"
            f"用户选择于 {iso_time(decision.time)}）。"
        ),
        check="before-consent", observed=(("permissions", ",".join(groups)),),
    )]


def rule_location_after_denial(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    events = sorted(
        (e for e in result.events if e.event in (PERMISSION_GRANTED, PERMISSION_DENIED)
         and permission_group(e.detail) == "location"),
        key=lambda e: e.time,
    )
    if not events:
        return []

    def denial(t: float) -> TimelineEvent | None:
        last = None
        for e in events:
            if e.time > t:
                break
            last = e
        return last if last is not None and last.event == PERMISSION_DENIED else None

    hits = [f for f in result.findings if slug(f.finding, profile) in _LOCATION_SLUGS and denial(f.time)]
    if not hits:
        return []
    proof = tuple(dict.fromkeys(iso_time(d.time) for f in hits if (d := denial(f.time)) is not None))
    types, who = data_types(hits), destinations(hits)
    return [Violation(
        "IDM-3.3", "medium", "medium",
        f"After the user denied the location permission, {requests(hits)} request(s) still sent location-class "
        f"data ({en_list(types)}) to {en_list(who)}: location from Wi-Fi, a cache or another source exceeds what "
        "the user authorised.",
        flows(hits), proof, result.id, types,
        explanation_zh=(
            f"用户拒绝位置权限后，仍有 {requests(hits)} 个请求向 {zh_list(destinations_zh(hits))} 发送位置类信息"
            f"（{types_zh(types)}）："
            "通过Wi-Fi、缓存或其他途径获取位置，超出用户授权范围。"
        ),
        check="location-denied", destinations=who,
    )]
