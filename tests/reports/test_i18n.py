"""The report's words (reports/i18n.py): both languages complete."""

from __future__ import annotations

from consentscope.consent import PHASES as CONSENT_PHASES
from consentscope.reports.i18n import LANGS, PHASES, SEVERITY, UI
from consentscope.rules import STATUS


def test_same_keys_in_every_language() -> None:
    for table in (UI, PHASES, SEVERITY):
        assert set(table) == set(LANGS)
        assert set(table["en"]) == set(table["zh"])
    assert set(PHASES["en"]) == set(CONSENT_PHASES)
    assert all(en != zh for en, zh in STATUS.values())
    assert all(UI["en"][k] != UI["zh"][k] for k in UI["en"] if k not in ("sdk",))
