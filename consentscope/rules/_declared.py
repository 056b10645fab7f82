"""What the privacy policy declares, and MIIT-1.1 / IDM-2.1 / MIIT-3 checks against it.

regulations.md §3 IDM-2.1: the policy must list, item by item, what the app *and its embedded
SDKs* collect; §2 MIIT-1.1 and MIIT-3 treat personal information whose type or recipient the
policy does not disclose as collected or shared without consent, and §10 maps "PI type or
vendor not in the declared inventory / SDK list" to IDM-2.1. Traffic gives the observed
inventory (data type x destination); the tester copies the declared one from the policy's
collection list (个人信息收集清单) and SDK list (第三方信息共享清单) into the project file::

    [declared]                          # the privacy policy's lists
    data_types = ["phone_number", "location", "android_id"]    # what the app itself collects
    [[declared.sdk]]
    name = "Umeng Analytics (U-App)"    # SDK or vendor as the report names it, or a domain
    data_types = ["android_id", "oaid"] # optional: what the SDK list says it collects

MIIT-1.1 (no notice) needs no inventory, only the timeline: personal information that left
between the recorded app start and the privacy notice (``policy-shown``) was sent before the
user could know the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentscope.model import AuditContact, AuditFinding, SessionResult, iso_time
from consentscope.profile import DEVICE_KEYS, PERSON_KEYS, Profile

from ._evidence import (
    contact_violation,
    data_types,
    destinations,
    destinations_zh,
    en_list,
    finding_violation,
    flows,
    recipient,
    requests,
    types_zh,
    zh_list,
)
from ._model import Thresholds, Violation
from ._timeline import CONSENT, POLICY_SHOWN, REFUSAL

APP_START = "app-start"
#: every data type a finding can have; a declared list naming another is a typo
DATA_TYPES = frozenset({*DEVICE_KEYS, *PERSON_KEYS, "location", "installed_apps", "contacts"})


class DeclaredError(ValueError):
    """A ``[declared]`` table that cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class DeclaredRecipient:
    name: str  # lower case: an SDK or vendor name, or a domain
    data_types: tuple[str, ...] | None  # None: the SDK list does not itemise them

    def matches(self, sdk: str | None, vendor: str | None, host: str) -> bool:
        n = self.name
        return n in ((sdk or "").lower(), (vendor or "").lower()) or host == n or host.endswith("." + n)


@dataclass(frozen=True, slots=True)
class Declared:
    data_types: tuple[str, ...] = ()
    recipients: tuple[DeclaredRecipient, ...] = ()

    def recipient_for(self, sdk: str | None, vendor: str | None, host: str) -> DeclaredRecipient | None:
        h = host.lower().rstrip(".")
        return next((r for r in self.recipients if r.matches(sdk, vendor, h)), None)


