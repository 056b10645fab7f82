"""Re-test comparison: what a new audit of an app fixed, kept, or added.

Each side is a set of groups. A finding group is (host, SDK, data type, consent phase); a
violation group is (rule, host, SDK, data type), taken from the findings its evidence names
(a violation without finding evidence, such as a bare connection or a timeline rule, is one
group per destination it names). A group on both sides is ``persisting``, only on the old
side ``fixed``, only on the new side ``new``. A finding group that moved from before to
after consent is therefore ``fixed`` in one phase and ``new`` in the other: that is the
change the re-test is for.

Sides: a session JSON report (``replay``, ``report``, a batch's ``sessions/<id>.json``), a
batch's ``summary.json`` (every session report it links), or a session id in a database.
Two single sessions are compared with each other whatever their apps; sides of several
sessions (batches) are paired app by app (the session's app package, else its label), each
app's sessions taken together: an app's groups are only compared with the same app's. An
app on the old side that the new side does not have is ``not-retested`` (absent is not
fixed); an app only on the new side has only ``new`` groups. The JSON document::

    {"version": 2, "old": "<side>", "new": "<side>",
     "changes": [{"status", "app", "kind": "violation"|"finding", "rule", "host", "sdk", "data_type", "phase"}]}

sorted by app, then new, persisting, fixed, not-retested, then by kind, rule, SDK, host,
data type and phase. Version 1 had no ``app`` and no ``not-retested``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from consentscope.errors import ConsentscopeError

#: Version of the comparison JSON (bumped whenever a key changes).
COMPARE_FORMAT_VERSION = 2
STATUS_ORDER = ("new", "persisting", "fixed", "not-retested")
CHANGE_KEYS = ("status", "app", "kind", "rule", "host", "sdk", "data_type", "phase")

Group = tuple[str, str | None, str | None, str | None, str | None, str | None]  # kind, rule, host, sdk, type, phase


class CompareError(ConsentscopeError):
    """A side that cannot be read (names the file or the session)."""


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as e:
        raise CompareError(f"{path}: cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise CompareError(f"{path}: not valid JSON: {e.msg} (line {e.lineno})") from None
    if not isinstance(doc, dict):
        raise CompareError(f"{path}: expected a consentscope session report or summary.json")
    return doc


def load_reports(side: str, db: str | None = None) -> list[dict[str, Any]]:
    """The session report documents one side stands for."""
    if db:
        from consentscope.reports.json_report import build_document
        from consentscope.session import judge, load
        from consentscope.storage import StorageError, open_engine

        engine = open_engine(db)
        try:
            return [build_document(judge([load(engine, side)]))]
        except StorageError as e:
            raise CompareError(f"{db}: session {side!r}: {e}") from None
    doc = _read_json(side)
    if "findings" in doc and "violations" in doc:
        return [doc]
    if "sdks" in doc and isinstance(doc.get("sessions"), list):  # a batch summary
        base = os.path.join(os.path.dirname(side), "sessions")
        return [_read_json(os.path.join(base, f"{s['id']}.json")) for s in doc["sessions"]
                if os.path.exists(os.path.join(base, f"{s['id']}.json"))]
    raise CompareError(f"{side}: neither a session report (findings, violations) nor a summary.json (sdks)")


def groups(docs: Iterable[dict[str, Any]]) -> set[Group]:
    out: set[Group] = set()
    for doc in docs:
        findings = doc.get("findings", [])
        by_flow: dict[str, list[dict[str, Any]]] = {}
        for f in findings:
            out.add(("finding", None, f["host"], f["sdk"], f["data_type"], f["phase"]))
            by_flow.setdefault(f["flow_id"], []).append(f)
        for v in doc.get("violations", []):  # accepted ones ("suppressed") are not violations
            types = set(v.get("data_types") or ())
            hits = [f for flow in v.get("evidence", {}).get("flows", ()) for f in by_flow.get(flow, ())
                    if not types or f["data_type"] in types]
            if hits:
                out.update(("violation", v["rule"], f["host"], f["sdk"], f["data_type"], None) for f in hits)
            else:
                for dest in v.get("destinations") or [None]:
                    for t in sorted(types) or [None]:
                        out.add(("violation", v["rule"], None, dest, t, None))
    return out


def app_of(doc: dict[str, Any]) -> str:
    """The app a session report is of: its package, else its label, else its id."""
    sessions = doc.get("sessions") or [{}]
    s = sessions[0] if isinstance(sessions[0], dict) else {}
    return str(s.get("app") or s.get("label") or s.get("id") or "")


def _by_app(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        out.setdefault(app_of(d), []).append(d)
    return out


def compare(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]], old_name: str = "old",
            new_name: str = "new") -> dict[str, Any]:
    old_docs, new_docs = list(old), list(new)
    if len(old_docs) == 1 and len(new_docs) == 1:  # two sessions the user put side by side
        pairs = {app_of(new_docs[0]) or app_of(old_docs[0]): (old_docs, new_docs)}
    else:
        old_apps, new_apps = _by_app(old_docs), _by_app(new_docs)
        pairs = {app: (old_apps.get(app, []), new_apps.get(app, [])) for app in {*old_apps, *new_apps}}
    changes: list[tuple[str, str, Group]] = []
    for app, (o, n) in pairs.items():
        a, b = groups(o), groups(n)
        gone = "fixed" if n else "not-retested"
        changes += [(gone if g not in b else "persisting", app, g) for g in a] + [("new", app, g) for g in b - a]

    def order(item: tuple[str, str, Group]) -> tuple:
        status, app, (kind, rule, host, sdk, data_type, phase) = item
        return (app, STATUS_ORDER.index(status), kind != "violation", rule or "", sdk or "", host or "",
                data_type or "", phase or "")

    return {
        "version": COMPARE_FORMAT_VERSION,
        "old": old_name,
        "new": new_name,
        "changes": [dict(zip(CHANGE_KEYS, (status, app, *g), strict=True))
                    for status, app, g in sorted(changes, key=order)],
    }


def compare_inputs(old: str, new: str, db: str | None = None) -> dict[str, Any]:
    return compare(load_reports(old, db), load_reports(new, db), old, new)


def render_compare_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def render_compare_html(doc: dict[str, Any]) -> str:
    from consentscope.reports.summary_report import _env

    counts = {s: sum(c["status"] == s for c in doc["changes"]) for s in STATUS_ORDER}
    return _env().get_template("compare.html.j2").render(doc=doc, counts=counts, statuses=STATUS_ORDER)


__all__ = [
    "CHANGE_KEYS",
    "COMPARE_FORMAT_VERSION",
    "CompareError",
    "app_of",
    "compare",
    "compare_inputs",
    "groups",
    "load_reports",
    "render_compare_html",
    "render_compare_json",
]
