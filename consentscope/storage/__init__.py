"""The database sink: ``schema`` (tables, version, migrations), ``write`` and ``read``.

Storage writes and reads rows; it neither judges nor places findings in consent phases
(``consentscope.session`` does, for every caller).

Opening and writing need SQLAlchemy Core only. The ORM row classes (``rows``) and the read
functions (``read``, which use them) are imported when first asked for (PEP 562): importing
``sqlalchemy.orm`` took 0.09-0.18 s of a replay that only writes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .schema import (
    DEFAULT_DB_URL,
    SCHEMA_VERSION,
    StorageError,
    create_owner_only,
    open_engine,
)
from .write import (
    add_event,
    app_columns,
    contact_columns,
    ensure_session,
    finding_columns,
    save_session,
    save_violations,
    write_batch,
)

if TYPE_CHECKING:
    from .read import (
        events_since,
        finding_counts,
        list_sessions,
        load_session,
        read_spill,
        spill_path_for,
        violation_counts,
    )
    from .rows import Base, ContactRow, EventRow, FindingRow, RequestRow, SchemaInfo, SessionRow, ViolationRow

#: Names imported on first use, and the module that holds each.
_LAZY = {
    **dict.fromkeys(("Base", "ContactRow", "EventRow", "FindingRow", "RequestRow", "SchemaInfo", "SessionRow",
                     "ViolationRow"), "rows"),
    **dict.fromkeys(("events_since", "finding_counts", "list_sessions", "load_session", "read_spill",
                     "spill_path_for", "violation_counts"), "read"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY.keys())


__all__ = [
    "DEFAULT_DB_URL",
    "SCHEMA_VERSION",
    "Base",
    "ContactRow",
    "EventRow",
    "FindingRow",
    "RequestRow",
    "SchemaInfo",
    "SessionRow",
    "StorageError",
    "ViolationRow",
    "add_event",
    "app_columns",
    "contact_columns",
    "create_owner_only",
    "ensure_session",
    "events_since",
    "finding_columns",
    "finding_counts",
    "list_sessions",
    "load_session",
    "open_engine",
    "read_spill",
    "save_session",
    "save_violations",
    "spill_path_for",
    "violation_counts",
    "write_batch",
]
