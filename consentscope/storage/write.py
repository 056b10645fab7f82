"""Writing sessions: a replay's whole result, a live session's batches, marks, verdicts.

Storage stores; it does not judge or place. Values arrive as the model's types (or, for
live batches and the spill file, as the plain column dicts ``finding_columns`` makes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import chain, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import JSON, Column, Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError

from consentscope.model import AuditContact, AuditFinding, Coverage, SessionResult

from .schema import (
    StorageError,
    contact_table,
    event_table,
    finding_table,
    request_table,
    session_table,
    violation_table,
)

if TYPE_CHECKING:
    from consentscope.profile import Profile
    from consentscope.rules import Violation


#: Rows per INSERT statement (one ``executemany``): the column dicts of a batch are all that
#: is held at a time, so storing 300,000 findings costs a few MB, not their whole list.
INSERT_BATCH = 5000


def _insert_all(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """``rows`` inserted in batches of ``INSERT_BATCH`` (one ``executemany`` each), in order:
    ids follow the order, as the ORM gave them. Every dict has the same keys.

    The rows are what ``conn.execute(insert(table), rows)`` stores: the INSERT names the given
    columns and those with a Python default (the default filled in per row), each value goes
    through its type's bind processor for the dialect (JSON serialised, floats made floats).
    Only the work is less: the statement is compiled once, and each row becomes a tuple in the
    driver's parameter order straight away (processors applied column by column), not a dict
    Core turns into parameters key by key (SQLAlchemy's ``construct_params`` and processors
    were 0.15 s of the 0.28 s storing 10,600 findings took). ``tests/storage/test_insert.py``
    compares the tables row for row."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        return
    plan = _plan(conn.dialect, table, first)
    defaults, get, names, sql = plan.defaults, plan.get, plan.names, plan.sql
    procs = [(i, _json_memo(p) if json else p) for i, p, json in plan.procs]
    rows_left = chain((first,), it)
    while batch := list(islice(rows_left, INSERT_BATCH)):
        if defaults:
            batch = [{**{k: d() for k, d in defaults}, **row} for row in batch]
        params: list[Any] = list(map(get, batch))
        del batch
        if procs:  # column by column: the loops over rows run in C
            by_column = list(zip(*params, strict=True))
            for i, process in procs:
                by_column[i] = tuple(map(process, by_column[i]))
            params = list(zip(*by_column, strict=True))
            del by_column
        if names is not None:
            params = [dict(zip(names, v, strict=True)) for v in params]
        conn.exec_driver_sql(sql, params)


class _Plan(NamedTuple):
    """How rows with one set of keys go into one table for one dialect (``_plan``)."""

    defaults: list[tuple[str, Callable[[], Any]]]
    get: Callable[[dict[str, Any]], tuple[Any, ...]]
    #: (position, bind processor, JSON column) of the columns that have a processor
    procs: list[tuple[int, Callable[[Any], Any], bool]]
    names: list[str] | None
    sql: str


#: plans by dialect (each engine has its own), then by table and the rows' keys
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[Table, frozenset[str]], _Plan]] = weakref.WeakKeyDictionary()


def _plan(dialect: Dialect, table: Table, first: dict[str, Any]) -> _Plan:
    """The INSERT for rows shaped like ``first``, compiled once per dialect, table and set
    of keys: compiling it took 0.5 ms, which a live writer paid for every batch and a batch
    audit for every table of every session."""
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    key = (table, frozenset(first))
    plan = plans.get(key)
    if plan is not None:
        return plan
    columns = [c for c in table.columns if c.key in first or c.default is not None]
    defaults = [(c.key, _default(c)) for c in columns if c.key not in first]
    compiled = insert(table).compile(dialect=dialect, column_keys=[c.key for c in columns], for_executemany=True)
    escaped: dict[str, str] = compiled.escaped_bind_names or {}
    if compiled.positional:
        by_key = {c.key: c for c in columns}
        order = [by_key[name] for name in compiled.positiontup or ()]
    else:
        order = columns
    if len(order) != len(columns) or compiled.insert_prefetch or compiled.postfetch or compiled.implicit_returning:
        raise AssertionError(f"{table.name}: INSERT compiled with other parameters than its columns")
    keys = [c.key for c in order]
    get: Callable[[dict[str, Any]], tuple[Any, ...]]
    get = itemgetter(*keys) if len(keys) > 1 else (lambda row, k=keys[0]: (row[k],))  # type: ignore[misc]
    procs: list[tuple[int, Callable[[Any], Any], bool]] = [
        (i, p, isinstance(c.type, JSON))
        for i, c in enumerate(order) if (p := c.type.dialect_impl(dialect).bind_processor(dialect))
    ]
    names = None if compiled.positional else [escaped.get(k, k) for k in keys]
    plan = plans[key] = _Plan(defaults, get, procs, names, compiled.string)
    return plan


