"""IDM-6.4 (MIIT-8 category): account data still uploaded after the account was deleted.

regulations.md §3 IDM-6.4 (P): after ``account_deleted``, PI tied to the account keeps being
uploaded. The timeline records the attempt (``account-deletion``); the back end may lawfully
take time to finish, and the data may belong to a new guest session, so confidence is low.
Device identifiers are not "tied to the account" here: they also identify a guest.
"""

from __future__ import annotations

from consentscope.model import SessionResult, iso_time
from consentscope.profile import Profile

from ._evidence import data_types, destinations, destinations_zh, en_list, flows, requests, types_zh, zh_list
from ._model import Thresholds, Violation
from ._timeline import ACCOUNT_DELETION

#: data types that belong to the account rather than the device
ACCOUNT_DATA = frozenset({"phone_number", "email", "real_name", "id_number", "bank_card", "account_name"})


def rule_after_account_deletion(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    deletions = sorted(e.time for e in result.events if e.event == ACCOUNT_DELETION)
    if not deletions:
        return []
    hits = [f for f in result.findings if f.time > deletions[0] and f.finding.data_type in ACCOUNT_DATA]
    if not hits:
        return []
    types, who = data_types(hits), destinations(hits)
    return [Violation(
        "IDM-6.4", "medium", "low",
        f"After the account deletion at {iso_time(deletions[0])}, {requests(hits)} request(s) still sent account "
        f"data ({en_list(types)}) to {en_list(who)}: check whether the deletion was carried out.",
        flows(hits), tuple(iso_time(t) for t in deletions), result.id, types,
        explanation_zh=(
            f"{iso_time(deletions[0])} 注销账号后，仍有 {requests(hits)} 个请求向 {zh_list(destinations_zh(hits))} "
            f"发送账号相关信息（{types_zh(types)}）：请核实注销是否真正完成。"
        ),
        check="after-deletion", destinations=who,
    )]
