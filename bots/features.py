"""Switching what a bot offers on and off: ``/features`` for its creator (in the manager
bot and in their own chat with the bot), ``chorus features`` and the bot's REST resource.

Every switch is kept in the bot's settings (:class:`bots.profile.Features`) and takes
effect at the next message. Listeners hear of a change, so that channels which show a
bot's commands outside the conversation (Telegram's command menu) can follow it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bots.profile import BotProfile, Features
from bots.registry import BotDirectory
from core.errors import ChorusError

log = logging.getLogger("chorus.bots")

#: each feature's name, as creators switch it, and what it is
FEATURES = {
    "create": "guided creation of personalised meditations, affirmations and rituals (/create)",
}
SWITCHES = {"on": True, "off": False}
USAGE = "Switch one with /features create off (or on)."


class FeatureError(ValueError):
    """A switch that cannot be made: an unknown feature or a value other than on/off."""


def parse_switch(words: list[str]) -> tuple[str, bool]:
    """``["create", "off"]`` as ``("create", False)``; raises :class:`FeatureError`."""
    if len(words) != 2:
        raise FeatureError("say which feature and on or off, e.g. create off")
    name, value = words[0].lower(), words[1].lower()
    if name not in FEATURES:
        raise FeatureError(f"{name[:30]!r} isn't a feature (there is: {', '.join(FEATURES)})")
    if value not in SWITCHES:
        raise FeatureError(f"a feature is switched on or off, not {value[:30]!r}")
    return name, SWITCHES[value]


def describe(bot: BotProfile) -> str:
    """The bot's features and whether each is on, for its creator."""
    lines = [f"{bot.name}'s features:"]
    lines += [
        f"• {name}: {'on' if getattr(bot.features, name) else 'off'} — {what}"
        for name, what in FEATURES.items()
    ]
    return "\n".join(lines)


def switched(bot: BotProfile, name: str, on: bool) -> str:
    """What switching ``name`` on or off did, for the creator."""
    if name == "create" and on:
        return (
            f"Guided creation is on for {bot.name}: users can make meditations, "
            "affirmations and rituals."
        )
    said = (
        f"Guided creation is off for {bot.name}: its greeting's buttons and /help no "
        "longer offer it, /create says it isn't offered here, and requests to make "
        "something are answered as questions."
    )
    if any(word in bot.greeting.lower() for word in ("meditation", "affirmation", "ritual")):
        said += " Its greeting still mentions them: you may want to change it."
    return said


class FeatureSwitches:
    """Switches bots' features and tells the listeners (Telegram's command menu)."""

    def __init__(self, bots: BotDirectory) -> None:
        self._bots = bots
        self._listeners: list[Callable[[BotProfile], Awaitable[None]]] = []

    def on_change(self, listener: Callable[[BotProfile], Awaitable[None]]) -> None:
        """Call ``listener(bot)`` after a bot's features changed."""
        self._listeners.append(listener)

    async def switch(self, bot_id: str, **switches: bool) -> BotProfile:
        """Set some features of a bot (``create=False``); returns the bot as it is now."""
        unknown = set(switches) - set(FEATURES)
        if unknown:
            raise FeatureError(f"{', '.join(sorted(unknown))} isn't a feature")
        current = (await self._bots.get(bot_id)).features
        wanted = Features(**{**{n: getattr(current, n) for n in FEATURES}, **switches})
        if wanted == current:
            return await self._bots.get(bot_id)
        await self._bots.change_settings(bot_id, features=wanted.to_dict())
        bot = await self._bots.get(bot_id)
        for listener in self._listeners:
            try:
                await listener(bot)
            except ChorusError as exc:  # the switch is kept; the channel follows next time
                log.warning("bot %s's features changed; a channel didn't follow: %s", bot_id, exc)
        return bot

    async def command(self, bot: BotProfile, args: str) -> str:
        """``/features`` (what is on) and ``/features NAME on|off``, for the creator."""
        words = args.split()
        if not words:
            return f"{describe(bot)}\n{USAGE}"
        try:
            name, on = parse_switch(words)
        except FeatureError as exc:
            return f"That didn't work: {exc}.\n{USAGE}"
        changed = await self.switch(bot.id, **{name: on})
        return switched(changed, name, on)
