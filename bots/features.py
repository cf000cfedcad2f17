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
from core.errors import ChorusError, Refusal
from core.i18n.translator import ENGLISH, N_, Translator

log = logging.getLogger("chorus.bots")

#: each feature's name, as creators switch it, and what it is
FEATURES = {
    "create": N_("guided creation of personalised meditations, affirmations and rituals (/create)"),
}
SWITCHES = {"on": True, "off": False}
USAGE = N_("Switch one with /features create off (or on).")


class FeatureError(Refusal):
    """A switch that cannot be made: an unknown feature or a value other than on/off.
    ``template`` and ``params`` say it in the creator's language."""


def parse_switch(words: list[str]) -> tuple[str, bool]:
    """``["create", "off"]`` as ``("create", False)``; raises :class:`FeatureError`."""
    if len(words) != 2:
        raise FeatureError(N_("say which feature and on or off, e.g. create off"))
    name, value = words[0].lower(), words[1].lower()
    if name not in FEATURES:
        raise FeatureError(
            N_("%(name)s isn't a feature (there is: %(features)s)"),
            name=repr(name[:30]),
            features=", ".join(FEATURES),
        )
    if value not in SWITCHES:
        raise FeatureError(
            N_("a feature is switched on or off, not %(value)s"), value=repr(value[:30])
        )
    return name, SWITCHES[value]


def describe(bot: BotProfile, tr: Translator = ENGLISH) -> str:
    """The bot's features and whether each is on, for its creator."""
    lines = [tr.gettext("%(bot)s's features:", bot=bot.name)]
    for name, what in FEATURES.items():
        if getattr(bot.features, name):
            line = tr.gettext("• %(name)s: on — %(what)s", name=name, what=tr.gettext(what))
        else:
            line = tr.gettext("• %(name)s: off — %(what)s", name=name, what=tr.gettext(what))
        lines.append(line)
    return "\n".join(lines)


def switched(bot: BotProfile, name: str, on: bool, tr: Translator = ENGLISH) -> str:
    """What switching ``name`` on or off did, for the creator."""
    if name == "create" and on:
        return tr.gettext(
            "Guided creation is on for %(bot)s: users can make meditations, "
            "affirmations and rituals.",
            bot=bot.name,
        )
    if any(word in bot.greeting.lower() for word in ("meditation", "affirmation", "ritual")):
        return tr.gettext(
            "Guided creation is off for %(bot)s: its greeting's buttons and /help no "
            "longer offer it, /create says it isn't offered here, and requests to make "
            "something are answered as questions. Its greeting still mentions them: you "
            "may want to change it.",
            bot=bot.name,
        )
    return tr.gettext(
        "Guided creation is off for %(bot)s: its greeting's buttons and /help no "
        "longer offer it, /create says it isn't offered here, and requests to make "
        "something are answered as questions.",
        bot=bot.name,
    )


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
            raise FeatureError(N_("%(name)s isn't a feature"), name=", ".join(sorted(unknown)))
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

    async def command(self, bot: BotProfile, args: str, *, tr: Translator = ENGLISH) -> str:
        """``/features`` (what is on) and ``/features NAME on|off``, for the creator, in
        ``tr``'s language."""
        words = args.split()
        usage = tr.gettext(USAGE)
        if not words:
            return f"{describe(bot, tr)}\n{usage}"
        try:
            name, on = parse_switch(words)
        except FeatureError as exc:
            problem = tr.gettext("That didn't work: %(reason)s.", reason=exc.translated(tr))
            return f"{problem}\n{usage}"
        changed = await self.switch(bot.id, **{name: on})
        return switched(changed, name, on, tr)
