"""Beyond scope: CAC-NPI-5 (MIIT-2.1) against the app type's necessary list, MIIT-2.3 sensitive PI.

The necessary list (``necessary_pi.yaml`` via ``consentscope.appdata``) is a ceiling for what an
app may *require* for its basic function, not a ban (regulations.md §1.3, CAC-NPI-4/5):

- in a ``necessary_only`` session (a ``consent-scope`` event) PI outside the list is a strong
  CAC-NPI-5 finding (high, high);
- with no recorded scope, CAC-NPI-5 at medium: the user may have agreed to an extended feature;
- after ``full`` consent it is only a minimisation question: PIPL-6, low.

MIIT-2.3: sensitive PI (vocabulary: GB/T 35273 sensitive or a PIPL Art. 28 category) that the
app type does not list as necessary. Without an app type, need cannot be judged: low confidence.
"""

from __future__ import annotations

from consentscope.appdata import app_types
from consentscope.model import AuditFinding, SessionResult
from consentscope.profile import Profile

from ._evidence import data_types, destinations, destinations_zh, en_list, flows, requests, types_zh, zh_list
from ._model import Thresholds, Violation
from ._timeline import FULL, NECESSARY_ONLY, scope_at
from ._vocab import allowed_slugs, is_sensitive, label, slug


def rule_beyond_scope(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    app_type = app_types().get(profile.app.app_type) if profile.app.app_type else None
    if app_type is None:
        return []
    allowed = allowed_slugs(app_type)
    events = sorted(result.events, key=lambda e: e.time)
    by_scope: dict[str | None, list[AuditFinding]] = {}
    for f in result.findings:
        s = slug(f.finding, profile)
        if s is not None and s not in allowed:
            by_scope.setdefault(scope_at(events, f.time), []).append(f)
    need_en = ", ".join(app_type.necessary_pi) or "no personal information"
    need_zh = "、".join(label(s, "zh") for s in app_type.necessary_pi) or "无需任何个人信息"
    kind_en = f"Apps of the type \u201c{app_type.name_en}\u201d"
    kind_zh = app_type.name_zh
    out = []
    for scope, (rule, sev, conf, tail_en, tail_zh) in {
        NECESSARY_ONLY: ("CAC-NPI-5", "high", "high",
                         "while the user had agreed to the necessary information only.",
                         "且用户仅同意了必要个人信息。"),
        None: ("CAC-NPI-5", "medium", "medium",
               "Beyond the necessary scope unless the user agreed to it for an extended feature.",
               "除非用户为扩展功能另行同意，否则超出必要个人信息范围。"),
        FULL: ("PIPL-6", "low", "low",
               "The user agreed to everything, so this is a question of collecting no more than needed.",
               "用户已全部同意，此项仅涉及最小必要原则。"),
    }.items():
        hits = by_scope.get(scope)
        if not hits:
            continue
        types = data_types(hits)
        out.append(Violation(
            rule, sev, conf,
            f"{kind_en} ({app_type.name_zh}) need {need_en} for their basic function; {requests(hits)} request(s) "
            f"sent {en_list(types)} too. {tail_en}",
            flows(hits), (), result.id, types,
            explanation_zh=(
                f"{kind_zh}App 的基本功能所需个人信息为：{need_zh}；本次有 {requests(hits)} 个请求另外发送了"
                f"{types_zh(types)}。{tail_zh}"
            ),
            check=scope or "scope-unknown", destinations=destinations(hits),
        ))
    return out


def rule_sensitive(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    app_type = app_types().get(profile.app.app_type) if profile.app.app_type else None
    allowed = allowed_slugs(app_type) if app_type else frozenset()
    hits = [
        f for f in result.findings
        if is_sensitive(s := slug(f.finding, profile)) and s not in allowed
    ]
    if not hits:
        return []
    types = data_types(hits)
    slugs = sorted({s for f in hits if (s := slug(f.finding, profile))})
    if app_type is None:
        why_en = "the profile names no app type, so whether the app needs it was not checked"
        why_zh = "配置文件未指定App类型，未能判断是否为必要"
    else:
        why_en = (f"the app type \u201c{app_type.name_en}\u201d ({app_type.name_zh}) does not need it for its "
                  "basic function")
        why_zh = f"{app_type.name_zh}App 的基本功能不需要这些信息"
    return [Violation(
        "MIIT-2.3", "medium", "medium" if app_type else "low",
        f"Sensitive personal information ({en_list(slugs)}) was sent in {requests(hits)} "
        f"request(s) to {en_list(destinations(hits))}; {why_en}. Sensitive PI needs a specific purpose, necessity "
        "and separate consent (PIPL-28/29).",
        flows(hits), (), result.id, types,
        explanation_zh=(
            f"{requests(hits)} 个请求向 {zh_list(destinations_zh(hits))} 发送了敏感个人信息"
            f"（{zh_list([label(s, 'zh') for s in slugs])}）；{why_zh}。"
            "处理敏感个人信息须有特定目的和充分必要性，并取得单独同意（个人信息保护法第二十八、二十九条）。"
        ),
        check="sensitive", destinations=destinations(hits),
    )]
