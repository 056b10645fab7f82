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


def test_every_name_the_report_shows_has_a_chinese_name() -> None:
    import csv

    from consentscope.destination import RELATION_ZH, RELATIONS
    from consentscope.model import EVENTS, Via
    from consentscope.profile import DEVICE_KEYS, LIST_KEYS, PERSON_KEYS
    from consentscope.readers.hooks import DATA_TYPES
    from consentscope.reports.i18n import CATEGORIES_ZH, DATA_TYPES_ZH, EVENTS_ZH, VIA_ZH, Words
    from tests.reports.sessions import ROOT

    types = set(DEVICE_KEYS) | set(PERSON_KEYS) | set(LIST_KEYS) | set(DATA_TYPES) | {
        "location", "location_precise", "location_coarse"}
    assert types <= set(DATA_TYPES_ZH), sorted(types - set(DATA_TYPES_ZH))
    assert set(EVENTS) == set(EVENTS_ZH)
    assert {v.value for v in Via} == set(VIA_ZH)
    assert set(RELATIONS) <= set(RELATION_ZH)
    categories = {row["category"] for name in ("endpoints_cn.csv", "endpoints_global.csv")
                  for row in csv.DictReader((ROOT / "tracker_db" / name).open(encoding="utf-8"))}
    assert categories <= set(CATEGORIES_ZH), sorted(categories - set(CATEGORIES_ZH))
    zh, en = Words("zh"), Words("en")
    assert zh.data_type("installed_apps") == "已安装应用列表" and en.data_type("installed_apps") == "installed_apps"
    assert zh.data_type("imei") == "IMEI(设备识别码)" and zh.data_type("my_custom_key") == "my_custom_key"
    assert (zh.party("third-party"), zh.party("first-party"), zh.event("consent")) == ("第三方", "第一方", "同意")
    # SDK and vendor names from the tracker database (stored sessions carry only the English names)
    assert zh.vendor("Umeng", "Umeng Analytics (U-App)") == "友盟+"
    assert "友盟+" in zh.sdk("Umeng Analytics (U-App)", "Umeng")
    assert en.sdk("Umeng Analytics (U-App)") == "Umeng Analytics (U-App)"
    assert zh.sdk("Some Unknown SDK") == "Some Unknown SDK"
