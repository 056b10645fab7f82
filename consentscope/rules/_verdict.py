"""The verdict per MIIT category, and the checklist of what traffic cannot show.

Verdicts never say "compliant": traffic that was not seen (pinned TLS, other channels, the
server side) is unobserved, not clean (regulations.md §1.4). "Not seen" is a claim, made
only where the traffic the category depends on was readable. Statuses:

- ``violation``: a violation of medium or high confidence;
- ``suspected``: only low-confidence violations;
- ``accepted``: violations were found but all are accepted in the project file;
- ``cannot-tell``: the traffic cannot decide it: no consent event was recorded, or payloads
  or connections it depends on could not be read (encrypted, pinned, passed through);
- ``not-seen``: the checks ran on readable traffic and found nothing;
- ``checklist``: not visible in traffic; see the checklist.

In the JSON (``verdict_json``) the first three are ``violation`` (``detail`` keeps which).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consentscope.consent import NO_CONSENT_RECORDED
from consentscope.model import UNREAD_VIA, AuditContact, Coverage, SessionResult, Via
from consentscope.profile import Profile

from ._evidence import contact_zh, recipient, zh_list
from ._model import CATEGORIES, Category, Violation
from ._timeline import PERMISSION_ASKED, PERMISSION_DENIED, WITHOUT_CONSENT

STATUS = {
    "violation": ("Violation found", "发现问题"),
    "suspected": ("Suspected", "疑似问题"),
    "accepted": ("Found, accepted", "已发现，已豁免"),
    "cannot-tell": ("Cannot tell", "无法判断"),
    "not-seen": ("Not seen in readable traffic", "可读流量中未发现"),
    "checklist": ("Check by hand", "需人工核查"),
}
#: the statuses of the JSON ``verdicts`` list
JSON_STATUS = {"violation": "violation", "suspected": "violation", "accepted": "violation",
               "cannot-tell": "cannot-tell", "not-seen": "not-seen", "checklist": "checklist"}


@dataclass(frozen=True, slots=True)
class Verdict:
    category: Category
    status: str
    violations: tuple[Violation, ...]
    suppressed: tuple[Violation, ...]
    note_en: str = ""
    note_zh: str = ""

    def label(self, lang: str = "en") -> str:
        en, zh = STATUS[self.status]
        return zh if lang == "zh" else en

    def name(self, lang: str = "en") -> str:
        return self.category.name_zh if lang == "zh" else self.category.name_en

    def note(self, lang: str = "en") -> str:
        return self.note_zh if lang == "zh" else self.note_en

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule for v in self.violations))


def _unread(c: AuditContact) -> bool:
    return (c.contact.via in UNREAD_VIA or c.contact.via == Via.OPAQUE_REQUEST) and not c.contact.decrypted


def _who(contacts: Sequence[AuditContact]) -> tuple[str, str]:
    """The destinations in English and in Chinese (the SDKs' Chinese names)."""
    names: dict[str, str] = {}
    for c in contacts:
        names.setdefault(c.destination.sdk or c.contact.host or c.contact.ip or "?", contact_zh(c))
    keys = sorted(names)
    en = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return en, zh_list([names[k] for k in keys])


def _unread_notes(kind: str, contacts: Sequence[AuditContact]) -> tuple[str, str]:
    n = len(contacts)
    who, who_zh = _who(contacts)
    if kind == "before":
        third = all(recipient(c.destination) != "first" for c in contacts)
        return (f"{n} request(s) or connection(s) {'to third parties ' if third else ''}before consent could not "
                f"be read ({who}): encrypted, pinned or passed through",
                f"同意前有 {n} 个{'发往第三方的' if third else ''}请求或连接无法读取（{who_zh}）："
                "内容加密、证书固定或被直通")
    return (f"{n} request(s) or connection(s) could not be read ({who}); what they carried is unknown",
            f"有 {n} 个请求或连接无法读取（{who_zh}），其内容未知")


def _incomplete_notes(sessions: Sequence[SessionResult], coverage: Coverage) -> tuple[str, str] | None:
    """Why the capture is no complete record of the traffic, when it is not: records the
    reader skipped (``Coverage.skipped``) or a capture that ends in damage (``errors``)."""
    damaged = sum(1 for s in sessions if s.errors)
    skipped = coverage.skipped
    if not damaged and not skipped:
        return None
    en: list[str] = []
    zh: list[str] = []
    if skipped:
        what = ", ".join(f"{name}: {n}" for name, n in sorted(skipped.items()))
        en.append(f"parts of the capture could not be read ({what})")
        zh.append(f"抓包文件中有部分内容无法读取（{what}）")
    if damaged:
        en.append(f"{damaged} capture file(s) end in damage; what followed was not read")
        zh.append(f"{damaged} 个抓包文件在损坏处中断，其后内容未读取")
    return "; ".join(en), "；".join(zh)


def verdicts(sessions: Sequence[SessionResult], profile: Profile | None = None) -> list[Verdict]:
    """One verdict per MIIT category, from the sessions' violations (set by ``evaluate``), their
    timelines and how much of their traffic could be read."""
    all_v: list[Violation] = [v for s in sessions for v in s.violations]
    no_consent = any(f.phase == NO_CONSENT_RECORDED for s in sessions for f in s.findings) or not any(
        e.event in ("consent", "refusal", "withdrawal") for s in sessions for e in s.events)
    permission_events = any(e.event in (PERMISSION_ASKED, PERMISSION_DENIED) for s in sessions for e in s.events)
    has_app_type = bool(profile and profile.app.app_type)
    coverage = Coverage()
    for s in sessions:
        coverage.merge(s.coverage)
    unread = [c for s in sessions for c in s.contacts if _unread(c)]
    unread_early = [c for c in unread if c.phase in WITHOUT_CONSENT]
    unread_early_third = [c for c in unread_early if recipient(c.destination) != "first"]
    first_party_opaque = sum(d.opaque for d in coverage.destinations.values() if d.party == "first-party")
    nothing_read = coverage.requests == 0 and not any(s.contacts or s.findings for s in sessions)
    incomplete = _incomplete_notes(sessions, coverage)
    out = []
    for cat in CATEGORIES.values():
        active = tuple(v for v in all_v if v.category == cat.id and not v.suppressed)
        accepted = tuple(v for v in all_v if v.category == cat.id and v.suppressed)
        note_en = note_zh = ""
        if any(v.confidence in ("high", "medium") for v in active):
            status = "violation"
        elif active:
            status = "suspected"
        elif accepted:
            status = "accepted"
        elif cat.id == "MIIT-6" and permission_events:
            status = "not-seen"
            note_en = "from the permission events recorded in the timeline"
            note_zh = "依据时间线中记录的权限事件"
        elif cat.visibility == "N":
            status = "checklist"
        elif nothing_read:
            status = "cannot-tell"
            note_en, note_zh = "no traffic was read in this session", "本次会话未读取到任何流量"
        elif cat.id in ("MIIT-1", "MIIT-2", "MIIT-3") and no_consent:
            status = "cannot-tell"
            note_en = "no consent event was recorded: mark consent (--consent-marker, --consent-at, --timeline)"
            note_zh = "未记录同意事件：请标记同意时间（--consent-marker、--consent-at 或 --timeline）"
        elif cat.id == "MIIT-1" and (unread_early or first_party_opaque):
            status = "cannot-tell"
            note_en, note_zh = _unread_notes("before", unread_early) if unread_early else (
                f"{first_party_opaque} request(s) to the app's own servers could not be read",
                f"有 {first_party_opaque} 个发往App自有服务器的请求无法读取")
        elif cat.id == "MIIT-3" and unread_early_third:
            status = "cannot-tell"
            note_en, note_zh = _unread_notes("before", unread_early_third)
        elif incomplete is not None and cat.id != "MIIT-6":
            status = "cannot-tell"
            note_en, note_zh = incomplete
        elif cat.id not in ("MIIT-1", "MIIT-3", "MIIT-6") and (unread or coverage.opaque or coverage.truncated):
            status = "cannot-tell"
            if unread:
                note_en, note_zh = _unread_notes("any", unread)
            else:
                n = coverage.opaque + coverage.truncated
                note_en = f"{n} of {coverage.requests} request(s) could not be read in full"
                note_zh = f"{coverage.requests} 个请求中有 {n} 个无法完整读取"
        else:
            status = "not-seen"
            if cat.id == "MIIT-2" and not has_app_type:
                note_en = "no app type in the profile: the necessary-information scope was not checked"
                note_zh = "配置文件未指定App类型：未核对必要个人信息范围"
            elif cat.visibility == "P":
                note_en = "traffic shows only part of it: see the checklist"
                note_zh = "流量只能反映部分情况：见人工核查清单"
        if status in ("violation", "suspected") and cat.id == "MIIT-1" and no_consent:
            note_en = "some findings have no consent phase (no consent event recorded)"
            note_zh = "部分发现无同意阶段（未记录同意事件）"
        out.append(Verdict(cat, status, active, accepted, note_en, note_zh))
    return out


@dataclass(frozen=True, slots=True)
class CheckItem:
    ref: str
    title_en: str
    title_zh: str
    how_en: str
    how_zh: str

    def title(self, lang: str = "en") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def how(self, lang: str = "en") -> str:
        return self.how_zh if lang == "zh" else self.how_en


#: What the tester records because traffic cannot show it (regulations.md §1.4, §2, §3, §10).
CHECKLIST: tuple[CheckItem, ...] = (
    CheckItem("MIIT-1.1 / IDM-1", "Privacy policy shown at first run", "未公开收集使用规则 / 首次运行未提示隐私政策",
              "Screen-record the first launch after clearing data: a pop-up with the policy before any use; the "
              "policy reachable within 4 taps, readable, in simplified Chinese.",
              "清除数据后首次启动全程录屏：使用前应以弹窗等方式提示阅读隐私政策；政策在4次点击内可达、清晰易读、为简体中文。"),
    CheckItem("IDM-2.1 / NDSR-21", "Every SDK and data type declared",
              "未逐一列出收集使用个人信息的目的、方式、范围（含第三方SDK）",
              "Compare this report's SDK table and data types with the policy's lists of collected PI and "
              "third-party SDKs; note each one missing.",
              "将本报告的SDK表和数据类型与隐私政策中的个人信息收集清单、第三方SDK共享清单逐项比对，记录缺失项。"),
    CheckItem("MIIT-4 / IDM-3.6", "Targeted push is marked and can be switched off", "强制用户使用定向推送功能",
              "Find the personalised recommendation label and the off switch; switch it off, mark personalization-off "
              "in the timeline and repeat the session.",
              "查找“个性化推荐”标识及关闭选项；关闭后在时间线中记录 personalization-off 并重新测试。"),
    CheckItem("MIIT-5 / IDM-4.2", "No service unless permissions are granted", "不给权限不让用",
              "Refuse each permission and each non-necessary purpose; does the basic function still work, or does "
              "the app exit? (screen recording)",
              "逐一拒绝各项权限及非必要个人信息；基本功能是否仍可使用，App是否退出？（录屏）"),
    CheckItem("MIIT-6 / IDM-3.2", "Permissions asked again after refusal", "频繁申请权限",
              "Record permission-asked / permission-denied events (with --timeline); consentscope flags a re-ask "
              "within 48 h. Count pop-ups after refusal and their times.",
              "记录 permission-asked / permission-denied 事件（--timeline）；48小时内再次申请会被标出。"
              "统计拒绝后的弹窗次数与时间。"),
    CheckItem("MIIT-7 / IDM-3.1", "Permissions asked too early or beyond the function", "过度索取权限",
              "Compare the manifest's permissions with the functions; note permissions asked at start-up rather "
              "than when the feature is used.",
              "对照清单文件中的权限与业务功能；记录在启动时而非使用相应功能时申请的权限。"),
    CheckItem("MIIT-8 / IDM-6", "Account cancellation possible without obstacles", "为账号注销设置障碍",
              "Cancel the account: steps, documents demanded, days until done (at most 15 working days); mark "
              "account-deletion in the timeline and keep capturing.",
              "注销账号：记录步骤、要求提供的材料、完成所需天数（不超过15个工作日）；"
              "在时间线中记录 account-deletion 并继续抓包。"),
    CheckItem("CAC-NPI-4", "Basic function works with necessary information only",
              "拒绝非必要个人信息后不得拒绝提供基本功能",
              "Run a second session agreeing to necessary information only (mark consent-scope necessary_only); "
              "the basic function must work.",
              "另行测试一次仅同意必要个人信息（记录 consent-scope necessary_only）；基本功能须可正常使用。"),
    CheckItem("M164-2.2", "Self-start and associated start", "APP频繁自启动和关联启动",
              "With adb logcat / dumpsys, note starts of this app or others it wakes, without user action.",
              "通过 adb logcat / dumpsys 记录无用户操作时本App的自启动或唤醒其他App的情况。"),
    CheckItem("Unobserved", "Traffic the proxy could not read", "未能观察到的流量",
              "Pinned TLS, QUIC and other channels appear as connections only; server-to-server sharing never "
              "appears. Treat them as unobserved, not as clean.",
              "证书固定、QUIC等通道仅能看到连接；服务器之间的共享完全不可见。应视为“未观察到”，而非“无问题”。"),
)
