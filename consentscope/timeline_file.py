"""Timeline events from a file: a tester's log, a UI-automation run or a hook tool's output.

JSON: a list of objects ``{"time": "2026-03-02T10:00:30Z", "event": "consent", "detail": "…"}``
(``time`` may also be epoch seconds). CSV: a header ``time,event,detail`` and one event a
row. Event names are those of ``consentscope.consent.EVENTS`` (aliases such as ``agree``,
``refuse``, ``withdraw`` work too). Errors name the file and the entry or line.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from consentscope.consent import TimelineEvent, normalize_event


class TimelineFileError(ValueError):
    pass


def _time(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TimelineFileError(f"{where}: time {value!r} is not ISO 8601 or epoch seconds") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    raise TimelineFileError(f"{where}: missing or invalid time")


def _event(row: dict, where: str) -> TimelineEvent:
    try:
        name = normalize_event(str(row.get("event", "")))
    except ValueError as e:
        raise TimelineFileError(f"{where}: {e}") from None
    return TimelineEvent(_time(row.get("time"), where), name, str(row.get("detail") or ""), "file")


def read_timeline(path: str) -> list[TimelineEvent]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise TimelineFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise TimelineFileError(f"{path}: line {e.lineno}, column {e.colno}: {e.msg}") from None
        if not all(isinstance(r, dict) for r in rows):
            raise TimelineFileError(f"{path}: expected a list of objects with time, event, detail")
        return [_event(r, f"{path}: entry #{i + 1}") for i, r in enumerate(rows)]
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"time", "event"} <= {f.strip() for f in reader.fieldnames}:
        raise TimelineFileError(f"{path}: line 1: expected a CSV header with time,event,detail")
    return [_event({k.strip(): v for k, v in row.items() if k}, f"{path}: line {reader.line_num}") for row in reader]
