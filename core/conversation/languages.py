"""Finding each user's language and keeping it, the same on every channel.

A user's language comes, strongest first, from:

1. ``/language xx``: their own choice, never replaced by anything below (users stored
   before sources were recorded keep the language they have, as if they had chosen it);
2. their platform, when it says (Telegram's ``language_code``, the browser's language
   the widget sends in its ``hello``), followed when it changes;
3. their text, when nothing above is known (WhatsApp, the terminal, a widget without a
   language): the first message that says enough decides (see
   :mod:`core.people.langid`), and the language is stored then, so "ok" or "👍" never
   flips it and users whose language is known cost no identification at all.

The language stored is the user's own (``pt-br``, or ``it`` on a bot that does not speak
Italian); the language a turn is spoken in is the one the bot offers that matches it,
else the bot's default (:meth:`bots.profile.BotLanguages.resolve`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bots.profile import BotProfile
from core.messages import InboundMessage
from core.people.langid import LanguageIdentifier, letters
from core.storage.repository import Party
from core.text import normalise, primary

CHOSEN = "chosen"
PLATFORM = "platform"
DETECTED = "detected"


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The language a turn is spoken in (one the bot offers), and what to store on the
    user for it (empty: nothing changes)."""

    language: str
    updates: dict[str, Any] = field(default_factory=dict)


def stored_language(party: Party | None) -> str | None:
    """The user's own language as stored, whatever its source, normalised."""
    return normalise(party.language) if party else None


def is_sticky(party: Party | None) -> bool:
    """Whether the user's stored language is theirs to change only: they chose it, or
    it was kept before sources were recorded."""
    return (
        party is not None
        and stored_language(party) is not None
        and party.language_source in (CHOSEN, None)
    )


def known_language(party: Party | None, message: InboundMessage) -> str | None:
    """The user's language without reading their text: chosen, else the platform's, else
    one found earlier; None when nothing is known yet."""
    stored = stored_language(party)
    if is_sticky(party):
        return stored
    return normalise(message.language) or stored


def user_language(party: Party | None, message: InboundMessage, bot: BotProfile) -> str:
    """The language to speak to this user on this bot: their known language as the bot
    offers it, else the bot's default."""
    return bot.languages.resolve(known_language(party, message))


class UserLanguages:
    """Settles each turn's language, reading the user's text only while nothing is known."""

    def __init__(self, identifier: LanguageIdentifier | None = None) -> None:
        self._identifier = identifier or LanguageIdentifier()

    async def settle(
        self, bot: BotProfile, party: Party | None, message: InboundMessage, text: str
    ) -> LanguageChoice:
        """The turn's language and the user's language to store, by the order above."""
        stored = stored_language(party)
        if is_sticky(party):
            return LanguageChoice(bot.languages.resolve(stored))
        platform = normalise(message.language)
        if platform is not None:
            source = party.language_source if party else None
            unchanged = stored == platform and source == PLATFORM
            updates = {} if unchanged else {"language": platform, "language_source": PLATFORM}
            return LanguageChoice(bot.languages.resolve(platform), updates)
        if stored is not None:
            return LanguageChoice(bot.languages.resolve(stored))
        if message.command or message.button_payload is not None:
            return LanguageChoice(bot.languages.default)
        found = await self._identify(text, bot)
        if found is None:
            return LanguageChoice(bot.languages.default)
        return LanguageChoice(
            bot.languages.resolve(found), {"language": found, "language_source": DETECTED}
        )

    async def _identify(self, text: str, bot: BotProfile) -> str | None:
        if letters(text) < self._identifier.min_letters:
            return None  # decided before any model is loaded
        offered = tuple(dict.fromkeys(primary(code) for code in bot.languages.offered))
        if self._identifier.loaded:
            guess = self._identifier.guess(text, offered)  # a fraction of a millisecond
        else:  # the first text read loads the model: off the event loop
            guess = await asyncio.to_thread(self._identifier.guess, text, offered)
        return guess.language if guess else None
