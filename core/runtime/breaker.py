"""A circuit breaker: stop calling a failing server for a while, then probe it once.

Closed, calls pass and consecutive failures are counted; after ``failure_threshold`` of
them the breaker opens and refuses every call for ``reset_timeout`` seconds. Then it is
half-open: exactly one probe may pass; its success closes the breaker, its failure opens
it again for another ``reset_timeout``. The clock is injectable so tests need not sleep.

Hand-written rather than taken from PyPI: the asyncio-capable libraries (aiobreaker,
purgatory, circuitbreaker, pybreaker) read the wall clock directly, let every call through
when half-open instead of a single probe, or need tornado; and all of them wrap one
awaitable call, whereas a streamed answer succeeds or fails only when its stream ends.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class BreakerState(enum.StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Counts consecutive failures of one dependency and sheds calls while it is down.

    Use it around a call as: ``if not breaker.allow(): fail fast``, then exactly one of
    ``record_success()``, ``record_failure()`` or ``release()`` (the call was abandoned,
    for instance cancelled, and says nothing about the server's health).
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be positive")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """Closed, open, or half-open once the cool-down has passed."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.reset_timeout:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    @property
    def retry_after(self) -> float:
        """Seconds until the next probe may pass (0 unless the breaker is open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def allow(self) -> bool:
        """Whether a call may go ahead now; in half-open state only the first one may."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        """The call worked: close the breaker and forget earlier failures."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """The call failed: count it, and open (or reopen after a failed probe)."""
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """The call was abandoned: a probe's slot is freed for the next caller."""
        self._probing = False
