"""Fan-out: a message for whichever process holds the recipient's connection.

A widget visitor's socket lives in one web process, but the content they asked for may be
finished in another. The widget publishes what it has to push on a topic;
:class:`LocalFanOut` hands it straight to this process's subscriber (one process, the
default), :class:`RedisFanOut` sends it through Redis pub/sub to every process, and each
pushes it to the sockets it holds. Pub/sub keeps nothing: when Redis is down the message
is handed to this process only, and the others' visitors get it from the stored log when
their widget reconnects (it asks for everything after the last frame it saw).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("chorus.fanout")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


class FanOut(Protocol):
    def subscribe(self, topic: str, handler: Handler) -> None: ...

    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalFanOut:
    """One process: a published message goes to this process's subscriber at once."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic] = handler

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if (handler := self._handlers.get(topic)) is not None:
            await handler(message)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisFanOut:
    """Every process: messages travel through Redis pub/sub channels ``PREFIX:fan:TOPIC``."""

    def __init__(
        self, redis: Redis, prefix: str, on_unavailable: Callable[[], None] | None = None
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:fan:"
        self._local = LocalFanOut()
        self._handlers: dict[str, Handler] = {}
        self._on_unavailable = on_unavailable
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[self._prefix + topic] = handler
        self._local.subscribe(topic, handler)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        try:
            await self._redis.publish(self._prefix + topic, json.dumps(message))
        except (RedisError, OSError) as exc:
            log.warning("fan-out through Redis failed (%s); delivering in this process", exc)
            if self._on_unavailable is not None:
                self._on_unavailable()
            await self._local.publish(topic, message)

    async def start(self) -> None:
        if self._task is None and self._handlers:
            self._task = asyncio.create_task(self._listen(), name="chorus-fanout")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        """Receive every process's messages; reconnect with backoff when Redis goes away."""
        delay = RETRY_SECONDS
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._handlers)
                self.listening.set()
                delay = RETRY_SECONDS
                async for message in pubsub.listen():
                    await self._dispatch(message)
            except (RedisError, OSError) as exc:
                self.listening.clear()
                log.warning("fan-out lost Redis (%s); again in %.0f s", exc, delay)
                if self._on_unavailable is not None:
                    self._on_unavailable()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        handler = self._handlers.get(name)
        if handler is None or message.get("type") != "message":
            return
        try:
            await handler(json.loads(message["data"]))
        except Exception:  # one bad message must not stop the listener
            log.exception("fan-out message on %s could not be handled", name)
