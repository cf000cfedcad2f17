"""A clock for tests: it only moves when a test moves it."""

from __future__ import annotations


class Clock:
    """Callable like ``time.time`` / ``time.monotonic``; set or advance ``now``."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