def _types(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeclaredError(f"{where}: expected a list of data types such as [\"imei\", \"location\"]")
    for v in value:
        if v not in DATA_TYPES:
            raise DeclaredError(f"{where}: unknown data type {v!r}; known: {', '.join(sorted(DATA_TYPES))}")
    return tuple(value)


def parse_declared(table: object, where: str = "declared") -> Declared:
    if not isinstance(table, dict):
        raise DeclaredError(f"{where}: expected a table [declared]")
    for k in table:
        if k not in ("data_types", "sdk"):
            raise DeclaredError(f"{where}.{k}: unknown key; expected data_types and [[declared.sdk]]")
    own = _types(table.get("data_types", []), f"{where}.data_types")
    entries = table.get("sdk", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DeclaredError(f"{where}.sdk: expected [[declared.sdk]] tables")
    out = []
    for i, e in enumerate(entries, 1):
        w = f"{where}.sdk #{i}"
        for k in e:
            if k not in ("name", "data_types"):
                raise DeclaredError(f"{w}: {k}: unknown key; expected name and data_types")
        name = e.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DeclaredError(f"{w}: name: expected the SDK's, the vendor's or a domain's name")
        types = _types(e["data_types"], f"{w}.data_types") if "data_types" in e else None
        out.append(DeclaredRecipient(name.strip().lower().rstrip("."), types))
    return Declared(own, tuple(out))


def rule_no_notice(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    """MIIT-1.1: personal information sent between the app's start and the privacy notice.

    Needs the start (``app-start``) and the notice (``policy-shown``) in the timeline. A
    session with a consent or refusal but no ``policy-shown`` says a notice came at some
    unknown time: nothing is claimed (its early uploads are MIIT-1.2). A session with no
    notice, consent or refusal at all after a recorded start is reported at low confidence.
    """
    starts = sorted(e.time for e in result.events if e.event == APP_START)
    if not starts:
        return []  # the tester did not record the start: whether a notice came first is unknown
    notices = sorted(e.time for e in result.events if e.event == POLICY_SHOWN)
    decided = any(e.event in (CONSENT, REFUSAL) for e in result.events)
    if not notices and decided:
        return []
    until = notices[0] if notices else float("inf")
    hits = [f for f in result.findings if starts[0] <= f.time < until]
    if not hits:
        return []
    types, who = data_types(hits), destinations(hits)
    if notices:
        when_en, when_zh = f"before the privacy notice at {iso_time(until)}", f"在 {iso_time(until)} 提示隐私政策之前"
    else:
        when_en, when_zh = "with no privacy notice recorded in the session", "本次会话未记录任何隐私政策提示"
    return [Violation(
        "MIIT-1.1", "high", "medium" if notices else "low",
        f"After the app started at {iso_time(starts[0])}, {when_en}, {requests(hits)} request(s) sent personal "
        f"information ({en_list(types)}) to {en_list(who)}: the user had not been told what is collected.",
        flows(hits), tuple(iso_time(t) for t in (starts[0], *notices[:1])), result.id, types,
        explanation_zh=(
            f"App 于 {iso_time(starts[0])} 启动后，{when_zh}，已有 {requests(hits)} 个请求向 "
            f"{zh_list(destinations_zh(hits))} 发送个人信息（{types_zh(types)}）：用户尚未被告知收集规则。"
        ),
        check="no-notice", destinations=who,
    )]


def rule_undeclared(result: SessionResult, profile: Profile, th: Thresholds,
                    declared: Declared | None = None) -> list[Violation]:
    """IDM-2.1: data types the policy does not list for the recipient they went to (the app
    itself, or a named SDK whose entry itemises its data types)."""
    if declared is None:
        return []
    own = set(declared.data_types)
    hits: list[AuditFinding] = []
    for f in result.findings:
        kind = recipient(f.destination)
        if kind == "first":
            if f.finding.data_type not in own:
                hits.append(f)
        elif kind == "known":
            r = declared.recipient_for(f.destination.sdk, f.destination.vendor, f.host)
            if r is not None and r.data_types is not None and f.finding.data_type not in r.data_types:
                hits.append(f)
    if not hits:
        return []
    return [finding_violation(
        result, "IDM-2.1", "medium", "high", hits, "undeclared-data",
        "{n} request(s) sent personal information ({types}) to {who} that the privacy policy's collection list "
        "or SDK list does not declare for that recipient.",
        "{n} 个请求向 {who} 发送了隐私政策个人信息收集清单或第三方SDK清单中未列明的个人信息（{types}）。",
    )]


def undeclared_recipients(result: SessionResult, declared: Declared) -> list[Violation]:
    """MIIT-3 (called by the MIIT-3 unit): transfers to third parties the SDK list does not name,
    in any phase; bare connections to such SDK hosts as a weaker, separate violation."""
    hits = [
        f for f in result.findings
        if recipient(f.destination) == "known"
        and declared.recipient_for(f.destination.sdk, f.destination.vendor, f.host) is None
    ]
    out = []
    if hits:
        out.append(finding_violation(
            result, "MIIT-3", "high", "high", hits, "undeclared-recipient",
            "{n} request(s) sent personal information ({types}) to third parties the privacy policy's SDK list "
            "does not name ({who}).",
            "{n} 个请求将个人信息（{types}）发送给隐私政策第三方SDK清单未列明的第三方（{who}）。",
        ))
    shown = {f.host for f in hits}
    contacts: list[AuditContact] = [
        c for c in result.contacts
        if c.destination.sdk and recipient(c.destination) == "known" and c.contact.host not in shown
        and declared.recipient_for(c.destination.sdk, c.destination.vendor, c.contact.host or "") is None
    ]
    if contacts:
        out.append(contact_violation(
            result, "MIIT-3", contacts, "undeclared-contact",
            "The app connected to {count} SDK host(s) the privacy policy's SDK list does not name ({sdks}), the "
            "first at {first}; the content was not visible, so this shows an undeclared recipient, not the data "
            "sent.",
            "App 连接了 {count} 个隐私政策第三方SDK清单未列明的SDK主机（{sdks}），最早于 {first}；内容不可见（加密），"
            "仅能证明存在未声明的接收方，不能证明发送了哪些数据。",
        ))
    return out
