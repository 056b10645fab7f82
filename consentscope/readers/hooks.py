"""Hook logs: what the app read, and what it sent before encrypting (a door of its own).

Traffic cannot show a payload an SDK encrypts itself (Umeng's envelope, Bugly, Getui…) nor a
privacy API read that is never sent. A hook on the device sees both: Frida or Xposed scripts
(camille, AndroidPrivacyMonitor and the like) log privacy-API calls with their stacks, and a
hook on ``Cipher.doFinal`` or an HTTP client sees the payload before encryption. This module
reads such logs.

JSON Lines, one object per line (blank lines and ``#`` comments skipped)::

    {"time": "2026-03-02T10:00:02Z", "kind": "api-read",
     "api": "android.telephony.TelephonyManager.getImei", "data_type": "imei",
     "stack": ["com.umeng.commonsdk.statistics.idtracking.ImeiTracker.f", "…"]}
    {"time": "2026-03-02T10:00:03Z", "kind": "payload", "url": "https://ulogs.umeng.com/unify_logs",
     "method": "POST", "headers": {"Content-Type": "application/json"}, "body_b64": "eyJp…",
     "stack": ["com.umeng.commonsdk.…"]}

``time`` is ISO 8601 (UTC without an offset) or epoch seconds (milliseconds above 10^11);
``sdk`` may name the SDK outright, otherwise it is named from the first stack frame outside
the platform (``android.``, ``java.``…): its package read as a reversed domain and looked up
in ``tracker_db`` (``com.umeng.commonsdk`` → ``umeng.com``). ``body`` (text) may stand for
``body_b64``. An ``api-read`` becomes a timeline event ``api-read`` (detail: data type, API,
SDK); a ``payload`` becomes a request record like any other, whose findings say ``source:
"hook"``.

camille's export (columns 隐私政策状态, 时间点, 行为主体, 操作行为, 行为描述, 传入参数,
调用堆栈), saved as CSV or XLSX, reads into the same events: the action (操作行为) names the
data (获取IMEI → imei), the time is the machine's local time as camille writes it.

Errors name the file and the line.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from consentscope.detectors import RequestRecord
from consentscope.errors import ConsentscopeError
from consentscope.model import Event, TimelineEvent, parse_iso_time

#: Hook logs are a person's or a script's output, not captures: refuse anything larger.
MAX_HOOK_FILE_BYTES = 256 * 1024 * 1024
#: Stack frames read per entry (real stacks are tens of frames; a runaway log is not).
MAX_STACK_FRAMES = 200
#: A larger epoch number is milliseconds (as in timeline files).
EPOCH_MS_ABOVE = 1e11

#: frames of the platform and language runtimes: never the SDK that called the API
_PLATFORM = ("android.", "androidx.", "java.", "javax.", "kotlin.", "kotlinx.", "dalvik.", "libcore.",
             "sun.", "com.android.", "com.google.android.gms.internal.", "okhttp3.", "okio.", "org.json.",
             "<", "$")

#: data type keys of the profile (``consentscope.profile``) a hook may name
DATA_TYPES = frozenset({
    "imei", "meid", "imsi", "iccid", "android_id", "oaid", "gaid", "idfa", "idfv", "serial", "mac", "wifi_mac",
    "bluetooth_mac", "bssid", "ssid", "phone_number", "email", "real_name", "id_number", "location",
    "installed_apps", "contacts", "sms", "call_log", "clipboard", "camera", "microphone", "sensor",
})

#: camille's action text (操作行为 / 行为描述) → data type; the first match wins
_CAMILLE_TYPES: tuple[tuple[str, str], ...] = (
    ("imei", "imei"), ("meid", "meid"), ("imsi", "imsi"), ("iccid", "iccid"), ("sim卡序列号", "iccid"),
    ("android_id", "android_id"), ("androidid", "android_id"), ("android id", "android_id"), ("oaid", "oaid"),
    ("序列号", "serial"), ("serial", "serial"), ("蓝牙", "bluetooth_mac"), ("bssid", "bssid"), ("ssid", "ssid"),
    ("mac", "mac"), ("手机号", "phone_number"), ("电话号码", "phone_number"), ("位置", "location"),
    ("定位", "location"), ("经纬度", "location"), ("location", "location"), ("应用列表", "installed_apps"),
    ("安装列表", "installed_apps"), ("installedpackages", "installed_apps"), ("通讯录", "contacts"),
    ("联系人", "contacts"), ("短信", "sms"), ("通话记录", "call_log"), ("剪切板", "clipboard"),
    ("剪贴板", "clipboard"), ("相机", "camera"), ("摄像头", "camera"), ("麦克风", "microphone"),
    ("录音", "microphone"), ("传感器", "sensor"),
)
CAMILLE_COLUMNS = ("隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈")


class HookFileError(ConsentscopeError):
    """A hook log that cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class HookLog:
    """What a hook log holds: privacy-API reads as timeline events, payloads as records."""

    events: tuple[TimelineEvent, ...]
    records: tuple[RequestRecord, ...]


