"""MIIT-3 and PIPL-23: personal information to third parties.

regulations.md §1.3: an embedded SDK sending PI from the client straight to its vendor is
"providing to a third party" (IDM-5.1, M164-1.3). Traffic cannot tell an entrusted processor
from a separate one, so after a general consent the transfer is reported as PIPL-23 (separate
consent naming the recipient) at low severity; before consent or after a refusal it is MIIT-3.

Recipients: a destination with an SDK or a known other company (relation ``third-party``,
``same-group-sdk``, ``os-service``) is a known third party; ``unknown`` and ``cloud-tenant``
destinations may be the app's own servers, so they give a separate, low-confidence violation.

Contacts (packet captures: TLS/QUIC server names, DNS) show that the app talked to an SDK host,
not what it sent: a weaker, separate MIIT-3 (check ``contact-only``), only for hosts with no
content finding in the same phases.

With the privacy policy's SDK list in the project file (``[declared]``), any transfer to a
third party the list does not name is MIIT-3 too, whatever the phase (regulations.md §2: "or
to a recipient not in the declared SDK list"); see ``_declared.py``.
"""

from __future__ import annotations

from consentscope.pipeline import AuditContact, AuditFinding, SessionResult, iso_time
from consentscope.profile import Profile

from ._declared import Declared, undeclared_recipients
from ._evidence import contact_ref, data_types, destinations, en_list, flows, recipient, requests, zh_list
from ._model import Thresholds, Violation
from ._timeline import AFTER_CONSENT, CONSENT, WITHOUT_CONSENT, times


def rule_third_party(result: SessionResult, profile: Profile, th: Thresholds,
                     declared: Declared | None = None) -> list[Violation]:
    out: list[Violation] = []
    consent = times(result.events, CONSENT)
    early = [f for f in result.findings if f.phase in WITHOUT_CONSENT]
    known = [f for f in early if recipient(f.destination) == "known"]
    if known:
        out.append(_violation(
            result, "MIIT-3", "high", "high", known, consent, "sdk",
            "Without the user's consent, {n} request(s) sent personal information ({types}) to third parties "
            "({who}).",
            "未经用户同意，{n} 个请求将个人信息（{types}）发送给第三方（{who}）。",
        ))
    unknown = [f for f in early if recipient(f.destination) == "unknown"]
    if unknown:
        out.append(_violation(
            result, "MIIT-3", "medium", "low", unknown, consent, "unknown-recipient",
            "Without the user's consent, {n} request(s) sent personal information ({types}) to destinations of "
            "unknown ownership ({who}); if they are the app's own servers, add them to first_party_domains.",
            "未经用户同意，{n} 个请求将个人信息（{types}）发往归属不明的目的地（{who}）；如为App自有服务器，"
            "请在 first_party_domains 中声明。",
        ))
    later = [f for f in result.findings if f.phase == AFTER_CONSENT and recipient(f.destination) == "known"]
    if later:
        out.append(_violation(
            result, "PIPL-23", "low", "medium", later, consent, "after-general-consent",
            "After a general consent, {n} request(s) sent personal information ({types}) to third parties ({who}); "
            "providing it to another processor needs separate consent naming the recipient, unless the SDK "
            "only processes it on the app's behalf (check the policy's SDK list).",
            "用户概括同意后，{n} 个请求将个人信息（{types}）提供给第三方（{who}）；向其他个人信息处理者提供个人信息"
            "须告知接收方并取得单独同意（受托处理的SDK除外，请核对隐私政策中的第三方SDK清单）。",
        ))
    out.extend(_contacts_only(result, consent))
    if declared is not None:
        out.extend(undeclared_recipients(result, declared))
    return out


def _violation(
    result: SessionResult, rule: str, severity: str, confidence: str, hits: list[AuditFinding],
    events: tuple[str, ...], check: str, en: str, zh: str,
) -> Violation:
    types, who = data_types(hits), destinations(hits)
    n = requests(hits)
    return Violation(
        rule, severity, confidence,
        en.format(n=n, types=en_list(types), who=en_list(who)),
        flows(hits), events, result.id, types,
        explanation_zh=zh.format(n=n, types=zh_list(types), who=zh_list(who)),
        check=check, destinations=who,
    )


def _contacts_only(result: SessionResult, consent: tuple[str, ...]) -> list[Violation]:
    with_content = {f.host for f in result.findings if f.phase in WITHOUT_CONSENT}
    hits: list[AuditContact] = [
        c for c in result.contacts
        if c.phase in WITHOUT_CONSENT and c.destination.sdk and recipient(c.destination) == "known"
        and c.contact.host not in with_content
    ]
    if not hits:
        return []
    sdks = tuple(sorted({c.destination.sdk or c.contact.host for c in hits}))
    first = min(hits, key=lambda c: c.contact.time)
    return [Violation(
        "MIIT-3", "low", "low",
        f"Before consent the app contacted {len(sdks)} third-party SDK host(s) ({en_list(sdks)}), the first at "
        f"{iso_time(first.contact.time)} ({first.contact.via} {first.contact.host}); the content was not visible, "
        "so this shows a connection, not the data sent.",
        tuple(dict.fromkeys(contact_ref(c) for c in hits)), consent, result.id, (),
        explanation_zh=(
            f"用户同意前，App 已连接 {len(sdks)} 个第三方SDK主机（{zh_list(sdks)}），最早于 "
            f"{iso_time(first.contact.time)}（{first.contact.via} {first.contact.host}）；内容不可见（加密），"
            "仅能证明存在连接，不能证明发送了哪些数据。"
        ),
        check="contact-only", destinations=sdks,
    )]
