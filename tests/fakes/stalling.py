"""What the fakes of model servers share: waits that end early when the server shuts
down, so that a fake told to hang never holds up a test's teardown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(slots=True)
class Stalling:
    """A fake server's pauses; add ``_release`` to its application's ``on_shutdown``."""

    _released: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the server began shutting down meanwhile."""
        if seconds <= 0:
            return True
        try:
            await asyncio.wait_for(self._released.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    async def _release(self, app: web.Application) -> None:
        """Let hanging handlers finish, so the server shuts down at once."""
        self._released.set()
