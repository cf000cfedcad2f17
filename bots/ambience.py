"""A bot's ambience: a soft bed under the voice of the content it records.

Its creator chooses it with ``/ambience`` (in the manager bot and in their own chat with
the bot), ``chorus ambience`` or the bot's REST resource: soft ``rain``, a ``pad`` of
low tones, or their own ``music`` (uploaded with ``chorus ambience BOT music FILE`` or
``PUT /api/v1/bots/{id}/ambience/music``), at a level under the voice; ``off`` by
default. The choice is kept in the bot's settings and the music in the media store;
recordings made after a change use it.
"""

from __future__ import annotations

import asyncio
import logging

from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.errors import Refusal
from core.i18n.translator import ENGLISH, N_, SOURCE_LANGUAGE, Translator
from core.storage.media import MediaStore
from core.voice.ambience import KINDS, AmbienceChoice, prepare_music
from core.voice.beds import DEFAULT_LEVEL_DB, MAX_LEVEL_DB, MIN_LEVEL_DB

log = logging.getLogger("chorus.bots")

USAGE = N_(
    "Choose one with /ambience rain, /ambience pad or /ambience music (after uploading "
    "a file with `chorus ambience BOT music FILE` or the API), set how far under the "
    "voice it sits with /ambience level -22 (%(least)s to %(most)s dB), or /ambience off."
)


class AmbienceError(Refusal):
    """A choice that cannot be made: an unknown bed, a level out of range, music
    chosen before any was uploaded. ``template`` and ``params`` say it in the
    creator's language."""


def parse_level(text: str) -> float:
    """``"-22"`` (or ``"22"``: always under the voice) as -22.0; raises
    :class:`AmbienceError`."""
    try:
        level = -abs(float(text.removesuffix("dB").removesuffix("db")))
    except ValueError:
        raise AmbienceError(
            N_("a level is a number of dB, like -22, not %(value)s"), value=repr(text[:20])
        ) from None
    if not MIN_LEVEL_DB <= level <= MAX_LEVEL_DB:
        raise AmbienceError(
            N_("the level is %(least)s to %(most)s dB under the voice, not %(level)s"),
            least=f"{MIN_LEVEL_DB:g}",
            most=f"{MAX_LEVEL_DB:g}",
            level=f"{level:g}",
        )
    return level


def decimal(value: float, tr: Translator = ENGLISH, places: int | None = None) -> str:
    """A number the way ``tr``'s language writes it: ``22.5``, ``22,5``; ``places``
    fixes the decimals shown (None: as few as needed)."""
    if tr.language == SOURCE_LANGUAGE:
        return f"{value:g}" if places is None else f"{value:.{places}f}"
    from babel.numbers import format_decimal

    pattern = "#,##0.###" if places is None else "#,##0." + "0" * places
    return format_decimal(value, format=pattern, locale=tr.language)


def describe(bot: BotProfile, choice: AmbienceChoice | None, tr: Translator = ENGLISH) -> str:
    """What plays under the bot's recorded voice, for its creator, in ``tr``'s language."""
    if choice is None:
        return tr.gettext("%(bot)s's recordings have no ambience: the voice alone.", bot=bot.name)
    level = decimal(-choice.level, tr)
    if choice.kind == "rain":
        return tr.gettext(
            "Under %(bot)s's recorded voice: soft rain, %(level)s dB under the voice.",
            bot=bot.name,
            level=level,
        )
    if choice.kind == "pad":
        return tr.gettext(
            "Under %(bot)s's recorded voice: a soft pad of low tones, %(level)s dB under "
            "the voice.",
            bot=bot.name,
            level=level,
        )
    return tr.gettext(
        "Under %(bot)s's recorded voice: your music “%(name)s” (%(minutes)s min, looped), "
        "%(level)s dB under the voice.",
        bot=bot.name,
        name=choice.music_name or tr.gettext("uploaded file"),
        minutes=decimal(choice.music_seconds / 60, tr, 1),
        level=level,
    )


