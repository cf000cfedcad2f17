"""Rate limits: token buckets in this process and in a real Redis, and the friendly reply
a user writing too fast gets on any channel."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core.runtime.ratelimit import Limit, LocalBuckets, RedisBuckets
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from tests.chat import chat_with
from tests.clock import Clock
from tests.servers import REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.ping()  # Redis must be running: fail, never skip
    yield client
    await client.aclose()


def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


async def test_a_local_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    buckets = LocalBuckets(clock)
    limit = Limit(per_minute=60, burst=3)
    assert [(await buckets.take("a", limit)).allowed for _ in range(4)] == [True] * 3 + [False]
    refused = await buckets.take("a", limit)
    assert refused.retry_after == pytest.approx(1.0)
    assert (await buckets.take("b", limit)).allowed  # another key has its own bucket
    clock.now += 1.0
    assert (await buckets.take("a", limit)).allowed
    assert not (await buckets.take("a", limit)).allowed


async def test_a_local_bucket_forgets_the_least_recent_keys() -> None:
    buckets = LocalBuckets(Clock(), max_keys=2)
    limit = Limit(per_minute=1, burst=1)
    for key in ("a", "b", "c"):
        await buckets.take(key, limit)
    assert (await buckets.take("a", limit)).allowed  # "a" was forgotten: a fresh bucket


async def test_redis_buckets_are_atomic_under_concurrency(redis: Redis) -> None:
    buckets = RedisBuckets(redis, prefix())
    limit = Limit(per_minute=1, burst=10)
    decisions = await asyncio.gather(*(buckets.take("user", limit) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 10
    refused = [d for d in decisions if not d.allowed]
    assert all(50 < d.retry_after <= 60 for d in refused)


async def test_redis_buckets_refill_by_redis_time(redis: Redis) -> None:
    buckets = RedisBuckets(redis, prefix())
    limit = Limit(per_minute=600, burst=1)  # one every 0.1 s
    assert (await buckets.take("user", limit)).allowed
    assert not (await buckets.take("user", limit)).allowed
    await asyncio.sleep(0.15)
    assert (await buckets.take("user", limit)).allowed


async def test_an_unreachable_redis_lets_messages_through_and_says_so() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    noticed: list[bool] = []
    buckets = RedisBuckets(down, prefix(), on_unavailable=lambda: noticed.append(True))
    try:
        assert (await buckets.take("user", Limit(1, 1))).allowed
        assert noticed == [True]
    finally:
        await down.aclose()


async def test_a_user_writing_too_fast_is_told_to_wait_and_the_creator_never_is(
    settings: Settings,
) -> None:
    limited = settings.model_copy(update={"user_messages_per_minute": 6.0, "user_message_burst": 2})
    services = build_services(limited)
    await prepare(services)
    # vectors a previous process left to make are made first: the clock below is the limit's
    await services.jobs.idle()
    try:
        user = chat_with(services, sender_id="fast")
        started = time.monotonic()
        await user.say("hello")
        await user.say("what is this?")
        replies = await user.say("and this?")
        took = time.monotonic() - started
        assert replies[-1].text.startswith("You're writing faster than I can keep up with")
        # a message every 10 s: the wait is what is left of those since the first
        wait = re.search(r"wait (\d+) seconds", replies[-1].text)
        assert wait is not None, replies[-1].text
        assert 10 - took - 1 <= int(wait.group(1)) <= 10
        creator = chat_with(services, sender_id="local")
        for _ in range(4):
            assert "faster" not in (await creator.say("/docs"))[-1].text
        metrics = services.metrics.render().decode()
        assert 'chorus_rate_limited_total{channel="terminal"} 1.0' in metrics
    finally:
        await close(services)


async def test_the_limit_is_shared_by_every_process_through_redis(
    settings: Settings, redis: Redis
) -> None:
    shared = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "redis_prefix": prefix(),
            "user_messages_per_minute": 6.0,
            "user_message_burst": 2,
        }
    )
    first, second = build_services(shared), build_services(shared)
    await prepare(first)
    await prepare(second)
    try:
        await chat_with(first, sender_id="ana").say("hello")
        await chat_with(second, sender_id="ana").say("hello again")
        refused = await chat_with(first, sender_id="ana").say("one more")
        assert "faster than I can keep up" in refused[-1].text
    finally:
        await close(first)
        await close(second)


async def test_limits_can_be_switched_off(services: Services) -> None:
    off = build_services(services.settings.model_copy(update={"user_messages_per_minute": 0}))
    try:
        await prepare(off)
        chat = chat_with(off, sender_id="many")
        for n in range(40):
            assert "faster" not in (await chat.say(f"message {n}"))[-1].text
    finally:
        await close(off)
