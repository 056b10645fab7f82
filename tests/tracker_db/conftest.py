"""Shared fixtures: the shipped database, built once for the whole test session."""

from __future__ import annotations

import pytest

from consentscope.tracker_db import Rule, TrackerDB, load_rules


@pytest.fixture(scope="session")
def shipped_db() -> TrackerDB:
    return TrackerDB.shipped()


@pytest.fixture(scope="session")
def rules() -> list[Rule]:
    """Every shipped endpoint rule, in file order."""
    return load_rules()
