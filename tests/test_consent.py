"""The phase of a transmission follows the table in consentscope.consent."""

from __future__ import annotations

import pytest

from consentscope.consent import PHASE_AFTER, ConsentTimeline, TimelineEvent, normalize_event


def test_no_event_means_no_consent_recorded() -> None:
    assert ConsentTimeline().phase_at(5.0) == "no-consent-recorded"


def test_before_and_after_consent_the_tap_counts_as_after() -> None:
    t = ConsentTimeline([TimelineEvent(100.0, "consent")])
    assert t.phase_at(99.999) == "before-consent"
    assert t.phase_at(100.0) == "after-consent"
    assert t.phase_at(1e9) == "after-consent"


@pytest.mark.parametrize(("events", "at", "phase"), [
    ([(10, "refusal")], 11, "after-refusal"),
    ([(10, "refusal"), (20, "consent")], 15, "after-refusal"),
    ([(10, "refusal"), (20, "consent")], 25, "after-consent"),
    ([(10, "consent"), (20, "withdrawal")], 25, "after-withdrawal"),
    ([(10, "app-start"), (20, "consent")], 15, "before-consent"),
    ([(10, "note")], 15, "no-consent-recorded"),
])
def test_transitions(events: list[tuple[float, str]], at: float, phase: str) -> None:
    t = ConsentTimeline(TimelineEvent(time, ev) for time, ev in events)
    assert t.phase_at(at) == phase


def test_out_of_order_events_are_sorted() -> None:
    t = ConsentTimeline()
    t.add(TimelineEvent(20, "consent"))
    t.add(TimelineEvent(10, "refusal"))
    assert [e.event for e in t.events] == ["refusal", "consent"]
    assert t.phase_at(15) == "after-refusal"


def test_aliases_and_unknown_events() -> None:
    assert normalize_event("Agree") == "consent"
    assert normalize_event("refuse") == "refusal"
    assert set(PHASE_AFTER) == {"consent", "refusal", "withdrawal"}
    with pytest.raises(ValueError, match="unknown event"):
        normalize_event("maybe")