@dataclass(frozen=True, slots=True)
class ApiRead:
    data_type: str
    api: str
    sdk: str

    def detail(self) -> str:
        return f"{self.data_type} {self.api} [{self.sdk or 'unknown caller'}]"


_DETAIL = re.compile(r"^(?P<type>\S+) (?P<api>\S*) \[(?P<sdk>[^\]]*)\]$")


def parse_api_read(detail: str) -> ApiRead | None:
    """The parts of an ``api-read`` event's detail (``ApiRead.detail`` writes it)."""
    m = _DETAIL.match(detail)
    if m is None:
        return None
    sdk = m["sdk"]
    return ApiRead(m["type"], m["api"], "" if sdk == "unknown caller" else sdk)


def sdk_from_stack(frames: Iterable[str], app_package: str = "") -> str:
    """The SDK whose code made the call: the first frame outside the platform, its package read
    as a reversed domain in ``tracker_db``. The app's own code is "" (first party)."""
    from consentscope.tracker_db import TrackerDB

    db = TrackerDB.default()
    for n, frame in enumerate(frames):
        if n >= MAX_STACK_FRAMES:
            break
        frame = frame.strip().removeprefix("at ").strip()
        if not frame or frame.startswith(_PLATFORM):
            continue
        if app_package and (frame == app_package or frame.startswith(app_package + ".")):
            return ""
        parts = [p for p in frame.split("(")[0].split(".") if p]
        # longest package first: com.tencent.bugly.crashreport → crashreport.bugly.tencent.com …
        for k in range(min(len(parts) - 1, 5), 1, -1):
            host = ".".join(reversed(parts[:k])).lower()
            if not re.fullmatch(r"[a-z0-9.-]+", host):
                continue
            m = db.lookup_host(host)
            if m is not None:
                return m.sdk
        return ""
    return ""


