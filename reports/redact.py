"""Masking identifiers in reports that leave the tester's hands (``--redact``).

Tokens that look like identifiers (any token of six or more characters with a digit in
it, any token of sixteen or more, e-mail addresses, Chinese names) keep their first two
and last two characters; the rest becomes ``*``. Shapes stay readable ("an md5 went
here"), values do not; parameter names and ordinary words stay as they are. Only values
are masked: a JSON key (``"imei_md5":``) or a query/form parameter name (``&imei_md5=``)
is structure, whatever it looks like.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^\s@\"'&=<>]+@[^\s@\"'&=<>]+")
_TOKEN = re.compile(r"[A-Za-z0-9+/_.:-]{6,}")
_CJK = re.compile(r"[\u3400-\u9fff]{2,4}")
_JSON_KEY_END = re.compile(r'"\s*:')
#: what comes before a parameter name (not the start of the text: evidence is a window that
#: may begin inside a value, and a base64 value ends in "=")
_PARAM_START = frozenset("?&; \t\r\n")


def _is_key(m: re.Match[str]) -> bool:
    """The token is a name (a JSON key, a parameter name), not a value."""
    text, start, end = m.string, m.start(), m.end()
    if start == 0:
        return False
    before = text[start - 1]
    if before == '"' and _JSON_KEY_END.match(text, end):
        return True
    return before in _PARAM_START and text.startswith("=", end)


def _mask(t: str) -> str:
    return t[:2] + "*" * (len(t) - 4) + t[-2:] if len(t) > 4 else "*" * len(t)


def _token(m: re.Match[str]) -> str:
    t = m.group()
    if _is_key(m):
        return t
    if t.startswith(("http", "body.", "url.", "header:", "cookie:")):
        return t  # schemes and locations are not identifiers
    if len(t) >= 16 or any(c.isdigit() for c in t):
        return _mask(t)
    return t


def redact(text: str | None) -> str | None:
    if text is None:
        return None
    text = _EMAIL.sub(lambda m: _mask(m.group().split("@")[0]) + "@" + m.group().split("@", 1)[1], text)
    text = _TOKEN.sub(_token, text)
    return _CJK.sub(lambda m: m.group() if _is_key(m) else m.group()[0] + "*" * (len(m.group()) - 1), text)
