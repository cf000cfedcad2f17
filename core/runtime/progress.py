"""Progress from long work, relayed to a chat as a few readable messages.

Ingestion reports progress from worker threads, many times a second; a chat should see
a message every couple of seconds at most, and always the last one. A relay accepts
progress from any thread and forwards it to an async ``notify`` on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from core.messages import OutboundKind, OutboundMessage

Notify = Callable[[OutboundMessage], Awaitable[None]]
MIN_INTERVAL = 2.0


@contextlib.asynccontextmanager
async def relay_progress(
    notify: Notify | None, interval: float = MIN_INTERVAL
) -> AsyncIterator[Callable[[str], None]]:
    """A thread-safe ``report(text)`` that sends throttled progress messages to ``notify``."""
    if notify is None:
        yield lambda _text: None
        return
    loop = asyncio.get_running_loop()
    latest: list[str] = []
    last_sent = 0.0
    pending: asyncio.Task[None] | None = None

    async def flush() -> None:
        nonlocal last_sent
        await asyncio.sleep(max(0.0, last_sent + interval - time.monotonic()))
        text = latest[-1]
        last_sent = time.monotonic()
        await notify(OutboundMessage(text=text, kind=OutboundKind.PROGRESS))

    def schedule(text: str) -> None:
        nonlocal pending
        latest.append(text)
        del latest[:-1]
        if pending is None or pending.done():
            pending = loop.create_task(flush())

    def report(text: str) -> None:
        loop.call_soon_threadsafe(schedule, text)

    try:
        yield report
    finally:
        await asyncio.sleep(0)  # let reports queued from threads arrive
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