class BotAmbience:
    """Reads and changes the bed under bots' recorded voices."""

    def __init__(self, bots: BotDirectory, media: MediaStore) -> None:
        self._bots = bots
        self._media = media

    async def current(self, bot_id: str) -> AmbienceChoice | None:
        """The bot's ambience, or None (off); raises UnknownBot."""
        return AmbienceChoice.from_settings((await self._bots.settings(bot_id)).get("ambience"))

    async def choose(
        self, bot_id: str, kind: str | None = None, level: float | None = None
    ) -> AmbienceChoice | None:
        """Play ``kind`` (``rain``, ``pad``, ``music``, or ``off``) under the voice, at
        ``level`` dB (either left out: unchanged). Off forgets the uploaded music too."""
        current = await self.current(bot_id)
        if kind == "off":
            await self._bots.change_settings(bot_id, ambience=None)
            if current is not None and current.music:
                await self._media.delete([current.music])
            return None
        if kind is not None and kind not in KINDS:
            raise AmbienceError(
                N_("%(kind)s isn't an ambience (there is: %(kinds)s)"),
                kind=repr(kind[:30]),
                kinds=", ".join(KINDS),
            )
        if level is not None:
            level = parse_level(str(level))
        kind = kind or (current.kind if current else None)
        if kind is None:
            raise AmbienceError(
                N_("there is no ambience yet to set the level of: choose one first")
            )
        music = current.music if current else None
        if kind == "music" and not music:
            raise AmbienceError(N_("no music has been uploaded yet"))
        choice = AmbienceChoice(
            kind,
            level if level is not None else (current.level if current else DEFAULT_LEVEL_DB),
            music,
            current.music_name if current else "",
            current.music_seconds if current else 0.0,
        )
        await self._bots.change_settings(bot_id, ambience=choice.to_settings())
        return choice

    async def upload_music(
        self,
        bot_id: str,
        data: bytes,
        *,
        filename: str,
        mime_type: str | None = None,
        level: float | None = None,
    ) -> AmbienceChoice:
        """Check and keep the creator's music and play it under the voice from now on
        (replacing any earlier upload). Raises :class:`~core.errors.UnusableMusic`
        saying what is wrong with the file, or UnknownBot."""
        current = await self.current(bot_id)  # an unknown bot fails before any decoding
        if level is not None:
            level = parse_level(str(level))
        kept, pcm = await asyncio.to_thread(prepare_music, data, mime_type=mime_type)
        reference = await self._media.save(kept)
        choice = AmbienceChoice(
            "music",
            level if level is not None else (current.level if current else DEFAULT_LEVEL_DB),
            reference,
            filename.rsplit("/", 1)[-1][:100],
            round(pcm.duration, 1),
        )
        await self._bots.change_settings(bot_id, ambience=choice.to_settings())
        if current is not None and current.music:
            await self._media.delete([current.music])
        log.info("bot %s has new ambience music, %.0f s", bot_id, pcm.duration)
        return choice

    async def command(self, bot: BotProfile, args: str, *, tr: Translator = ENGLISH) -> str:
        """``/ambience`` (what plays), ``/ambience rain|pad|music|off [LEVEL]`` and
        ``/ambience level N``, for the creator, in ``tr``'s language."""
        words = args.lower().split()
        usage = tr.gettext(USAGE, least=decimal(MIN_LEVEL_DB, tr), most=decimal(MAX_LEVEL_DB, tr))
        if not words:
            return f"{describe(bot, await self.current(bot.id), tr)}\n{usage}"
        try:
            if words[0] == "level" and len(words) == 2:
                choice = await self.choose(bot.id, level=parse_level(words[1]))
            elif len(words) <= 2 and words[0] != "level":
                level = parse_level(words[1]) if len(words) == 2 else None
                choice = await self.choose(bot.id, words[0], level)
            else:
                raise AmbienceError(N_("say which ambience, e.g. rain, or level -22"))
        except AmbienceError as exc:
            problem = tr.gettext("That didn't work: %(reason)s.", reason=exc.translated(tr))
            return f"{problem}\n{usage}"
        said = describe(bot, choice, tr)
        if choice is None:
            return said
        from_now = tr.gettext("Recordings made from now on use it.")
        return f"{said} {from_now}"
