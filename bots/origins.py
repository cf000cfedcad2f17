"""The websites whose pages may open a bot's widget, besides the server's own.

The manager bot's ``/origins`` and the ``chorus origins`` command change the list the
same way: a website is kept as its origin (``https://shop.example``, whichever of its
pages was named), in the order added, at most :data:`MAX_ORIGINS` of them.
"""

from __future__ import annotations

from bots.registry import BotDirectory
from core.errors import InvalidOrigin
from webwidget.embed import normalise_origin

MAX_ORIGINS = 20


class AllowedOrigins:
    """Lists, adds and removes the websites a bot's widget may appear on."""

    def __init__(self, bots: BotDirectory) -> None:
        self._bots = bots

    async def allowed(self, bot_id: str) -> list[str]:
        """The bot's allowed origins; raises UnknownBot."""
        return list((await self._bots.settings(bot_id)).get("allowed_origins", []))

    async def add(self, bot_id: str, website: str) -> list[str]:
        """Allow the origin of ``website`` (already allowed: nothing changes); the list
        after. Raises :class:`InvalidOrigin` or UnknownBot."""
        origin = _origin(website)
        allowed = await self.allowed(bot_id)
        if origin in allowed:
            return allowed
        if len(allowed) >= MAX_ORIGINS:
            raise InvalidOrigin(website, f"A bot can be on at most {MAX_ORIGINS} websites.")
        allowed.append(origin)
        await self._bots.change_settings(bot_id, allowed_origins=allowed)
        return allowed

    async def remove(self, bot_id: str, website: str) -> list[str]:
        """No longer allow the origin of ``website`` (not allowed: nothing changes); the
        list after. Raises :class:`InvalidOrigin` or UnknownBot."""
        origin = _origin(website)
        allowed = await self.allowed(bot_id)
        if origin in allowed:
            allowed.remove(origin)
            await self._bots.change_settings(bot_id, allowed_origins=allowed)
        return allowed


def _origin(website: str) -> str:
    origin = normalise_origin(website)
    if origin is None:
        raise InvalidOrigin(
            website, f"{website[:100]} isn't a website address like https://example.com."
        )
    return origin
