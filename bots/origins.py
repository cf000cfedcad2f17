"""The websites whose pages may open a bot's widget, besides the server's own.

The manager bot's ``/origins`` and the ``chorus origins`` command change the list the
same way: a website is kept as its origin (``https://shop.example``, whichever of its
pages was named), in the order added, at most :data:`MAX_ORIGINS` of them.
"""

from __future__ import annotations

from bots.registry import BotDirectory
from core.errors import InvalidOrigin
from core.i18n.translator import ENGLISH, N_, Translator
from webwidget.embed import normalise_origin

MAX_ORIGINS = 20
NOT_A_WEBSITE = N_("%(website)s isn't a website address like https://example.com.")
TOO_MANY = N_("A bot can be on at most %(most)s websites.")


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
            raise InvalidOrigin(website, TOO_MANY % {"most": MAX_ORIGINS})
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
        raise InvalidOrigin(website, NOT_A_WEBSITE % {"website": website[:100]})
    return origin


def origin_problem(exc: InvalidOrigin, tr: Translator = ENGLISH) -> str:
    """Why a website cannot be allowed, in ``tr``'s language: not a website address,
    or one too many."""
    if normalise_origin(exc.value) is None:
        return tr.gettext(NOT_A_WEBSITE, website=exc.value[:100])
    return tr.gettext(TOO_MANY, most=tr.number(MAX_ORIGINS))
