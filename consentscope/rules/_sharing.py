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

from consentscope.model import AuditContact, SessionResult, Via
from consentscope.profile import Profile

from ._declared import Declared, undeclared_recipients
from ._evidence import contact_violation, finding_violation, recipient
from ._model import Thresholds, Violation
from ._timeline import AFTER_CONSENT, CONSENT, WITHOUT_CONSENT, times


def rule_third_party(result: SessionResult, profile: Profile, th: Thresholds,
                     declared: Declared | None = None) -> list[Violation]:
    out: list[Violation] = []
    consent = times(result.events, CONSENT)
    early = [f for f in result.findings if f.phase in WITHOUT_CONSENT]
    known = [f for f in early if recipient(f.destination) == "known"]
    if known:
        out.append(finding_violation(
            result, "MIIT-3", "high", "high", known, "sdk",
            "Without the user's consent, {n} request(s) sent personal information ({types}) to third parties "
            "({who}).",
            "未经用户同意，{n} 个请求将个人信息（{types}）发送给第三方（{who}）。", consent,
        ))
    unknown = [f for f in early if recipient(f.destination) == "unknown"]
    if unknown:
        out.append(finding_violation(
            result, "MIIT-3", "medium", "low", unknown, "unknown-recipient",
            "Without the user's consent, {n} request(s) sent personal information ({types}) to destinations of "
            "unknown ownership ({who}); if they are the app's own servers, add them to first_party_domains.",
            "未经用户同意，{n} 个请求将个人信息（{types}）发往归属不明的目的地（{who}）；如为App自有服务器，"
            "请在 first_party_domains 中声明。", consent,
        ))
    later = [f for f in result.findings if f.phase == AFTER_CONSENT and recipient(f.destination) == "known"]
    if later:
        out.append(finding_violation(
            result, "PIPL-23", "low", "medium", later, "after-general-consent",
            "After a general consent, {n} request(s) sent personal information ({types}) to third parties ({who}); "
            "providing it to another processor needs separate consent naming the recipient, unless the SDK "
            "only processes it on the app's behalf (check the policy's SDK list).",
            "用户概括同意后，{n} 个请求将个人信息（{types}）提供给第三方（{who}）；向其他个人信息处理者提供个人信息"
            "须告知接收方并取得单独同意（受托处理的SDK除外，请核对隐私政策中的第三方SDK清单）。", consent,
        ))
    out.extend(_contacts_only(result, consent))
    if declared is not None:
        out.extend(undeclared_recipients(result, declared))
    return out


def _contacts_only(result: SessionResult, consent: tuple[str, ...]) -> list[Violation]:
    with_content = {f.host for f in result.findings if f.phase in WITHOUT_CONSENT}
    hits: list[AuditContact] = [
        c for c in result.contacts
        if c.phase in WITHOUT_CONSENT and c.destination.sdk and recipient(c.destination) == "known"
        and c.contact.host not in with_content
    ]
    if not hits:
        return []
    opaque = [c for c in hits if c.contact.via == Via.OPAQUE_REQUEST]
    hidden = sum(c.contact.size or 0 for c in opaque)
    sent_en = (f" {len(opaque)} request(s) carried {hidden} bytes of content that could not be read "
               "(encrypted or unknown binary);" if opaque else "")
    sent_zh = f"其中 {len(opaque)} 个请求携带了 {hidden} 字节无法读取的内容（加密或未知二进制）；" if opaque else ""
    return [contact_violation(
        result, "MIIT-3", hits, "contact-only",
        "Before consent the app contacted {count} third-party SDK host(s) ({sdks}), the first at {first};"
        + sent_en.replace("{", "{{").replace("}", "}}")
        + " the content was not visible, so this shows a transmission, not the data sent.",
        "用户同意前，App 已连接 {count} 个第三方SDK主机（{sdks}），最早于 {first}；"
        + sent_zh.replace("{", "{{").replace("}", "}}")
        + "内容不可见（加密），仅能证明存在传输，不能证明发送了哪些数据。",
        consent,
    )]
