"""From findings to violations: each rule a small function with an ID from
``regulations.md``, the evidence it rests on and one sentence a person can act on.

Rules see a finished ``SessionResult`` (findings with phases, contacts, the timeline) and
the profile (app type); they never look at traffic themselves.
"""

from ._engine import RULES, Thresholds, Violation, evaluate, fail_on

__all__ = ["RULES", "Thresholds", "Violation", "evaluate", "fail_on"]
