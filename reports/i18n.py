"""The report's own words in English and Chinese (``--lang en|zh``).

Rule names, categories, verdicts and the checklist come from ``consentscope.rules`` (the
regulators' terms, regulations.md); this table holds only headings, column names and
captions. Both languages have exactly the same keys (tests/reports checks it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consentscope.destination import PARTY_ZH, RELATION_ZH

LANGS = ("en", "zh")

#: Chinese names of every data type a finding can carry: the profile's keys (device, person,
#: location, lists), the hook logs' types (``readers/hooks.py::DATA_TYPES``) and the scope
#: rules' location slugs. A custom profile key not listed here is shown as its key.
DATA_TYPES_ZH: dict[str, str] = {
    "imei": "IMEI(设备识别码)",
    "meid": "MEID(设备识别码)",
    "imsi": "IMSI(用户识别码)",
    "iccid": "ICCID(SIM卡序列号)",
    "serial": "设备序列号",
    "android_id": "Android ID(安卓标识符)",
    "oaid": "OAID(匿名设备标识符)",
    "gaid": "GAID(谷歌广告标识符)",
    "idfa": "IDFA(广告标识符)",
    "idfv": "IDFV(开发商标识符)",
    "mac": "MAC地址",
    "wifi_mac": "WLAN MAC地址",
    "bluetooth_mac": "蓝牙MAC地址",
    "bssid": "BSSID(无线接入点地址)",
    "ssid": "SSID(无线网络名称)",
    "device_name": "设备名称",
    "phone_number": "手机号码",
    "email": "电子邮件地址",
    "real_name": "真实姓名",
    "id_number": "身份证号码",
    "bank_card": "银行卡号",
    "account_name": "账号",
    "location": "位置信息",
    "location_precise": "精确位置",
    "location_coarse": "粗略位置",
    "installed_apps": "已安装应用列表",
    "search_history": "搜索记录",
    "browsing_history": "浏览记录",
    "app_usage_records": "App使用记录",
    "contacts": "通讯录",
    "contact_phone": "联系电话",
    "sms": "短信",
    "call_log": "通话记录",
    "clipboard": "剪贴板",
    "camera": "摄像头",
    "microphone": "麦克风",
    "sensor": "传感器",
}

#: Chinese names of the timeline events (``consentscope.model.Event``)
EVENTS_ZH: dict[str, str] = {
    "app-start": "启动App",
    "foreground": "切到前台",
    "policy-shown": "展示隐私政策",
    "consent": "同意",
    "consent-scope": "同意范围",
    "refusal": "拒绝",
    "withdrawal": "撤回同意",
    "personalization-off": "关闭个性化推荐",
    "personalization-on": "开启个性化推荐",
    "feature": "使用功能",
    "permission-asked": "申请权限",
    "permission-granted": "授予权限",
    "permission-denied": "拒绝权限",
    "background": "切到后台",
    "account-deletion": "注销账号",
    "api-read": "调用隐私API",
    "note": "备注",
}

#: Chinese names of the tracker categories (``tracker_db`` endpoint tables)
CATEGORIES_ZH: dict[str, str] = {
    "advertising": "广告",
    "analytics": "统计分析",
    "anti-fraud/device-fingerprint": "反欺诈/设备指纹",
    "attribution": "广告归因",
    "cloud-storage": "云存储",
    "crash-reporting": "崩溃上报",
    "customer-service": "客服",
    "httpdns": "HTTPDNS",
    "maps/location": "地图/定位",
    "os-vendor-service": "系统厂商服务",
    "other": "其他",
    "payment": "支付",
    "push": "推送",
    "social/login": "社交/登录",
}

#: Chinese names of the permission groups a user sees in the dialog (``rules._vocab.permission_group``),
#: as Android's Chinese system settings name them. Unknown permissions are shown as written.
PERMISSIONS_ZH: dict[str, str] = {
    "location": "位置",
    "contacts": "通讯录",
    "phone": "电话",
    "call_log": "通话记录",
    "sms": "短信",
    "camera": "相机",
    "microphone": "麦克风",
    "calendar": "日历",
    "storage": "存储",
    "nearby_devices": "附近的设备",
    "notifications": "通知",
    "app_list": "应用列表",
}

#: how a connection was seen (``consentscope.model.Via``)
VIA_ZH: dict[str, str] = {
    "tls-sni": "TLS 服务器名(SNI)",
    "quic-sni": "QUIC 服务器名(SNI)",
    "dns": "DNS 查询",
    "httpdns": "HTTPDNS 查询",
    "http-connect": "代理 CONNECT",
    "http": "明文 HTTP",
    "opaque-request": "不可读请求",
    "tls-failed": "TLS 握手中止(证书固定)",
    "tls-passthrough": "直通连接",
}

#: where a timeline event came from (``TimelineEvent.source``)
EVENT_SOURCES_ZH: dict[str, str] = {
    "cli": "命令行", "marker": "URL标记", "device": "设备", "command": "命令", "file": "文件", "hook": "钩子日志",
}

PHASES = {
    "en": {"before-consent": "before consent", "after-consent": "after consent", "after-refusal": "after refusal",
           "after-withdrawal": "after withdrawal", "no-consent-recorded": "no consent recorded"},
    "zh": {"before-consent": "同意前", "after-consent": "同意后", "after-refusal": "拒绝后",
           "after-withdrawal": "撤回后", "no-consent-recorded": "未记录同意"},
}

SEVERITY = {
    "en": {"high": "high", "medium": "medium", "low": "low"},
    "zh": {"high": "高", "medium": "中", "low": "低"},
}

UI: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "sessions": "session(s)",
        "findings_n": "finding(s)",
        "redacted": "Identifiers are masked in this report (--redact).",
        "verdict": "Verdict by MIIT problem type",
        "verdict_note": "Traffic that was not seen (pinned TLS, other channels, server-side sharing) is "
                        "unobserved, not clean: “not seen” is never “compliant”.",
        "type": "Problem type",
        "status": "Verdict",
        "rules": "Rules",
        "note": "Note",
        "summary": "Summary",
        "coverage_line": "{readable} of {requests} requests readable",
        "coverage_unread": "{n} requests or connections to {sdks} could not be read (encrypted, pinned or passed "
                           "through): no finding there is no evidence of no data",
        "requests_n": "Requests",
        "readable_n": "Readable",
        "opaque_n": "Not readable",
        "unread_n": "Unread connections",
        "coverage_skipped": "Parts of the capture could not be read, so what they carried is unknown: {what}",
        "coverage_damaged": "{n} capture file(s) end in damage; what followed was not read",
        "coverage_unscanned": "{n} request(s) were scanned only in part (a decoding limit was reached):",
        "unscanned_part": "Not scanned",
        "card_before": "requests with personal data before consent",
        "card_third": "of them to third parties",
        "card_after": "after consent",
        "card_none": "with no consent event recorded",
        "card_dest": "destinations received personal data",
        "session": "Session",
        "app": "app",
        "requests": "requests",
        "no_consent": "no consent event: pass --consent-marker, --consent-at or --timeline",
        "timeline": "Timeline",
        "timeline_caption": "Background: red before consent (or after a refusal), amber after a withdrawal, green "
                            "after consent, grey with no consent event. Dots: requests carrying personal data; "
                            "rings: connections to SDK hosts whose content was not visible; dashed lines: consent "
                            "decisions; triangles: other events. Events are named above the chart (hover for "
                            "details); the axis counts from the start of the session.",
        "timeline_more": "more destinations are listed in the tables below",
        "contents": "Contents",
        "times_in": "Times in {tz}",
        "starts": "starts",
        "violations": "Violations",
        "no_violations": "No rule violation was found in this traffic.",
        "severity": "severity",
        "confidence": "confidence",
        "source": "Source",
        "related": "Also",
        "evidence": "Evidence",
        "time": "Time ({tz})",
        "phase": "Phase",
        "request": "Request",
        "where": "Where in the request",
        "chain": "Decoding chain",
        "matched": "Matched text",
        "data_type": "Data type",
        "events": "Timeline events",
        "observed": "Observed",
        "more_rows": "more requests (all are in the findings table and the JSON)",
        "via": "Via",
        "host": "Host",
        "suppressed": "Accepted (suppressed) findings",
        "suppressed_intro": "The project file accepts these; they are shown, never counted as failures.",
        "reason": "Reason",
        "entries": "Project-file entries",
        "entry": "Accepts",
        "matched_findings": "Findings matched",
        "matched_contacts": "Connections matched",
        "unused": "matched nothing in this report",
        "checklist": "Check by hand (traffic cannot show these)",
        "ref": "Ref.",
        "what": "What",
        "how": "How to check",
        "sdks": "Third-party SDKs",
        "sdk": "SDK",
        "vendor": "Vendor",
        "category": "Category",
        "data_types": "Data types",
        "first_seen": "First seen",
        "before_n": "Before consent",
        "findings_col": "Findings",
        "destinations": "Destinations",
        "party": "Party",
        "by_type": "Personal data found",
        "other_phases": "Other phases",
        "findings": "Findings",
        "contacts": "Connections and lookups",
        "contacts_intro": "Destinations seen in packet captures even where content is encrypted: TLS server "
                          "names, QUIC, DNS answers, proxy CONNECTs and plain HTTP.",
        "plain": "plain",
        "footer": "Rule IDs: MIIT 2019 campaign (MIIT-*), Identification Methods (IDM-*), MIIT 2020 campaign "
                  "(M164-*), CAC necessary-PI rule (CAC-NPI-*), PIPL, CSL, NDSR. Severity and confidence are "
                  "consentscope's assessment, not a regulator's decision.",
    },
    "zh": {
        "html_lang": "zh-CN",
        "sessions": "个会话",
        "findings_n": "项发现",
        "redacted": "本报告中的标识符已脱敏（--redact）。",
        "verdict": "按工信部问题类型的结论",
        "verdict_note": "未能观察到的流量（证书固定、其他通道、服务器间共享）属于“未观察到”，而非“无问题”："
                        "“未发现”不等于“合规”。",
        "type": "问题类型",
        "status": "结论",
        "rules": "规则",
        "note": "说明",
        "summary": "概要",
        "coverage_line": "{requests} 个请求中 {readable} 个可读",
        "coverage_unread": "发往 {sdks} 的 {n} 个请求或连接无法读取（加密、证书固定或被直通）：未发现不代表未发送",
        "requests_n": "请求数",
        "readable_n": "可读",
        "opaque_n": "不可读",
        "unread_n": "未读连接",
        "coverage_skipped": "抓包文件中有部分内容无法读取，其内容未知：{what}",
        "coverage_damaged": "{n} 个抓包文件在损坏处中断，其后内容未读取",
        "coverage_unscanned": "{n} 个请求仅被部分扫描（达到解码上限）：",
        "unscanned_part": "未扫描部分",
        "card_before": "同意前发送个人信息的请求",
        "card_third": "其中发往第三方",
        "card_after": "同意后",
        "card_none": "未记录同意事件",
        "card_dest": "接收个人信息的目的地",
        "session": "会话",
        "app": "App",
        "requests": "个请求",
        "no_consent": "未记录同意事件：请使用 --consent-marker、--consent-at 或 --timeline",
        "timeline": "时间线",
        "timeline_caption": "背景：红色为同意前（或拒绝后），橙色为撤回后，绿色为同意后，灰色为未记录同意事件。"
                            "实心点：携带个人信息的请求；空心圈：内容不可见的SDK主机连接；虚线：同意/拒绝/撤回；"
                            "三角形：其他事件。图上方标注事件名称（悬停查看详情）；横轴从会话开始计时。",
        "timeline_more": "个目的地未画出，见下方表格",
        "contents": "目录",
        "times_in": "时间均为 {tz}",
        "starts": "起始",
        "violations": "违规项",
        "no_violations": "本次流量中未发现违反规则的情形。",
        "severity": "严重程度",
        "confidence": "置信度",
        "source": "依据",
        "related": "另见",
        "evidence": "证据",
        "time": "时间（{tz}）",
        "phase": "阶段",
        "request": "请求",
        "where": "请求中的位置",
        "chain": "解码链",
        "matched": "匹配内容",
        "data_type": "数据类型",
        "events": "时间线事件",
        "observed": "观测值",
        "more_rows": "个请求未列出（完整列表见发现表和JSON）",
        "via": "方式",
        "host": "主机",
        "suppressed": "已接受（豁免）的发现",
        "suppressed_intro": "以下各项已在项目文件中声明接受：仅作展示，不计为失败。",
        "reason": "理由",
        "entries": "项目文件条目",
        "entry": "接受范围",
        "matched_findings": "匹配的发现",
        "matched_contacts": "匹配的连接",
        "unused": "本报告中无匹配项",
        "checklist": "人工核查清单（流量无法反映的事项）",
        "ref": "编号",
        "what": "事项",
        "how": "核查方法",
        "sdks": "第三方SDK",
        "sdk": "SDK",
        "vendor": "厂商",
        "category": "类别",
        "data_types": "数据类型",
        "first_seen": "首次出现",
        "before_n": "同意前",
        "findings_col": "发现数",
        "destinations": "目的地",
        "party": "归属",
        "by_type": "发现的个人信息",
        "other_phases": "其他阶段",
        "findings": "发现",
        "contacts": "连接与域名解析",
        "contacts_intro": "抓包中即使内容加密也能看到的目的地：TLS 服务器名、QUIC、DNS 应答、"
                          "代理 CONNECT 和明文 HTTP。",
        "plain": "明文",
        "footer": "规则编号：工信部2019年专项整治（MIIT-*）、《App违法违规收集使用个人信息行为认定方法》（IDM-*）、"
                  "工信部2020年164号文（M164-*）、《常见类型移动互联网应用程序必要个人信息范围规定》（CAC-NPI-*）、"
                  "个人信息保护法（PIPL）、网络安全法（CSL）、网络数据安全管理条例（NDSR）。严重程度和置信度为"
                  " consentscope 的评估，并非监管部门的认定。",
    },
}


#: IANA names of UTC itself: shown as ``Z`` like the JSON
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"})


def _zone_info(key: str) -> tzinfo:
    return UTC if key in _UTC_KEYS else ZoneInfo(key)


def local_zone() -> tzinfo:
    """The machine's zone: ``$TZ`` or /etc/localtime as an IANA zone when it names one,
    else the fixed offset the C library reports now."""
    for key in (os.environ.get("TZ", "").lstrip(":"), _localtime_key()):
        if key:
            try:
                return _zone_info(key)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return datetime.now().astimezone().tzinfo or UTC


def _localtime_key() -> str:
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return ""
    _, sep, key = target.partition("/zoneinfo/")
    return key if sep else ""


def zone(name: str | None) -> tzinfo:
    """``name`` as a zone (``Asia/Shanghai``, ``UTC``); None is the machine's local zone."""
    if name is None:
        return local_zone()
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return _zone_info(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from e


def zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(getattr(tz, "key", "") or datetime.now(tz).tzname() or "local")


@dataclass(frozen=True, slots=True)
class Words:
    """The report's names in one language and one time zone: party, relation, data type,
    category, event, SDK and vendor names, phases, and times. Unknown values are shown as they
    are (they are identifiers: custom profile keys, new categories)."""

    lang: str
    tz: tzinfo = UTC

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    def time(self, t: float | None) -> str:
        """ISO 8601 with milliseconds in the report's zone (``Z`` for UTC)."""
        if t is None:
            return ""
        text = datetime.fromtimestamp(t, self.tz).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z") if self.tz is UTC else text

    def party(self, party: str | None) -> str:
        if not party:
            return ""
        return (PARTY_ZH.get(party) or RELATION_ZH.get(party, party)) if self.zh else party

    def relation(self, relation: str | None) -> str:
        if not relation:
            return ""
        return RELATION_ZH.get(relation, relation) if self.zh else relation

    def data_type(self, data_type: str) -> str:
        return DATA_TYPES_ZH.get(data_type, data_type) if self.zh else data_type

    def data_types(self, data_types: Iterable[str]) -> str:
        return ("、" if self.zh else ", ").join(self.data_type(d) for d in sorted(data_types))

    def category(self, category: str | None) -> str:
        if not category:
            return ""
        return CATEGORIES_ZH.get(category, category) if self.zh else category

    def event(self, event: str) -> str:
        return EVENTS_ZH.get(event, event) if self.zh else event

    def permission(self, group: str) -> str:
        return PERMISSIONS_ZH.get(group, group) if self.zh else group

    def via(self, via: str) -> str:
        return VIA_ZH.get(via, via) if self.zh else via

    def source(self, source: str) -> str:
        return EVENT_SOURCES_ZH.get(source, source) if self.zh else source

    def phase(self, phase: str) -> str:
        return PHASES[self.lang].get(phase, phase)

    def sdk(self, sdk: str | None, vendor: str | None = None, name_zh: str | None = None) -> str:
        """The SDK's name; in Chinese the tracker database's name where it has one."""
        if not sdk:
            return ""
        if not self.zh:
            return sdk
        return name_zh or _names_zh(sdk, vendor)[0] or sdk

    def vendor(self, vendor: str | None, sdk: str | None = None, vendor_zh: str | None = None) -> str:
        if not vendor:
            return ""
        if not self.zh:
            return vendor
        return vendor_zh or _names_zh(sdk, vendor)[1] or vendor


@lru_cache(maxsize=4096)
def _names_zh(sdk: str | None, vendor: str | None) -> tuple[str | None, str | None]:
    from consentscope.tracker_db import TrackerDB

    return TrackerDB.default().names_zh(sdk, vendor)
