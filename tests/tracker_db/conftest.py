"""Shared fixtures: the shipped database, built once for the whole test session."""

from __future__ import annotations

import pytest

from consentscope.tracker_db import TrackerDB


@pytest.fixture(scope="session")
def shipped_db() -> TrackerDB:
    return TrackerDB.shipped()
