"""Judging sessions: the rules run on a session, and the verdict kept with it in the database.

A replay judges what it has just read. A stored session (a live proxy session, or a replay
stored earlier) is judged from the database: the session row keeps what the rules need of
the profile (app type, location precision), so ``report`` reaches the same verdict as the
replay did without the profile file, and the verdict is written back so that SQL over the
database (batch audits, dashboards) sees the violations next to the findings.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from consentscope.detectors import GeoPoint
from consentscope.pipeline import SessionResult
from consentscope.profile import AppInfo, Profile
from consentscope.rules import Suppressions, Violation, evaluate
from consentscope.storage import load_session, save_violations


def session_profile(result: SessionResult) -> Profile:
    """The part of the profile the rules read, rebuilt from what the session recorded.

    Coordinates are not kept with a session (they are personal data and no rule needs
    them); the location only carries its precision, which tells coarse from precise.
    """
    location = None
    if result.location_precision_m:
        location = GeoPoint(0.0, 0.0, result.location_precision_m)
    app = AppInfo(package=result.app_package, name=result.app_name, app_type=result.app_type)
    return Profile(path="", app=app, location=location)


def judge(result: SessionResult, profile: Profile | None = None,
          suppressions: Suppressions | None = None) -> list[Violation]:
    """The session's violations; ``profile`` (a file the user named) wins over the recorded one."""
    return evaluate(result, profile or session_profile(result), suppressions=suppressions)


def judge_stored(engine: Engine, session_id: str, profile: Profile | None = None,
                 suppressions: Suppressions | None = None) -> SessionResult:
    """Load a stored session, judge it, store the verdict; the session comes back judged."""
    result = load_session(engine, session_id)
    result.violations = judge(result, profile, suppressions)
    save_violations(engine, session_id, result.violations)
    return result
