"""The database sink: ``schema`` (tables, version, migrations), ``write`` and ``read``.

Storage writes and reads rows; it neither judges nor places findings in consent phases
(``consentscope.session`` does, for every caller).
"""

from .read import (
    events_since,
    finding_counts,
    list_sessions,
    load_session,
    read_spill,
    spill_path_for,
    violation_counts,
)
from .schema import (
    DEFAULT_DB_URL,
    SCHEMA_VERSION,
    Base,
    ContactRow,
    EventRow,
    FindingRow,
    RequestRow,
    SchemaInfo,
    SessionRow,
    StorageError,
    ViolationRow,
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
