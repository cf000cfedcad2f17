"""The circuit breaker's states, driven by a clock the test moves by hand."""

from __future__ import annotations

import pytest

from core.runtime.breaker import BreakerState, CircuitBreaker
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_timeout=10.0, clock=clock)


def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_opens_after_the_threshold_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    _fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.failures == 3
    assert not breaker.allow()
    assert breaker.retry_after == pytest.approx(10.0)


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    _fail(breaker, 2)
    breaker.record_success()
    _fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 2


def test_stays_open_for_the_whole_cool_down(breaker: CircuitBreaker, clock: Clock) -> None:
    _fail(breaker, 3)
    clock.now += 9.9

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_after == pytest.approx(0.1)


def test_half_open_lets_exactly_one_probe_through_and_success_closes(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    _fail(breaker, 3)
    clock.now += 10.0

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else while it runs
    assert not breaker.allow()

    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.allow()
    assert breaker.allow()


def test_a_failed_probe_reopens_for_another_cool_down(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    _fail(breaker, 3)
    clock.now += 10.0
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after == pytest.approx(10.0)
    clock.now += 9.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_an_abandoned_probe_frees_the_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    _fail(breaker, 3)
    clock.now += 10.0
    assert breaker.allow()
    assert not breaker.allow()

    breaker.release()

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()


def test_a_single_failure_threshold_opens_at_once(clock: Clock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5.0, clock=clock)
    _fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize(
    ("threshold", "timeout"),
    [(0, 10.0), (3, 0.0), (3, -1.0)],
)
def test_nonsense_settings_are_refused(threshold: int, timeout: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(failure_threshold=threshold, reset_timeout=timeout)
