"""Reference data shipped with the package: the 39 CAC app types and the PI vocabulary."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class AppType:
    id: str
    seq: int
    name_en: str
    name_zh: str
    none_required: bool
    necessary_pi: tuple[str, ...]


@cache
def _raw() -> dict:
    text = resources.files("consentscope").joinpath("data/necessary_pi.toml").read_bytes()
    return tomllib.loads(text.decode("utf-8"))


@cache
def app_types() -> dict[str, AppType]:
    """The 39 app types by slug, in the rule's order."""
    return {
        t["id"]: AppType(
            t["id"], t["seq"], t["name_en"], t["name_zh"], t["none_required"], tuple(t["necessary_pi"])
        )
        for t in _raw()["app_type"]
    }


@cache
def pi_vocabulary() -> dict[str, dict[str, str]]:
    return dict(_raw()["pi"])
