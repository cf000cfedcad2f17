"""The languages a bot speaks, as its creator sets them: ``/languages`` (in the manager
bot and in their own chat with the bot), ``chorus languages`` and the bot's REST resource.

A creator chooses which languages the bot offers its users and the default for users
whose language it does not offer, and may write the greeting and the persona in each
language (a language without its own uses the bot's greeting and persona). All of it is
kept in the bot's settings (:class:`bots.profile.BotLanguages`) and applies from the
next message.
"""

from __future__ import annotations

from collections.abc import Mapping

from bots.profile import NOT_A_CODE, BotLanguages, BotProfile, LanguageError
from bots.registry import BotDirectory
from core.i18n.translator import ENGLISH, N_, Translator
from core.text import native_name, normalise

USAGE = N_(
    "Change them with /languages offer en es de (the languages it speaks), "
    "/languages default es (for everyone else), /languages greeting es TEXT or "
    "/languages persona es TEXT (in one language; without TEXT it goes back to the "
    "bot's own)."
)


def named(code: str) -> str:
    """``Español (es)``: a language by its own name, with its code."""
    return f"{native_name(code)} ({code})"


def describe(bot: BotProfile, tr: Translator = ENGLISH) -> str:
    """The bot's languages, for its creator, in ``tr``'s language (the command line
    passes :data:`~core.i18n.translator.ENGLISH`)."""
    languages = bot.languages
    lines = [
        tr.gettext(
            "%(bot)s speaks %(languages)s.",
            bot=bot.name,
            languages=", ".join(named(c) for c in languages.offered),
        ),
        tr.gettext(
            "Users whose language it doesn't speak get %(language)s.",
            language=named(languages.default),
        ),
    ]
    if languages.greetings:
        lines.append(
            tr.gettext(
                "Its own greeting in: %(languages)s.",
                languages=", ".join(sorted(languages.greetings)),
            )
        )
    if languages.personas:
        lines.append(
            tr.gettext(
                "Its own persona in: %(languages)s.",
                languages=", ".join(sorted(languages.personas)),
            )
        )
    return "\n".join(lines)


def language_problem(exc: LanguageError, tr: Translator = ENGLISH) -> str:
    """What is wrong with a language setting, in ``tr``'s language."""
    return exc.translated(tr)


class BotLanguageSettings:
    """Reads and changes bots' language settings."""

    def __init__(self, bots: BotDirectory) -> None:
        self._bots = bots

    async def change(
        self,
        bot_id: str,
        *,
        default: str | None = None,
        offered: list[str] | None = None,
        greetings: Mapping[str, str] | None = None,
        personas: Mapping[str, str] | None = None,
    ) -> BotProfile:
        """Change some of a bot's language settings (``None`` keeps one); ``greetings``
        and ``personas`` are merged into the ones it has, an empty text removing a
        language's. Raises :class:`LanguageError` for settings it cannot keep (an
        unknown code, a default it does not offer)."""
        current = (await self._bots.get(bot_id)).languages
        wanted_offered = list(current.offered) if offered is None else offered
        wanted_default = current.default if default is None else default
        if offered is not None and default is None and current.default not in offered:
            # offering fewer languages: the first one becomes the default
            wanted_default = offered[0] if offered else current.default
        wanted = BotLanguages.parse(
            default=wanted_default,
            offered=wanted_offered,
            greetings=_merged(current.greetings, greetings),
            personas=_merged(current.personas, personas),
        )
        if wanted != current:
            await self._bots.change_settings(bot_id, languages=wanted.to_dict())
        return await self._bots.get(bot_id)

    async def command(self, bot: BotProfile, args: str, *, tr: Translator = ENGLISH) -> str:
        """``/languages`` and its changes, for the creator: what it answers, in ``tr``'s
        language."""
        action, _, rest = args.strip().partition(" ")
        action, rest = action.lower(), rest.strip()
        usage = tr.gettext(USAGE)
        try:
            if not action:
                return f"{describe(bot, tr)}\n{usage}"
            if action == "offer":
                changed = await self.change(bot.id, offered=rest.replace(",", " ").split())
            elif action == "default":
                changed = await self.change(bot.id, default=rest)
            elif action in ("greeting", "persona"):
                code, _, text = rest.partition(" ")
                if normalise(code) is None:
                    raise LanguageError(
                        N_("say which language, e.g. /languages %(action)s es …"), action=action
                    )
                texts = {code: text.strip()}
                if action == "greeting":
                    changed = await self.change(bot.id, greetings=texts)
                else:
                    changed = await self.change(bot.id, personas=texts)
            else:
                return usage
        except LanguageError as exc:
            problem = tr.gettext("That didn't work: %(reason)s.", reason=language_problem(exc, tr))
            return f"{problem}\n{usage}"
        saved = tr.gettext("Saved.")
        return f"{saved}\n{describe(changed, tr)}"


def _merged(current: Mapping[str, str], changes: Mapping[str, str] | None) -> dict[str, str]:
    merged = dict(current)
    for key, text in (changes or {}).items():
        code = normalise(key)
        if code is None:
            raise LanguageError(NOT_A_CODE, code=repr(str(key)[:20]))
        if isinstance(text, str) and text.strip():
            merged[code] = text
        else:
            merged.pop(code, None)
    return merged
