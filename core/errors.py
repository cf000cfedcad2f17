"""The error hierarchy of the core: every error carries the data that explains it."""

from __future__ import annotations

from pathlib import Path

from core.i18n.translator import ENGLISH, N_, Translator


class ChorusError(Exception):
    """Root of every error Chorus raises on purpose."""


class IllegalTransition(ChorusError):
    """An event arrived that the conversation's current state does not accept."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.state = state
        self.event = event


class InvalidStateTable(ChorusError):
    """The declarative transition table breaks a rule (checked at import)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid state table: " + "; ".join(problems))
        self.problems = problems


class UnknownBot(ChorusError):
    """A message or command named a bot that does not exist."""

    def __init__(self, bot_id: str) -> None:
        super().__init__(f"unknown bot {bot_id!r}")
        self.bot_id = bot_id


class BotNameTaken(ChorusError):
    """A bot with this id already exists."""

    def __init__(self, bot_id: str) -> None:
        super().__init__(f"a bot with id {bot_id!r} already exists")
        self.bot_id = bot_id


class StorageUnavailable(ChorusError):
    """The database cannot be reached, opened or written (locked, missing, down)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"database {url} is unavailable: {reason}")
        self.url = url
        self.reason = reason


class StaleConversation(ChorusError):
    """A turn was decided on an older copy of a conversation than the one stored."""

    def __init__(self, conversation_ids: list[int]) -> None:
        super().__init__(f"conversations changed meanwhile: {conversation_ids}")
        self.conversation_ids = conversation_ids


class GeneratorUnavailable(ChorusError):
    """A text generator (an LLM server) failed, timed out or is shut off by its breaker."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"text generator {name} is unavailable: {reason}")
        self.name = name
        self.reason = reason


class SpeechFailed(ChorusError):
    """Speech could not be synthesised or encoded."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"speech synthesis failed: {reason}")
        self.reason = reason


class AudioRejected(ChorusError):
    """A voice note cannot be transcribed; ``reason`` is written for the user (in English:
    ``template`` and ``params`` give it in their language through the gettext catalogues)."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        self.reason = template % params if params else template
        super().__init__(self.reason)


class AudioTooLarge(AudioRejected):
    """A voice note is bigger than the limit (bytes)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            N_("That voice note is %(size)s MB; I can listen to up to %(limit)s MB."),
            size=f"{size / 2**20:.1f}",
            limit=f"{limit / 2**20:.0f}",
        )
        self.size = size
        self.limit = limit


class AudioTooLong(AudioRejected):
    """A voice note lasts longer than the limit (seconds)."""

    def __init__(self, duration: float, limit: float) -> None:
        super().__init__(
            N_(
                "That voice note lasts %(minutes)s minutes; I can listen to up to %(limit)s "
                "minutes. Could you send a shorter one?"
            ),
            minutes=f"{duration / 60:.1f}",
            limit=f"{limit / 60:.0f}",
        )
        self.duration = duration
        self.limit = limit


class UnreadableAudio(AudioRejected):
    """A voice note's bytes are not audio that can be decoded."""

    def __init__(self, detail: str) -> None:
        super().__init__(N_("I couldn't play that voice note. Could you record it again?"))
        self.detail = detail


class UnusableMusic(ChorusError):
    """A creator's music for the bed under their bot's recordings can't be used: too big,
    too short or long, silent, or not audio FFmpeg can read."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"That music can't be used under the voice: {reason}")
        self.reason = reason


class TranscriberUnavailable(ChorusError):
    """The Whisper model cannot be found or loaded (a deployment problem, not the user's)."""

    def __init__(self, model_path: Path, reason: str) -> None:
        super().__init__(f"Whisper model {model_path} is unavailable: {reason}")
        self.model_path = model_path
        self.reason = reason


class ChannelRefused(ChorusError):
    """A platform turned down a credential (a bot token); ``reason`` is the platform's."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel} refused: {reason}")
        self.channel = channel
        self.reason = reason


class ChannelUnreachable(ChorusError):
    """A platform's API could not be reached or answered with a server error."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel} is unreachable: {reason}")
        self.channel = channel
        self.reason = reason


class NotDelivered(ChorusError):
    """A channel could not hand a pushed message to the user; ``reason`` says why in
    words a creator understands ("blocked the bot")."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"not delivered on {channel}: {reason}")
        self.channel = channel
        self.reason = reason


class NotEnoughCredits(ChorusError):
    """A spend or reservation the balance does not cover."""

    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"needs {needed} credits, the balance is {balance}")
        self.balance = balance
        self.needed = needed


class InvalidSchedule(ChorusError):
    """A schedule a creator asked for cannot be kept: ``field`` is what is wrong, and
    ``reason`` says why in words for the creator."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TooManySchedules(ChorusError):
    """A bot already has as many schedules as one may have."""

    def __init__(self, bot_id: str, limit: int) -> None:
        super().__init__(f"bot {bot_id!r} already has {limit} schedules")
        self.bot_id = bot_id
        self.limit = limit


class UnmergeableTable(ChorusError):
    """A table refers to end users in a way joining two of them cannot handle yet: it
    allows one row per user (or per user and more), and no rule says how to combine two."""

    def __init__(self, table: str, column: str) -> None:
        super().__init__(
            f"{table}.{column} is unique per end user and has no rule for joining two users"
        )
        self.table = table
        self.column = column


class InvalidOrigin(ChorusError):
    """A website a creator named for their widget cannot be allowed (not an http(s)
    address, or one too many); ``reason`` says why in words for the creator."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


class Refusal(ChorusError, ValueError):
    """Input a creator gave was turned down: ``template`` is an English message marked for
    translation (``N_``), ``params`` fill its placeholders (whole numbers written the
    reader's way where it is shown). ``str()`` is the English sentence, for logs, the CLI
    and the API; the manager bot shows it in the creator's language."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(self.translated(ENGLISH))

    def translated(self, tr: Translator) -> str:
        """The message in ``tr``'s language, its whole numbers written that language's way."""
        params = {k: tr.number(v) if isinstance(v, int) else v for k, v in self.params.items()}
        return tr.gettext(self.template, **params)
