"""Timeline events from a file: a tester's log, a UI-automation run or a hook tool's output.

Three shapes, told apart by the first character:

- JSON: a list of objects ``{"time": "2026-03-02T10:00:30Z", "event": "consent", "detail": "…"}``;
- JSON Lines: one such object per line (what a Frida script's ``console.log(JSON.stringify(…))``
  or ``send()`` handler writes); blank lines are skipped;
- CSV: a header with ``time`` and ``event`` (``detail`` optional, other columns ignored) and
  one event a row.

``time`` is ISO 8601 (UTC when it has no offset) or epoch seconds; a number above 10^11 is
epoch milliseconds (JavaScript's ``Date.now()``; 10^11 seconds is the year 5138). ``event`` is
a name from ``consentscope.consent.EVENTS`` or one of its aliases (``agree``, ``refuse``…).
Errors name the file and the line.

Example (a Frida hook log of privacy-API calls, as JSON Lines)::

    {"time": 1772445600120, "event": "app-start", "detail": "com.example.consentdemo pid 4242"}
    {"time": 1772445601050, "event": "note", "detail": "hook TelephonyManager.getImei() before consent"}
    {"time": 1772445603400, "event": "policy-shown", "detail": "PrivacyDialog.show()"}
    {"time": 1772445641900, "event": "consent", "detail": "PrivacyDialog agree onClick"}
    {"time": 1772445650000, "event": "permission-asked", "detail": "android.permission.ACCESS_FINE_LOCATION"}
    {"time": 1772445652500, "event": "permission-denied", "detail": "android.permission.ACCESS_FINE_LOCATION"}
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from consentscope.consent import TimelineEvent, normalize_event
from consentscope.errors import ConsentscopeError
from consentscope.model import parse_iso_time

#: A larger epoch number is milliseconds: 10^11 s is the year 5138, 10^11 ms is March 1973.
EPOCH_MS_ABOVE = 1e11
#: Timeline files are logs a person or a hook writes, not captures: refuse anything larger.
MAX_TIMELINE_BYTES = 64 * 1024 * 1024


class TimelineFileError(ConsentscopeError, ValueError):
    """A timeline file that cannot be used; the message names the file and the line."""


def _time(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        t = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            t = float(text)
        except ValueError:
            try:
                return parse_iso_time(text)
            except ValueError:
                raise TimelineFileError(f"{where}: time {value!r} is not ISO 8601 or epoch seconds") from None
    else:
        raise TimelineFileError(f"{where}: missing time (ISO 8601 or epoch seconds)")
    if not math.isfinite(t) or t < 0:
        raise TimelineFileError(f"{where}: time {value!r} is not a time")
    return t / 1000 if t > EPOCH_MS_ABOVE else t


def _event(row: dict, where: str) -> TimelineEvent:
    name = row.get("event")
    if not isinstance(name, str) or not name.strip():
        raise TimelineFileError(f"{where}: missing event name")
    try:
        event = normalize_event(name)
    except ValueError as e:
        raise TimelineFileError(f"{where}: {e}") from None
    detail = row.get("detail")
    if detail is None:
        detail = ""
    elif not isinstance(detail, str | int | float) or isinstance(detail, bool):
        raise TimelineFileError(f"{where}: detail must be text")
    return TimelineEvent(_time(row.get("time"), where), event, str(detail).strip(), "file")


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _json_list(text: str, path: str) -> list[TimelineEvent]:
    """A JSON array read element by element, so each error names the element's line."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    out: list[TimelineEvent] = []

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip(pos)
    if pos < len(text) and text[pos] == "]":
        return out
    while True:
        where = f"{path}: line {_line(text, pos)}"
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise TimelineFileError(f"{path}: line {e.lineno}, column {e.colno}: {e.msg}") from None
        if not isinstance(value, dict):
            raise TimelineFileError(f"{where}: expected an object with time, event, detail")
        out.append(_event(value, where))
        pos = skip(pos)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            if skip(pos + 1) != len(text):
                raise TimelineFileError(f"{path}: line {_line(text, skip(pos + 1))}: text after the list")
            return out
        raise TimelineFileError(f"{path}: line {_line(text, pos)}: expected ',' or ']' after an entry")


def _json_lines(text: str, path: str) -> list[TimelineEvent]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {n}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise TimelineFileError(f"{where}, column {e.colno}: {e.msg}") from None
        if not isinstance(value, dict):
            raise TimelineFileError(f"{where}: expected an object with time, event, detail")
        out.append(_event(value, where))
    return out


def _csv(text: str, path: str) -> list[TimelineEvent]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise TimelineFileError(f"{path}: empty file; expected a CSV header time,event,detail") from None
    except csv.Error as e:
        raise TimelineFileError(f"{path}: line 1: {e}") from None
    if "time" not in header or "event" not in header:
        raise TimelineFileError(f"{path}: line 1: expected a CSV header with time,event,detail, got {header!r}")
    out: list[TimelineEvent] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as e:
            raise TimelineFileError(f"{path}: line {reader.line_num}: {e}") from None
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}: line {reader.line_num}"
        if len(row) > len(header):
            raise TimelineFileError(f"{where}: {len(row)} fields, the header has {len(header)} (quote a detail "
                                    "that contains commas)")
        out.append(_event(dict(zip(header, row, strict=False)), where))


def parse_timeline(text: str, path: str = "<timeline>") -> list[TimelineEvent]:
    start = text.lstrip()[:1]
    if start == "[":
        return _json_list(text, path)
    if start == "{":
        return _json_lines(text, path)
    if not start:
        raise TimelineFileError(f"{path}: empty file; expected JSON or CSV (time,event,detail)")
    return _csv(text, path)


def read_timeline(path: str | Path) -> list[TimelineEvent]:
    """Events from a JSON, JSON Lines or CSV file, sorted by time, each with source ``file``."""
    p = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TIMELINE_BYTES + 1)
    except OSError as e:
        raise TimelineFileError(f"{p}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_TIMELINE_BYTES:
        raise TimelineFileError(f"{p}: larger than {MAX_TIMELINE_BYTES // (1024 * 1024)} MiB; not a timeline")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise TimelineFileError(f"{p}: line {line}: not UTF-8 text") from None
    events = parse_timeline(text, p)
    return sorted(events, key=lambda e: e.time)
