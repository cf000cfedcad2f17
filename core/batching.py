"""Micro-batching: calls from many coroutines served together, each waiting for its own.

Some work costs about as much for many items as for one: a database transaction, an
embedding model call, a vector-store query. A :class:`Batcher` makes one call at a time
over whatever was submitted while the previous call ran: a lone item goes at once, and
under load the batches grow by themselves, without a timer that would delay anyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("chorus.batching")

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs ``run(items)`` on the items submitted while the previous call ran.

    ``run`` returns one result per item, in order. When it raises, every item of the
    batch gets the error; with ``retry_alone`` each is instead run again on its own, so
    one bad item (a duplicate another process stored first, say) fails alone, except
    after ``shared_errors``, which no item causes alone (the database is down).
    """

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        name: str,
        max_batch: int = 256,
        retry_alone: bool = False,
        shared_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self.name = name
        self._max_batch = max_batch
        self._retry_alone = retry_alone
        self._shared_errors = shared_errors
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Run ``item`` with whatever else is waiting and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._drain(), name=self.name)
        return await future

    async def close(self) -> None:
        """Stop; items still waiting fail with an error."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        queued, self._queue = self._queue, []
        for _item, future in queued:
            _fail(future, RuntimeError(f"{self.name} was closed"))

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._call(batch)
            except BaseException:
                for _item, future in batch:
                    future.cancel()
                raise

    async def _call(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._checked([item for item, _ in batch])
        except Exception as exc:
            if not self._retry_alone or len(batch) == 1 or isinstance(exc, self._shared_errors):
                for _item, future in batch:
                    _fail(future, exc)
                return
            log.info(
                "%s: a batch of %d failed (%s); running them one by one",
                self.name,
                len(batch),
                type(exc).__name__,
            )
            for item, future in batch:
                try:
                    (result,) = await self._checked([item])
                except Exception as alone:
                    _fail(future, alone)
                else:
                    _resolve(future, result)
        else:
            for (_item, future), result in zip(batch, results, strict=True):
                _resolve(future, result)

    async def _checked(self, items: list[T]) -> Sequence[R]:
        results = await self._run(items)
        if len(results) != len(items):
            raise ValueError(f"{self.name} gave {len(results)} results for {len(items)} items")
        return results


# a future already done belongs to a caller that went away (cancelled)


def _resolve(future: asyncio.Future[R], result: R) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[R], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
