"""Token buckets: how many messages a user may send, in one process or across many.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; each message
takes one. :class:`LocalBuckets` keeps them in this process (the default).
:class:`RedisBuckets` keeps them in Redis, taken by one atomic Lua script with Redis's own
clock, so every process of an installation draws from the same bucket. When Redis cannot
be reached, taking is allowed (and counted): a limit must not take the service down.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.i18n.translator import ENGLISH, Translator

log = logging.getLogger("chorus.ratelimit")

MAX_LOCAL_KEYS = 100_000

# KEYS[1]: the bucket; ARGV: rate per second, burst, cost. Returns {allowed, tokens left,
# seconds until ``cost`` tokens are there}.
TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - at) * rate)
local allowed = 0
if tokens + 1e-9 >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local wait = 0
if allowed == 0 then wait = (cost - tokens) / rate end
return {allowed, tostring(tokens), tostring(wait)}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """``burst`` at once, then ``per_minute``."""

    per_minute: float
    burst: int

    @property
    def rate(self) -> float:
        return self.per_minute / 60


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until one more is allowed (0 when allowed)


class Buckets(Protocol):
    async def take(self, key: str, limit: Limit, cost: int = 1) -> Decision: ...


class LocalBuckets:
    """Buckets in this process's memory; the least recently used are forgotten first."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_LOCAL_KEYS
    ) -> None:
        self._clock = clock
        self._max = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str, limit: Limit, cost: int = 1) -> Decision:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + max(0.0, now - at) * limit.rate)
        # a token refilled to within rounding of whole counts as whole: otherwise a
        # waiter could be told to wait a few nanoseconds again and again
        allowed = tokens + 1e-9 >= cost
        if allowed:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        wait = 0.0 if allowed else (cost - tokens) / limit.rate
        return Decision(allowed, max(0, math.floor(tokens)), wait)


class RedisBuckets:
    """Buckets in Redis, shared by every process; allowed when Redis is down."""

    def __init__(
        self, redis: Redis, prefix: str, on_unavailable: Callable[[], None] | None = None
    ) -> None:
        self._script = redis.register_script(TAKE)
        self._prefix = f"{prefix}:rate:"
        self._on_unavailable = on_unavailable

    async def take(self, key: str, limit: Limit, cost: int = 1) -> Decision:
        try:
            allowed, tokens, wait = await self._script(
                keys=[self._prefix + key], args=[limit.rate, limit.burst, cost]
            )
        except (RedisError, OSError) as exc:
            log.warning("rate limit not checked, Redis unavailable: %s", exc)
            if self._on_unavailable is not None:
                self._on_unavailable()
            return Decision(True, limit.burst, 0.0)
        return Decision(bool(allowed), max(0, math.floor(float(tokens))), float(wait))


class MessageLimits:
    """How fast an end user may write to a bot: ``free`` for everyone, ``subscriber``
    for users on a monthly plan (asked only when the free bucket is empty)."""

    def __init__(
        self,
        buckets: Buckets,
        free: Limit,
        subscriber: Limit,
        subscribed: Callable[[int], Awaitable[bool]] | None = None,
    ) -> None:
        self._buckets = buckets
        self._free = free
        self._subscriber = subscriber
        self._subscribed = subscribed

    async def refusal(
        self,
        bot_id: str,
        channel: str,
        sender_id: str,
        end_user_id: int | None,
        tr: Translator = ENGLISH,
    ) -> str | None:
        """None when the message may go on, else what to tell the user (in ``tr``'s
        language)."""
        key = f"{bot_id}:{channel}:{sender_id}"
        decision = await self._buckets.take(f"user:{key}", self._free)
        if decision.allowed:
            return None
        if end_user_id is not None and self._subscribed and await self._subscribed(end_user_id):
            decision = await self._buckets.take(f"plan:{key}", self._subscriber)
            if decision.allowed:
                return None
        wait = max(1, math.ceil(decision.retry_after))
        return tr.ngettext(
            "You're writing faster than I can keep up with. Please wait %(count)s second, "
            "then send that again.",
            "You're writing faster than I can keep up with. Please wait %(count)s seconds, "
            "then send that again.",
            wait,
        )
