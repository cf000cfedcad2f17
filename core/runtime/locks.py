"""Serialisation: per key inside one process, and per key across processes (Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Callable, Hashable

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger("chorus.locks")


class KeyedLock:
    """One FIFO lock per key, created on demand and dropped when nobody holds or waits.

    ``asyncio.Lock`` wakes waiters in arrival order, so messages of one conversation are
    handled in the order they arrived while other keys proceed concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Claim(enum.Enum):
    """The outcome of trying to take a shared lock."""

    HELD = "held"  # this process holds it now
    BUSY = "busy"  # another process holds it
    ALONE = "alone"  # Redis cannot be reached: nothing is held, each process is alone


class SharedLocks:
    """One lock per key across every process, in Redis, held on a renewed lease.

    Taking a lock never waits: a process that finds it busy leaves the work to the holder
    (see :meth:`core.runtime.inbox.Inbox`), so no process sits polling Redis. A holder renews its
    lease every third of it; a holder that stalls past its lease loses the lock, and what
    it then writes is refused by the conversation's version check (the fencing), so a
    stalled process can delay a conversation but never interleave with it. When Redis
    cannot be reached nothing is held (and that is counted).
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        lease: float = 30.0,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:lock:"
        self._lease = lease
        self._on_unavailable = on_unavailable

    async def reachable(self) -> bool:
        """Whether Redis answers, so that holding a lock means something."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    @contextlib.asynccontextmanager
    async def attempt(self, key: str) -> AsyncIterator[Claim]:
        """Take ``key``'s lock if it is free, for the ``async with`` block."""
        lock = self._redis.lock(self._prefix + key, timeout=self._lease)
        try:
            acquired = await lock.acquire(blocking=False)
        except (RedisError, OSError) as exc:
            log.warning("shared lock %s not taken, Redis unavailable: %s", key, exc)
            if self._on_unavailable is not None:
                self._on_unavailable()
            yield Claim.ALONE
            return
        if not acquired:
            yield Claim.BUSY
            return
        renewal = asyncio.create_task(self._renew(lock), name=f"lease-{key}")
        try:
            yield Claim.HELD
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            with contextlib.suppress(RedisError, OSError, LockError):
                await lock.release()

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await lock.reacquire()
            except (RedisError, OSError, LockError) as exc:
                log.warning("could not renew a shared lock's lease: %s", exc)
