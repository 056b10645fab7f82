"""MIIT-2.2 over-frequency (超频次): the same data type sent to the same destination again and again.

No binding text gives a number (regulations.md §9); the checks are heuristics, labelled so, with
the observed counts and intervals in the evidence and thresholds in ``Thresholds``:

- ``frequent``: a run of ``repeat_count`` or more uploads, each within ``repeat_interval_s`` of
  the previous one (the scenarios' "every 30 s"); ``periodic`` too when the intervals are
  regular (coefficient of variation ≤ ``regular_cv``): together they are the M164 scenario of a
  fixed-rate read, medium; alone, low;
- ``periodic``: ``repeat_count`` or more uploads at regular spacing, any interval: low confidence;
- ``background``: device identifiers, app lists or location sent while the timeline says the
  app was in the background (M164-1.2), medium.

An upload is one request (a flow); the destination is the SDK, else the registrable domain.
Data types whose uploads are the same requests are reported together.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

from consentscope.model import AuditFinding, SessionResult, iso_time
from consentscope.profile import Profile

from ._evidence import destinations_zh, en_list, flows, types_zh, who, who_zh, zh_list
from ._model import Thresholds, Violation
from ._timeline import BACKGROUND, FOREGROUND, last_event_before, state_at
from ._vocab import is_device_or_location, slug


def _longest_close_run(times: list[float], gap: float) -> list[float]:
    best: list[float] = []
    run: list[float] = []
    for t in times:
        run = [*run, t] if run and t - run[-1] <= gap else [t]
        if len(run) > len(best):
            best = run
    return best


def _stats(times: list[float]) -> dict[str, float]:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    median = statistics.median(gaps)
    mean = statistics.fmean(gaps)
    cv = statistics.pstdev(gaps) / mean if mean > 0 else 0.0
    span = times[-1] - times[0]
    return {
        "uploads": len(times),
        "span_s": round(span, 3),
        "median_interval_s": round(median, 3),
        "min_interval_s": round(min(gaps), 3),
        "interval_cv": round(cv, 3),
        "per_minute": round((len(times) - 1) * 60 / span, 2) if span > 0 else float(len(times)),
    }


def rule_frequency(result: SessionResult, profile: Profile, th: Thresholds) -> list[Violation]:
    groups: dict[tuple[str, str], list[AuditFinding]] = defaultdict(list)
    dest_zh: dict[str, str] = {}
    for f in result.findings:
        groups[(who(f), f.finding.data_type)].append(f)
        dest_zh.setdefault(who(f), who_zh(f))
    # (destination, flows) -> data types, check, numbers: one violation per pattern
    patterns: dict[tuple[str, tuple[str, ...]], tuple[list[str], str, dict[str, float], list[AuditFinding]]] = {}
    for (dest, dtype), fs in sorted(groups.items()):
        upload_at: dict[str, float] = {}
        for f in fs:
            upload_at.setdefault(f.flow_id, f.time)
        times = sorted(upload_at.values())
        if len(times) < th.repeat_count:
            continue
        run = _longest_close_run(times, th.repeat_interval_s)
        if len(run) >= th.repeat_count:
            numbers = _stats(run) | {"uploads_total": len(times)}
            check = "frequent+periodic" if numbers["interval_cv"] <= th.regular_cv else "frequent"
            in_run = set(run)
            proof = [f for f in fs if f.time in in_run]
        else:
            numbers = _stats(times)
            if numbers["interval_cv"] > th.regular_cv:
                continue
            check, proof = "periodic", fs
        key = (dest, flows(proof))
        if key in patterns:
            patterns[key][0].append(dtype)
        else:
            patterns[key] = ([dtype], check, numbers, proof)
    out = []
    for (dest, flow_ids), (dtypes, check, n, _proof) in patterns.items():
        sev, conf = {"frequent+periodic": ("medium", "medium"), "frequent": ("low", "medium"),
                     "periodic": ("low", "low")}[check]
        how_en = {"frequent+periodic": "at a fixed rate", "frequent": "in quick succession",
                  "periodic": "at regular intervals"}[check]
        how_zh = {"frequent+periodic": "以固定频率", "frequent": "短时间内连续", "periodic": "按固定间隔"}[check]
        out.append(Violation(
            "MIIT-2.2", sev, conf,
            f"{en_list(dtypes)} went to {dest} {n['uploads']} times {how_en}: every {n['median_interval_s']:g} s "
            f"(median) over {n['span_s']:g} s, {n['per_minute']:g} per minute; threshold {th.repeat_count} uploads "
            f"at ≤ {th.repeat_interval_s:g} s or at regular spacing (a heuristic: no regulation gives a number).",
            flow_ids, (), result.id, tuple(dtypes),
            explanation_zh=(
                f"{types_zh(dtypes)} {how_zh}发往 {dest_zh[dest]} 共 {n['uploads']} 次："
                f"中位间隔 {n['median_interval_s']:g} 秒，"
                f"历时 {n['span_s']:g} 秒，每分钟 {n['per_minute']:g} 次；阈值为 {th.repeat_count} 次且间隔 ≤ "
                f"{th.repeat_interval_s:g} 秒或间隔规律（经验阈值，法规未规定具体次数）。"
            ),
            check=check, destinations=(dest,), observed=tuple(n.items()),
        ))
    out.extend(_background(result, profile))
    return out


def _background(result: SessionResult, profile: Profile) -> list[Violation]:
    events = sorted(result.events, key=lambda e: e.time)
    if not any(e.event == BACKGROUND for e in events):
        return []
    hits = [
        f for f in result.findings
        if is_device_or_location(slug(f.finding, profile)) and state_at(events, f.time, BACKGROUND, FOREGROUND)
    ]
    if not hits:
        return []
    types = tuple(sorted({f.finding.data_type for f in hits}))
    dests = tuple(sorted({who(f) for f in hits}))
    n = len({f.flow_id for f in hits})
    proof = tuple(dict.fromkeys(
        e.time for f in hits if (e := last_event_before(events, BACKGROUND, f.time)) is not None
    ))
    return [Violation(
        "MIIT-2.2", "medium", "medium",
        f"While the app was in the background, {n} request(s) sent {en_list(types)} to {en_list(dests)}: "
        "silent collection in the background is named in the MIIT 2020 campaign (M164-1.2).",
        flows(hits), tuple(iso_time(t) for t in proof), result.id, types,
        explanation_zh=(
            f"App 处于后台时，{n} 个请求向 {zh_list(destinations_zh(hits))} 发送了 {types_zh(types)}："
            "后台静默收集属于工信部2020年专项行动（164号文）所列情形。"
        ),
        check="background", destinations=dests, observed=(("uploads", n),),
    )]
