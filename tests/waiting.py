"""Waiting for a condition with a deadline: the only way tests wait for another process.

A fixed ``sleep`` either wastes time or, on a busy machine, is too short; polling a
condition is as fast as the machine allows and fails only after a generous deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, timeout: float = 60.0, interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; that value is returned. After
    ``timeout`` seconds, fail naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
