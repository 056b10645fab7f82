"""What a rule produces (``Violation``), the rule table (``RULES_INFO``) and the thresholds.

Rule IDs, names and the eight MIIT categories come from ``../shared/reference/regulations.md``
(§2 the MIIT 2019 types, §3 the Identification Methods, §5 the CAC necessary-PI rule, §6 the
laws, §10 the finding → rule map). The Chinese names are the regulators' own terms for the
category and a short paraphrase of the item; the report prints them for ``--lang zh``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("high", "medium", "low")
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Category:
    """One of the eight problem types of the MIIT 2019 campaign (工信部信管函〔2019〕337号)."""

    id: str
    name_en: str
    name_zh: str
    #: T: traffic can prove it; P: traffic gives part; N: not visible in traffic (regulations.md §2)
    visibility: str


CATEGORIES: dict[str, Category] = {c.id: c for c in (
    Category("MIIT-1", "Collecting personal information without consent", "私自收集个人信息", "T"),
    Category("MIIT-2", "Collecting beyond scope or frequency", "超范围收集个人信息", "T"),
    Category("MIIT-3", "Sharing with third parties without consent", "私自共享给第三方", "T"),
    Category("MIIT-4", "Forcing targeted push", "强制用户使用定向推送功能", "P"),
    Category("MIIT-5", "No service unless permissions are granted", "不给权限不让用", "N"),
    Category("MIIT-6", "Asking for permissions again and again", "频繁申请权限", "N"),
    Category("MIIT-7", "Asking for too many permissions, or too early", "过度索取权限", "N"),
    Category("MIIT-8", "Obstacles to account cancellation", "为账号注销设置障碍", "N"),
)}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    category: str  # a CATEGORIES key: where the verdict table counts it
    name_en: str
    name_zh: str
    source_en: str
    source_zh: str
    #: other rule IDs the same evidence supports (regulations.md §10); --fail-on matches them too
    related: tuple[str, ...] = ()


_MIIT = (
    "MIIT 2019 campaign notice (MIIT Letter [2019] No. 337)",
    "《关于开展APP侵害用户权益专项整治工作的通知》（工信部信管函〔2019〕337号）",
)
_IDM = ("Identification Methods (2019)", "《App违法违规收集使用个人信息行为认定方法》")
_NPI = ("CAC necessary-PI rule (2021), Art. 5", "《常见类型移动互联网应用程序必要个人信息范围规定》第五条")


def _pipl(art: int, zh: str) -> tuple[str, str]:
    return f"Personal Information Protection Law, Art. {art}", f"《个人信息保护法》第{zh}条"


RULES_INFO: dict[str, RuleInfo] = {r.id: r for r in (
    RuleInfo("MIIT-1.1", "MIIT-1", "Personal information sent before any privacy notice",
             "私自收集个人信息：未告知收集规则（未提示隐私政策）即收集", *_MIIT,
             ("IDM-1.2", "PIPL-17", "IDM-3.1")),
    RuleInfo("MIIT-1.2", "MIIT-1", "Personal information collected before consent",
             "私自收集个人信息：用户同意隐私政策前即收集", *_MIIT,
             ("IDM-3.1", "M164-1.1", "PIPL-13", "PIPL-14", "PIPL-17", "CSL-41")),
    RuleInfo("IDM-3.2", "MIIT-1", "Personal information collected after the user refused",
             "用户明确表示不同意后，仍收集个人信息", *_IDM, ("PIPL-13", "PIPL-16", "NDSR-22")),
    RuleInfo("PIPL-15", "MIIT-1", "Personal information collected after consent was withdrawn",
             "用户撤回同意后仍处理个人信息", *_pipl(15, "十五"), ("PIPL-47", "IDM-3.8")),
    RuleInfo("IDM-2.1", "MIIT-1", "Personal information the privacy policy does not declare",
             "未逐项列明App（含委托的第三方或嵌入的第三方代码、插件）收集使用个人信息的目的、方式、范围", *_IDM,
             ("MIIT-1.1", "IDM-3.9", "PIPL-17", "NDSR-21")),
    RuleInfo("IDM-3.3", "MIIT-1", "Collection beyond what the user authorised (permission denied)",
             "实际收集的个人信息超出用户授权范围", *_IDM, ()),
    RuleInfo("CAC-NPI-5", "MIIT-2", "Personal information outside the app type's necessary scope",
             "超出该类型App必要个人信息范围收集", *_NPI, ("MIIT-2.1", "IDM-4.1", "PIPL-6")),
    RuleInfo("PIPL-6", "MIIT-2", "More than the minimum needed (after full consent)",
             "收集个人信息超出实现处理目的的最小范围", *_pipl(6, "六"), ("MIIT-2.1",)),
    RuleInfo("MIIT-2.2", "MIIT-2", "Collection more often than the function needs",
             "超频次收集个人信息", *_MIIT, ("IDM-4.4", "M164-1.2")),
    RuleInfo("MIIT-2.3", "MIIT-2", "Sensitive personal information without need",
             "超范围收集敏感个人信息（身份证件号码、银行卡、通讯录、精确位置等）", *_MIIT,
             ("PIPL-28", "PIPL-29", "IDM-2.3")),
    RuleInfo("MIIT-3", "MIIT-3", "Personal information shared with a third party without consent",
             "私自共享给第三方", *_MIIT, ("IDM-5.1", "M164-1.3", "PIPL-23", "CSL-42")),
    RuleInfo("PIPL-23", "MIIT-3", "Provided to another processor without separate consent",
             "向其他个人信息处理者提供个人信息未取得单独同意", *_pipl(23, "二十三"), ("IDM-5.1", "NDSR-21")),
    RuleInfo("MIIT-4", "MIIT-4", "App list or behaviour data sent to advertising or push SDKs",
             "强制用户使用定向推送功能", *_MIIT, ("IDM-3.6", "M164-1.4", "PIPL-24")),
    RuleInfo("PIPL-24", "MIIT-4", "Behaviour data still sent after personalisation was switched off",
             "关闭个性化推荐后仍向广告或推送方提供行为数据", *_pipl(24, "二十四"), ("MIIT-4", "NDSR-42")),
    RuleInfo("MIIT-6", "MIIT-6", "A denied permission asked for again soon after",
             "频繁申请权限", *_MIIT, ("IDM-3.2", "NDSR-22")),
    RuleInfo("IDM-3.1", "MIIT-7", "Permissions requested before the privacy policy was agreed",
             "征得用户同意前打开可收集个人信息的权限", *_IDM, ("MIIT-7",)),
    RuleInfo("IDM-6.4", "MIIT-8", "Account data still uploaded after the account was deleted",
             "注销账号后仍上传与账号相关的个人信息", *_IDM, ("PIPL-47", "NDSR-24")),
)}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Numbers the rules use. No binding text gives a frequency limit (regulations.md §9):
    the defaults follow the scenario examples ("every 30 s") and are meant to be tuned in
    the project file's ``[thresholds]`` table."""

    #: MIIT-2.2: this many uploads of one data type to one destination before it is "repeated"…
    repeat_count: int = 3
    #: …each within this many seconds of the previous one ("every 30 s", M164 scenarios)
    repeat_interval_s: float = 30.0
    #: …or at regular spacing: intervals whose coefficient of variation is at most this
    regular_cv: float = 0.15
    #: MIIT-6: a denied permission asked again within this many seconds (48 h: app-store practice)
    reask_window_s: float = 48 * 3600.0

    def __post_init__(self) -> None:
        if self.repeat_count < 2:
            raise ValueError("repeat_count must be at least 2")
        for name in ("repeat_interval_s", "regular_cv", "reask_window_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken in one session, with the evidence a person can check.

    ``flows`` are flow ids of the requests (for packet-capture contacts: ``via:host``),
    ``events`` the ISO times of the timeline events the verdict rests on. ``check`` names
    which test of the rule fired (``before-consent``, ``contact-only``, ``periodic``…);
    ``observed`` holds measured numbers (MIIT-2.2's rate). ``suppressed`` is the reason
    when a project file accepted it: such violations are reported, never failed on.
    """

    rule: str
    severity: str
    confidence: str
    explanation: str
    flows: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    session: str = ""
    data_types: tuple[str, ...] = field(default=())
    explanation_zh: str = ""
    check: str = ""
    destinations: tuple[str, ...] = ()
    observed: tuple[tuple[str, float | int | str], ...] = ()
    suppressed: str = ""

    def __post_init__(self) -> None:
        if self.rule not in RULES_INFO:
            raise ValueError(f"unknown rule {self.rule!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")

    @property
    def info(self) -> RuleInfo:
        return RULES_INFO[self.rule]

    @property
    def category(self) -> str:
        return RULES_INFO[self.rule].category