#: Distinct values one JSON column's serialisations are remembered for, per ``_insert_all``
#: (a finding's encoding chain: a few dozen distinct lists in 10,000 findings).
JSON_MEMO = 256


def _json_memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's bind processor that serialises each distinct list of plain strings once
    (``json.dumps`` of a finding's encoding chain was 40 ms of storing 10,600 findings); any
    other value, and any list past ``JSON_MEMO`` distinct ones, goes to ``process`` as before."""
    memo: dict[tuple[str, ...], Any] = {}

    def memoised(value: Any) -> Any:
        if type(value) is not list or not all(type(x) is str for x in value):
            return process(value)
        key = tuple(value)
        done = memo.get(key)
        if done is None:
            done = process(value)
            if len(memo) < JSON_MEMO:
                memo[key] = done
        return done

    return memoised


def _default(column: Column[Any]) -> Callable[[], Any]:
    """A column's Python-side default as a function of no arguments, as Core computes it for
    a row that leaves the column out (a scalar, or a callable such as ``list``)."""
    default = column.default
    arg = getattr(default, "arg", None)
    if getattr(default, "is_callable", False):
        return lambda: arg(None)  # type: ignore[misc]  # Core wrapped it to take a context
    if getattr(default, "is_scalar", False):
        return lambda: arg
    raise AssertionError(f"{column}: a default Core computes another way ({default!r})")


def save_session(engine: Engine, result: SessionResult) -> None:
    """Write one ``SessionResult`` (replacing a session of the same id), in one transaction.

    Bulk inserts (``_insert_all``), not ORM objects: building and flushing an ORM object per
    finding was a fifth of a replay's time (9,200 flows, 28,000 findings); the rows and
    their ids are the same."""
    try:
        with engine.begin() as conn:
            for t in (finding_table, event_table, request_table, contact_table, violation_table):
                conn.execute(delete(t).where(t.c.session_id == result.id))
            conn.execute(delete(session_table).where(session_table.c.id == result.id))
            now = datetime.now(UTC).timestamp()
            _insert_all(conn, session_table, [dict(
                id=result.id, label=result.label, sources=list(result.sources), app_package=result.app_package,
                app_name=result.app_name, app_type=result.app_type,
                location_precision_m=result.location_precision_m, judged=now, started=result.started,
                ended=result.ended, created=now, requests=result.requests, anomalies=dict(result.anomalies),
                errors=list(result.errors), coverage=coverage_json(result.coverage),
            )])
            _insert_all(conn, request_table, (
                {"session_id": result.id, "flow_id": r.flow_id, "time": r.time, "method": r.method, "url": r.url,
                 "host": r.host, "party": r.party, "sdk": r.sdk}
                for r in result.request_log))
            _insert_all(conn, event_table, (
                {"session_id": result.id, "time": e.time, "event": e.event, "detail": e.detail, "source": e.source}
                for e in result.events))
            _insert_all(conn, finding_table, (finding_columns(f) for f in result.findings))
            _insert_all(conn, contact_table, (contact_columns(c) for c in result.contacts))
            _insert_all(conn, violation_table, (_violation_columns(result.id, v) for v in result.violations))
    except SQLAlchemyError as e:
        raise StorageError(f"cannot write session {result.id}: {e.__class__.__name__}: {e}") from None


def save_violations(engine: Engine, session_id: str, violations: Iterable[Violation]) -> None:
    """Replace a stored session's violations (a report judged it again, or a live session ended)."""
    try:
        with engine.begin() as conn:
            if conn.execute(select(session_table.c.id).where(session_table.c.id == session_id)).first() is None:
                raise StorageError(f"no session {session_id!r}")
            conn.execute(delete(violation_table).where(violation_table.c.session_id == session_id))
            _insert_all(conn, violation_table, (_violation_columns(session_id, v) for v in violations))
            conn.execute(update(session_table).where(session_table.c.id == session_id)
                         .values(judged=datetime.now(UTC).timestamp()))
    except SQLAlchemyError as e:
        raise StorageError(f"cannot store the violations of {session_id}: {e.__class__.__name__}: {e}") from None


def contact_columns(c: AuditContact) -> dict[str, Any]:
    """An AuditContact as plain column values (also the live writer's batch format)."""
    x, d = c.contact, c.destination
    return {
        "session_id": c.session, "time": x.time, "host": x.host, "ip": x.ip, "port": x.port, "via": str(x.via),
        "tls_version": x.tls_version, "flow_id": x.flow_id, "registrable_domain": d.registrable_domain or "",
        "party": d.party, "relation": d.relation or "", "sdk": d.sdk, "vendor": d.vendor, "category": d.category,
        "phase": str(c.phase), "source": str(c.source), "size": x.size, "decrypted": x.decrypted, "reason": x.reason,
    }


def coverage_json(c: Coverage) -> dict[str, Any]:
    from consentscope.reports.json_report import coverage_json as shape

    return shape(c)


def _violation_columns(session_id: str, v: Violation) -> dict[str, Any]:
    return {
        "session_id": session_id, "rule": v.rule, "category": v.category, "check": v.check, "severity": v.severity,
        "confidence": v.confidence, "explanation": v.explanation, "explanation_zh": v.explanation_zh,
        "data_types": list(v.data_types), "destinations": list(v.destinations), "flows": list(v.flows),
        "events": list(v.events), "observed": dict(v.observed), "suppressed": v.suppressed,
    }


def finding_columns(f: AuditFinding) -> dict[str, Any]:
    """An AuditFinding as plain column values (also the spill-file line format)."""
    d, x = f.destination, f.finding
    return {
        "session_id": f.session, "flow_id": f.flow_id, "time": f.time, "method": f.method, "url": f.url,
        "host": f.host, "registrable_domain": d.registrable_domain or "", "party": d.party,
        "relation": d.relation or "", "sdk": d.sdk, "vendor": d.vendor, "category": d.category,
        "data_type": x.data_type, "encoding": list(x.encoding), "location": x.location, "phase": str(f.phase),
        "evidence": x.evidence, "detail": x.detail, "source": str(f.source), "confidence": x.confidence,
    }


def app_columns(profile: Profile) -> dict[str, Any]:
    """What the rules need of a profile, as session columns (``consentscope.session.session_profile``)."""
    return dict(app_name=profile.app.name, app_type=profile.app.app_type,
                location_precision_m=profile.location.precision_m if profile.location else None)


def ensure_session(engine: Engine, session_id: str, label: str = "", app_package: str = "",
                   sources: Sequence[str] = (), app: dict[str, Any] | None = None) -> None:
    """Create a live session row if it does not exist yet. ``app``: ``app_name``,
    ``app_type``, ``location_precision_m`` (what the rules need of the profile)."""
    with engine.begin() as conn:
        if conn.execute(select(session_table.c.id).where(session_table.c.id == session_id)).first() is None:
            now = datetime.now(UTC).timestamp()
            conn.execute(insert(session_table).values(
                id=session_id, label=label or session_id, sources=list(sources), app_package=app_package,
                started=None, ended=None, created=now, requests=0, anomalies={}, errors=[], **(app or {})))


def write_batch(engine: Engine, session_id: str, findings: Sequence[dict[str, Any]] = (),
                events: Sequence[dict[str, Any]] = (), requests: int = 0, span: tuple[float, float] | None = None,
                anomalies: dict[str, int] | None = None, contacts: Sequence[dict[str, Any]] = (),
                coverage: dict[str, Any] | None = None) -> None:
    """Append live results in one transaction: all of the batch or none of it. ``coverage``
    (``coverage_json``'s shape, the session's so far) replaces the stored one.

    Core ``executemany`` and one UPDATE of the session row, not ORM objects: a FindingRow
    built, flushed and given back its id cost 0.15 ms per finding in the detector process,
    and loading the session row read its whole coverage document back for every batch. The
    rows are the same (``tests/storage/test_write_batch.py`` compares them)."""
    sessions = session_table
    with engine.begin() as conn:
        row = conn.execute(
            select(sessions.c.requests, sessions.c.started, sessions.c.ended, sessions.c.anomalies)
            .where(sessions.c.id == session_id)
        ).first()
        if row is None:
            raise StorageError(f"no session {session_id!r}")
        _insert_runs(conn, finding_table, findings)
        _insert_runs(conn, contact_table, contacts)
        _insert_runs(conn, event_table, [{"session_id": session_id, **cols} for cols in events])
        stored_requests, started, ended, stored_anomalies = row
        values: dict[str, Any] = {}
        if coverage:
            values["coverage"] = coverage
        if requests or stored_requests is None:
            values["requests"] = (stored_requests or 0) + requests
        if span is not None:
            values["started"] = span[0] if started is None else min(started, span[0])
            values["ended"] = span[1] if ended is None else max(ended, span[1])
        if anomalies:
            merged = dict(stored_anomalies or {})
            for k, v in anomalies.items():
                merged[k] = merged.get(k, 0) + v
            values["anomalies"] = merged
        if values:
            conn.execute(update(sessions).where(sessions.c.id == session_id).values(**values))


def _insert_runs(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` inserted in order, one ``executemany`` per run of rows with the same keys: a
    batch read back from the spill file may hold rows of an older shape (a column missing
    gets its default, as the ORM gave it) beside rows of today's. A key no column takes fails
    the batch, as the ORM's constructor did (Core would drop it silently)."""
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i].keys() != rows[start].keys():
            if unknown := rows[start].keys() - table.c.keys():
                raise StorageError(f"{table.name}: no column {', '.join(sorted(unknown))}")
            _insert_all(conn, table, rows[start:i])
            start = i


def add_event(engine: Engine, session_id: str, time: float, event_name: str, detail: str = "",
              source: str = "cli") -> int:
    with engine.begin() as conn:
        done = conn.execute(insert(event_table).values(session_id=session_id, time=time, event=event_name,
                                                       detail=detail, source=source))
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])
