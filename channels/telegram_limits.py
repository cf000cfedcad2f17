"""Telegram's flood limits, kept on our side: queue rather than drop, honour retry_after.

The Bot API allows a bot about 30 messages a second overall and one a second in a chat;
beyond that it answers 429 with ``retry_after``. An aiogram request middleware gives each
outgoing message the next free slot for its bot and its chat (reserved in call order, so
a chat's messages keep their order) and waits for it; a 429 that still happens is waited
out and retried, and so is a 5xx from the Bot API, a few times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger("chorus.telegram")

PER_BOT = 30.0  # messages per second
CHAT_INTERVAL = 1.0  # seconds between two messages in one chat
MAX_RETRIES = 3
_FORGET_AFTER = 10_000  # chats remembered before past slots are dropped


class FloodControl(BaseRequestMiddleware):
    """Paces ``send*`` calls per bot and per chat, and retries 429s and 5xx."""

    def __init__(
        self,
        *,
        per_bot: float = PER_BOT,
        chat_interval: float = CHAT_INTERVAL,
        max_retries: int = MAX_RETRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_bot <= 0 or chat_interval < 0 or max_retries < 0:
            raise ValueError("per_bot must be > 0, chat_interval and max_retries >= 0")
        self._bot_interval = 1.0 / per_bot
        self._chat_interval = chat_interval
        self._max_retries = max_retries
        self._clock = clock
        self._next_bot: dict[int, float] = {}
        self._next_chat: dict[tuple[int, object], float] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if name.startswith("send") and name != "sendChatAction":
            await self._wait_for_slot(bot.id, getattr(method, "chat_id", None))
        for attempt in range(self._max_retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                log.warning(
                    "Telegram asked bot %s to wait %s s (%s)", bot.id, exc.retry_after, name
                )
                await asyncio.sleep(exc.retry_after)
            except TelegramServerError:
                if attempt == self._max_retries:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_for_slot(self, bot_id: int, chat: object) -> None:
        now = self._clock()
        key = (bot_id, chat)
        slot = max(now, self._next_bot.get(bot_id, now), self._next_chat.get(key, now))
        self._next_bot[bot_id] = slot + self._bot_interval
        if chat is not None:
            self._next_chat[key] = slot + self._chat_interval
            if len(self._next_chat) > _FORGET_AFTER:
                self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if slot > now:
            await asyncio.sleep(slot - now)
