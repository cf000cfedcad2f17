"""The batcher: what is submitted while a call runs goes together into the next one."""

from __future__ import annotations

import asyncio

import pytest

from core.batching import Batcher


class Doubler:
    """Doubles numbers, one call per batch; ``gate`` holds calls, ``called`` is set by the
    first, negatives are refused."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(items)
        self.called.set()
        await self.gate.wait()
        if any(n < 0 for n in items):
            raise ValueError(f"negative among {items}")
        return [2 * n for n in items]


async def test_a_lone_item_goes_at_once_and_a_crowd_goes_together() -> None:
    run = Doubler()
    batcher = Batcher(run, name="test")
    assert await batcher.submit(1) == 2
    assert await asyncio.gather(*(batcher.submit(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert run.calls == [[1], [0, 1, 2, 3, 4]]


async def test_items_arriving_during_a_call_wait_for_the_next_one() -> None:
    run = Doubler()
    run.gate.clear()
    batcher = Batcher(run, name="test", max_batch=3)
    first = asyncio.create_task(batcher.submit(1))
    await run.called.wait()
    later = [asyncio.create_task(batcher.submit(n)) for n in range(10, 15)]
    await asyncio.sleep(0.01)
    assert run.calls == [[1]]
    run.gate.set()
    assert await asyncio.gather(first, *later) == [2, 20, 22, 24, 26, 28]
    assert run.calls == [[1], [10, 11, 12], [13, 14]]


async def test_a_failed_batch_fails_every_item() -> None:
    batcher = Batcher(Doubler(), name="test")
    results = await asyncio.gather(*(batcher.submit(n) for n in (1, -1, 2)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)


async def test_with_retry_alone_only_the_bad_item_fails() -> None:
    run = Doubler()
    batcher = Batcher(run, name="test", retry_alone=True)
    results = await asyncio.gather(*(batcher.submit(n) for n in (1, -1, 2)), return_exceptions=True)
    assert results[0] == 2
    assert results[2] == 4
    assert isinstance(results[1], ValueError)
    assert run.calls == [[1, -1, 2], [1], [-1], [2]]


async def test_a_shared_error_is_not_retried_item_by_item() -> None:
    run = Doubler()
    batcher = Batcher(run, name="test", retry_alone=True, shared_errors=(ValueError,))
    results = await asyncio.gather(*(batcher.submit(n) for n in (1, -1, 2)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    assert run.calls == [[1, -1, 2]]


async def test_a_caller_that_goes_away_does_not_stop_the_others() -> None:
    run = Doubler()
    run.gate.clear()
    batcher = Batcher(run, name="test")
    leaving = asyncio.create_task(batcher.submit(1))
    staying = asyncio.create_task(batcher.submit(2))
    await run.called.wait()
    leaving.cancel()
    run.gate.set()
    assert await staying == 4
    assert leaving.cancelled()


async def test_closing_fails_what_is_still_waiting() -> None:
    run = Doubler()
    run.gate.clear()
    batcher = Batcher(run, name="test")
    running = asyncio.create_task(batcher.submit(1))
    await run.called.wait()
    waiting = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await running
    with pytest.raises(RuntimeError, match="closed"):
        await waiting


async def test_a_run_that_returns_too_few_results_is_an_error() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batcher = Batcher(short, name="short")
    with pytest.raises(ValueError, match="1 results for 2 items"):
        await asyncio.gather(*(batcher.submit(n) for n in (1, 2)))
