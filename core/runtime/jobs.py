"""Background jobs: in this process by default, on a Redis queue when ``REDIS_URL`` is set.

A job is named by its kind ("content") and the id of the work it does, which is stored
first (a content job's row), so running a job twice is harmless and a job lost in transit
is found again at the next start. :class:`LocalJobs` runs each job as a task of this
process. :class:`QueuedJobs` puts it on an `arq <https://arq-docs.helpmanual.io>`_ queue
in Redis, and ``chorus worker`` (:func:`run_worker`) runs it.

arq was chosen over RQ and Celery (synchronous workers, a second concurrency model next
to asyncio), Dramatiq (the same) and SAQ or Taskiq (asyncio too, but larger and younger):
it is asyncio-native like the rest of Chorus, needs nothing but Redis, enqueues by job id
(the same id twice is one job), retries with a delay on ``Retry``, and leaves a job in
the queue while it runs, so a job whose worker was killed is run again once its
in-progress mark expires (``JOB_TIMEOUT_SECONDS`` + 10 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry
from redis.exceptions import RedisError

log = logging.getLogger("chorus.jobs")

Handler = Callable[[str], Awaitable[None]]
MAX_TRIES = 5


class Jobs(Protocol):
    def register(self, kind: str, handler: Handler) -> None: ...

    async def enqueue(self, kind: str, job_id: str) -> None: ...

    async def idle(self) -> None: ...

    async def close(self) -> None: ...


class LocalJobs:
    """Each job runs as a task of this process, once at a time per job."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    async def enqueue(self, kind: str, job_id: str) -> None:
        key = (kind, job_id)
        if key in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(
            self._run(kind, job_id), name=f"{kind}-{job_id}"
        )
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _run(self, kind: str, job_id: str) -> None:
        try:
            await self._handlers[kind](job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "%s job %s could not be run; it will be retried at start-up", kind, job_id
            )

    async def idle(self) -> None:
        """Wait until no job is running."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Stop running jobs; their work stays stored and is resumed at the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class QueuedJobs:
    """Jobs go on the arq queue ``PREFIX:jobs``; workers run them."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._settings = RedisSettings.from_dsn(redis_url)
        self.queue = f"{prefix}:jobs"
        self._prefix = prefix
        self._pool: ArqRedis | None = None

    def register(self, kind: str, handler: Handler) -> None:
        return None  # the worker process runs the handlers

    async def enqueue(self, kind: str, job_id: str) -> None:
        """Queue the job (once per id). When Redis is down the job stays stored and is
        queued again by the next start or sweep."""
        try:
            if self._pool is None:
                self._pool = await create_pool(self._settings, default_queue_name=self.queue)
            await self._pool.enqueue_job(kind, job_id, _job_id=self.job_key(kind, job_id))
        except (RedisError, OSError) as exc:
            log.warning("could not queue %s job %s (%s); it stays stored", kind, job_id, exc)

    def job_key(self, kind: str, job_id: str) -> str:
        return f"{self._prefix}:{kind}:{job_id}"

    async def depth(self) -> int:
        """Jobs waiting in the queue."""
        if self._pool is None:
            self._pool = await create_pool(self._settings, default_queue_name=self.queue)
        return int(await self._pool.zcard(self.queue))

    async def idle(self) -> None:
        return None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def worker_function(kind: str, handler: Callable[[dict[str, Any]], Handler]) -> Any:
    """An arq function named ``kind`` that runs ``handler(ctx)(job_id)``; a failure it did
    not handle itself is retried with a growing delay."""

    async def run(ctx: dict[str, Any], job_id: str) -> None:
        try:
            await handler(ctx)(job_id)
        except Exception as exc:
            tries = int(ctx.get("job_try", 1))
            log.warning("%s job %s failed (try %d): %s", kind, job_id, tries, exc)
            raise Retry(defer=min(2**tries, 60)) from exc

    run.__qualname__ = run.__name__ = kind
    return run