def _time(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        t = float(value)
        return t / 1000 if t > EPOCH_MS_ABOVE else t
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return parse_iso_time(text)
        except ValueError:
            raise HookFileError(f"time {value!r} is not ISO 8601 or epoch seconds", where) from None
    raise HookFileError("time is missing", where)


def _stack(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.splitlines()[:MAX_STACK_FRAMES])
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return tuple(value[:MAX_STACK_FRAMES])
    raise HookFileError("stack must be a list of frames (strings)", where)


def _body(obj: dict[str, object], where: str) -> bytes:
    if "body_b64" in obj:
        raw = obj["body_b64"]
        if not isinstance(raw, str):
            raise HookFileError("body_b64 must be a string", where)
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HookFileError("body_b64 is not base64", where) from None
    body = obj.get("body", "")
    if not isinstance(body, str):
        raise HookFileError("body must be a string (or use body_b64)", where)
    return body.encode("utf-8")


def _payload(obj: dict[str, object], n: int, where: str) -> RequestRecord:
    url = obj.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise HookFileError("payload needs url (an absolute URL)", where)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise HookFileError(f"no host in url {url!r}", where)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HookFileError(f"bad port in url {url!r}", where) from None
    method = obj.get("method", "POST")
    if not isinstance(method, str) or not method.isascii() or not method.strip():
        raise HookFileError("method must be text such as POST", where)
    headers_obj = obj.get("headers") or {}
    if not isinstance(headers_obj, dict) or not all(isinstance(v, str) for v in headers_obj.values()):
        raise HookFileError("headers must be an object of strings", where)
    headers = tuple((str(k), v) for k, v in headers_obj.items())
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return RequestRecord(f"hook:{n}", _time(obj.get("time"), where), method.upper(), parts.scheme or "https", host,
                         port, path, headers, _body(obj, where))


def parse_hooks(text: str, path: str, app_package: str = "") -> HookLog:
    """The events and records of a JSON Lines hook log."""
    events: list[TimelineEvent] = []
    records: list[RequestRecord] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"line {n}"
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise HookFileError("not a JSON object", path, where) from None
        if not isinstance(obj, dict):
            raise HookFileError("not a JSON object", path, where)
        try:
            kind = obj.get("kind")
            stack = _stack(obj.get("stack"), where)
            sdk = obj.get("sdk")
            if sdk is not None and not isinstance(sdk, str):
                raise HookFileError("sdk must be text", where)
            if kind == "api-read":
                data_type = obj.get("data_type")
                if data_type not in DATA_TYPES:
                    raise HookFileError(f"data_type must be one of {', '.join(sorted(DATA_TYPES))}", where)
                api = obj.get("api", "")
                if not isinstance(api, str) or any(c.isspace() for c in api):
                    raise HookFileError("api must be a method name such as android.telephony.TelephonyManager."
                                        "getImei", where)
                who = sdk if sdk is not None else sdk_from_stack(stack, app_package)
                read = ApiRead(str(data_type), api, who.replace("]", ")"))
                events.append(TimelineEvent(_time(obj.get("time"), where), Event.API_READ, read.detail(), "hook"))
            elif kind == "payload":
                records.append(_payload(obj, n, where))
            else:
                raise HookFileError("kind must be api-read or payload", where)
        except HookFileError as e:
            raise HookFileError(e.message, path, e.place or e.path) from None
    return HookLog(tuple(sorted(events, key=lambda e: e.time)), tuple(records))


def camille_rows(rows: Iterable[Sequence[object]], path: str, app_package: str = "") -> HookLog:
    """camille's table (header row first) as api-read events; rows whose action names no known
    data type are skipped (camille hooks more than personal information)."""
    it = iter(rows)
    header = [str(c or "").strip() for c in next(it, [])]
    missing = [c for c in ("时间点", "操作行为", "调用堆栈") if c not in header]
    if missing:
        raise HookFileError(f"not a camille export: no column {', '.join(missing)}", path, "line 1")
    col = {name: header.index(name) for name in CAMILLE_COLUMNS if name in header}
    events: list[TimelineEvent] = []
    for n, row in enumerate(it, 2):
        cells = [str(c if c is not None else "").strip() for c in row]
        if not any(cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = col.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        action = f"{cell('操作行为')} {cell('行为描述')}".lower()
        data_type = next((t for key, t in _CAMILLE_TYPES if key in action), None)
        if data_type is None:
            continue
        try:
            # camille writes time.localtime(): the machine's zone, without an offset
            t = datetime.strptime(cell("时间点"), "%Y-%m-%d %H:%M:%S").astimezone().timestamp()
        except ValueError:
            raise HookFileError(f"时间点 {cell('时间点')!r} is not YYYY-MM-DD HH:MM:SS", path, f"line {n}") from None
        stack = cell("调用堆栈").splitlines()
        api = next((f for f in (s.strip().removeprefix("at ").split("(")[0] for s in stack)
                    if f.startswith(("android.", "java."))), "")
        read = ApiRead(data_type, api.replace(" ", ""), sdk_from_stack(stack, app_package).replace("]", ")"))
        events.append(TimelineEvent(t, Event.API_READ, read.detail(), "hook"))
    return HookLog(tuple(sorted(events, key=lambda e: e.time)), ())


def read_hooks(path: str | Path, app_package: str = "") -> HookLog:
    """A hook log: JSON Lines, or camille's export as CSV or XLSX."""
    p = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_HOOK_FILE_BYTES + 1)
    except OSError as e:
        raise HookFileError(f"cannot read: {e.strerror or e}", p) from None
    if len(raw) > MAX_HOOK_FILE_BYTES:
        raise HookFileError(f"larger than {MAX_HOOK_FILE_BYTES // (1024 * 1024)} MiB; not a hook log", p)
    if raw.startswith(b"PK\x03\x04"):
        return camille_rows(_xlsx_rows(raw, p), p, app_package)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise HookFileError("not UTF-8 text", p, f"line {line}") from None
    first = text.lstrip()[:1]
    if first in ("{", "#", ""):
        return parse_hooks(text, p, app_package)
    return camille_rows(csv.reader(io.StringIO(text)), p, app_package)


def _xlsx_rows(raw: bytes, path: str) -> list[tuple[object, ...]]:
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise HookFileError("reading XLSX needs openpyxl (pip install openpyxl), or save it as CSV", path) from None
    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        ws = wb.worksheets[0]
        return [tuple(r) for r in ws.iter_rows(values_only=True)]
    except Exception as e:  # a damaged workbook: openpyxl raises many kinds
        raise HookFileError(f"not a readable XLSX workbook ({e.__class__.__name__})", path) from None


__all__ = ["ApiRead", "HookFileError", "HookLog", "camille_rows", "parse_api_read", "parse_hooks", "read_hooks",
           "sdk_from_stack"]
