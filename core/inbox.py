"""Webhook deliveries stored before they are acknowledged, then processed in the background.

A platform retries a webhook it got no 200 for, and gives up on one that answers slowly;
so the webhook only checks the request, stores the update (the platform's own id makes a
redelivery a no-op) and answers. Processing runs in tracked tasks, one chat at a time in
arrival order; updates still pending when a process stops are picked up at the next
start, so an accepted update is never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.locks import KeyedLock
from core.storage.database import Database
from core.storage.models import InboundUpdate

log = logging.getLogger("chorus.inbox")

MAX_ATTEMPTS = 3
RETRY_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stored update, as its channel's processor receives it."""

    id: int
    bot_id: str
    channel: str
    update_id: str
    payload: dict[str, Any]


Processor = Callable[[Delivery], Awaitable[None]]
#: the chat an update belongs to: updates of one chat are processed one at a time
OrderKey = Callable[[Delivery], str]


class Inbox:
    """Stores accepted updates and runs each channel's processor on them."""

    def __init__(self, db: Database, *, retry_delay: float = RETRY_DELAY) -> None:
        self._db = db
        self._retry_delay = retry_delay
        self._processors: dict[str, tuple[Processor, OrderKey]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._order = KeyedLock()

    def register(self, channel: str, processor: Processor, order_key: OrderKey) -> None:
        """Process ``channel``'s updates with ``processor``, one ``order_key`` at a time."""
        self._processors[channel] = (processor, order_key)

    async def accept(
        self, bot_id: str, channel: str, update_id: str, payload: dict[str, Any]
    ) -> bool:
        """Store an update and start processing it; False for one already accepted."""
        row = InboundUpdate(
            bot_id=bot_id,
            channel=channel,
            update_id=update_id,
            payload=payload,
            status="pending",
            attempts=0,
        )
        try:
            async with self._db.transaction() as session:
                session.add(row)
                await session.flush()
                stored_id = row.id
        except IntegrityError:
            return False
        self._start(Delivery(stored_id, bot_id, channel, update_id, payload))
        return True

    async def resume(self) -> int:
        """Process the updates a previous process accepted but did not finish."""
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(InboundUpdate)
                    .where(InboundUpdate.status == "pending")
                    .order_by(InboundUpdate.id)
                )
            ).all()
            pending = [Delivery(r.id, r.bot_id, r.channel, r.update_id, r.payload) for r in rows]
        for delivery in pending:
            self._start(delivery)
        if pending:
            log.info("resuming %d accepted update(s)", len(pending))
        return len(pending)

    async def idle(self) -> None:
        """Wait until every accepted update has been processed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop processing; what is left stays pending for the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(
            self._process(delivery), name=f"inbox-{delivery.channel}-{delivery.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, delivery: Delivery) -> None:
        entry = self._processors.get(delivery.channel)
        if entry is None:
            log.warning("no processor for %s updates in this process", delivery.channel)
            return
        processor, order_key = entry
        async with self._order.hold((delivery.bot_id, order_key(delivery))):
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    await processor(delivery)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception(
                        "processing %s update %s of bot %s failed (attempt %d)",
                        delivery.channel,
                        delivery.update_id,
                        delivery.bot_id,
                        attempt,
                    )
                    if attempt == MAX_ATTEMPTS:
                        error = f"{type(exc).__name__}: {exc}"[:500]
                        return await self._settle(delivery, "failed", attempt, error)
                    await asyncio.sleep(self._retry_delay * attempt)
                else:
                    return await self._settle(delivery, "done", attempt, None)

    async def _settle(
        self, delivery: Delivery, status: str, attempts: int, error: str | None
    ) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.id == delivery.id)
                .values(status=status, attempts=attempts, error=error)
            )
