"""Where user-imported tracker lists live: outside the repository, per user.

Lists we may not ship (Exodus is ODbL; DuckDuckGo and Disconnect are CC BY-NC-SA) are
imported by the user into ``$CONSENTSCOPE_DATA_DIR`` or ``$XDG_DATA_HOME/consentscope``
(default ``~/.local/share/consentscope``), under ``trackers/``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ._rules import DataError, Rule, read_rules

log = logging.getLogger(__name__)

__all__ = ["data_dir", "imported_rules", "trackers_dir"]


def data_dir() -> Path:
    env = os.environ.get("CONSENTSCOPE_DATA_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "consentscope"


def trackers_dir() -> Path:
    return data_dir() / "trackers"


def imported_rules() -> list[Rule]:
    """Rules from every imported list, in file-name order (deterministic).

    A damaged imported file is skipped with a warning: a user's cache must never stop an
    audit that our own data can answer.
    """
    d = trackers_dir()
    if not d.is_dir():
        return []
    rules: list[Rule] = []
    for p in sorted(d.glob("*.csv")):
        try:
            rules.extend(read_rules(p, dataset=p.stem, licence=_licence(p)))
        except (DataError, OSError, UnicodeDecodeError) as e:
            log.warning("skipping imported tracker list: %s", e)
    return rules


def _licence(p: Path) -> str:
    lic = p.with_suffix(".licence")
    return lic.read_text(encoding="utf-8").strip() if lic.is_file() else "unknown"
