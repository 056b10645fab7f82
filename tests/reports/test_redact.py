"""--redact (reports/redact.py): identifiers masked, structure kept, length kept (highlights stay aligned)."""

from __future__ import annotations

import pytest

from consentscope.reports.redact import redact

IMEI = "861234567890127"


def test_masks_identifiers_not_structure() -> None:
    text = (f"imei={IMEI}&h=6b3a55e0261b0304143f805a24924d0c1c44524821305f31d9277843b8a10f4e&name=张伟"
            "&e=zhang.wei@example.com&os=android")
    masked = redact(text)
    assert masked is not None
    for secret in (IMEI, "6b3a55e0261b", "张伟", "zhang.wei"):
        assert secret not in masked
    assert "imei=86" in masked and "os=android" in masked and "@example.com" in masked
    assert redact("body.json:$.header.imei") == "body.json:$.header.imei"
    assert redact(None) is None


@pytest.mark.parametrize("text", [
    f"imei={IMEI}", '{"aid": "9774d56d682e549c", "name": "张伟明"}', "zhang.wei@example.com", "lat 39.908712, lon 1",
    "…nnerHTML='gone'</script>9774d56d682e549c<img src=x", "",
])
def test_length_is_kept(text: str) -> None:
    assert len(redact(text) or "") == len(text)
