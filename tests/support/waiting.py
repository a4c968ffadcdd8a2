"""Polling until a condition holds: the one helper the app suite and the stack tests share."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Return predicate()'s first truthy value; TimeoutError (naming the last value) after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{message} not met within {timeout:g} s (last: {last!r})")
