"""The conversation engine: one entry point for every channel.

:meth:`ConversationEngine.handle` takes a normalised inbound message and returns the
replies. Around the dialogue it does the bookkeeping every channel relies on: it loads
(bot, end user, conversation), handles the messages of one conversation one at a time in
arrival order, answers a redelivered platform message with the replies it already gave,
and stores the inbound message, the replies and the new state in one transaction.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.commands import GlobalCommands
from core.dialogue import CreatedContent, Dialogue, Stream, TurnInput, TurnResult
from core.errors import AudioRejected, ChorusError, StaleConversation
from core.generation import CreatorTools, Turn
from core.locks import KeyedLock
from core.media import MediaStore
from core.messages import (
    Attachment,
    AttachmentKind,
    InboundMessage,
    OutboundKind,
    OutboundMessage,
)
from core.metrics import Metrics
from core.outbox import Address
from core.progress import Notify
from core.statemachine import INITIAL_STATE, State
from core.storage import repository as repo
from core.storage.cache import ConversationCache
from core.storage.database import Database
from core.storage.repository import Party
from core.storage.turns import NewContent, NewJob, TurnRecord, TurnWriter
from core.voice import Transcript
from core.voice_io import VoiceIO, voice_settings

log = logging.getLogger("chorus.engine")

MAX_TEXT = 4096
MAX_PAYLOAD = 200
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_GREETINGS = frozenset(
    {
        "hi",
        "hello",
        "hey",
        "hola",
        "hallo",
        "good morning",
        "good evening",
        "hi there",
        "hello there",
        "start",
    }
)


# a bare "hello" restarts the conversation, except where that would throw work away
_BUSY_STATES = frozenset({State.CONFIRM, State.GENERATING})


def clean_text(text: str) -> str:
    """Text as the engine reads it: NFC, valid Unicode, no control or bidi characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", text).strip()


@dataclass(slots=True)
class _Outcome:
    result: TurnResult
    user_updates: dict[str, Any] = field(default_factory=dict)


class ConversationEngine:
    """Decides and records what happens for each inbound message, on every channel."""

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        dialogue: Dialogue,
        metrics: Metrics | None = None,
        creator_tools: CreatorTools | None = None,
        voice: VoiceIO | None = None,
        media: MediaStore | None = None,
    ) -> None:
        self._db = db
        self._bots = bots
        self._dialogue = dialogue
        self._commands = GlobalCommands(
            db, voice.media if voice else media, speech=voice is not None
        )
        self._creator_tools = creator_tools
        self._metrics = metrics or Metrics()
        self._locks = KeyedLock()
        self._writer = TurnWriter(db)
        self._cache = ConversationCache()
        self._voice = voice
        self._job_listeners: list[Callable[[str], None]] = []

    def on_job(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` once a turn that confirmed content is stored."""
        self._job_listeners.append(listener)

    async def system_turn(
        self, address: Address, decide: Callable[[TurnResult], None]
    ) -> list[OutboundMessage]:
        """A turn without a user message (a job finished): ``decide`` changes a result
        that starts from the stored conversation; the replies and new state are stored
        in order with the user's own messages. Returns the replies ([] for an unknown
        user)."""
        lock = (address.bot_id, address.channel, address.sender_id)
        async with self._locks.hold(lock):
            try:
                return await self._system_turn(address, decide, trust_cache=True)
            except (IntegrityError, StaleConversation):
                return await self._system_turn(address, decide, trust_cache=False)

    async def _system_turn(
        self, address: Address, decide: Callable[[TurnResult], None], *, trust_cache: bool
    ) -> list[OutboundMessage]:
        key = (address.bot_id, address.channel, address.sender_id)
        party = self._cache.party(key) if trust_cache else None
        if party is None:
            async with self._db.read() as session:
                party = await repo.find_party(session, *key)
        if party is None:
            return []
        result = TurnResult.begin(State(party.state), party.context)
        decide(result)
        record = TurnRecord(
            bot_id=address.bot_id,
            channel=address.channel,
            sender_id=address.sender_id,
            party=party,
            inbound_text="",
            inbound_payload={},
            platform_message_id=None,
            state=result.state.value,
            context=result.context,
            replies=result.replies,
            content=_new_content(result.content),
            inbound=False,
        )
        await self._store(key, record)
        return result.replies

    async def _store(self, key: tuple[str, str, str], record: TurnRecord) -> None:
        """Write a turn and keep the cached conversation in step with what was stored."""
        try:
            stored = await self._writer.write(record)
        except BaseException:
            self._cache.forget(key)
            raise
        self._cache.remember(key, stored)

    async def close(self) -> None:
        """Stop the background writer (turns still queued fail)."""
        await self._writer.close()

    async def handle(
        self, message: InboundMessage, notify: Notify | None = None, stream: Stream | None = None
    ) -> list[OutboundMessage]:
        """Handle one inbound message and return the replies to render.

        ``notify``, when the channel gives one, receives progress messages while long
        work (ingesting a document) runs; they are not part of the returned replies.
        ``stream`` receives an answer's text as it is written (the reply still carries
        the whole text, with its sources).

        Messages from the same sender to the same bot on the same channel are handled
        strictly in the order ``handle`` was called; others run concurrently. A message
        whose ``platform_message_id`` was handled before gets the stored replies again and
        changes nothing.
        """
        started = time.perf_counter()
        channel = message.channel.value
        try:
            async with self._locks.hold((message.bot_id, channel, message.sender_id)):
                replies, state = await self._handle_once(message, notify, stream)
        except ChorusError as exc:
            self._metrics.errors.labels("engine", type(exc).__name__).inc()
            raise
        except Exception as exc:
            self._metrics.errors.labels("engine", type(exc).__name__).inc()
            log.exception("handling a %s message for bot %s failed", channel, message.bot_id)
            raise
        finally:
            self._metrics.handle_seconds.labels(channel).observe(time.perf_counter() - started)
        if state is not None:
            self._metrics.messages.labels(channel, "in", state).inc()
            self._metrics.messages.labels(channel, "out", state).inc(len(replies))
        return replies

    async def _handle_once(
        self, message: InboundMessage, notify: Notify | None, stream: Stream | None
    ) -> tuple[list[OutboundMessage], str | None]:
        try:
            return await self._turn(message, notify, stream, trust_cache=True)
        except (IntegrityError, StaleConversation) as exc:
            # another process stored this delivery, created this user or moved this
            # conversation first: decide again from what is stored now
            log.info(
                "turn for bot %s raced another writer (%s); retrying",
                message.bot_id,
                type(exc).__name__,
            )
            return await self._turn(message, notify, stream, trust_cache=False)

    async def _turn(
        self,
        message: InboundMessage,
        notify: Notify | None,
        stream: Stream | None,
        *,
        trust_cache: bool,
    ) -> tuple[list[OutboundMessage], str | None]:
        bot = await self._bots.get(message.bot_id)
        channel = message.channel.value
        key = (bot.id, channel, message.sender_id)
        pmid = message.platform_message_id
        delivery = (bot.id, channel, pmid) if pmid is not None else None
        party = self._cache.party(key) if trust_cache else None
        if party is None or (delivery is not None and self._cache.handled(delivery)):
            async with self._db.read() as session:
                handled, party = await repo.lookup(
                    session, bot.id, channel, message.sender_id, pmid
                )
                if handled is not None:
                    self._metrics.duplicates.labels(channel).inc()
                    return await repo.replies_to(session, handled), None
        text = clean_text(message.text)
        heard: Transcript | None = None
        problem: str | None = None
        if not text and self._voice is not None and (note := _voice_note(message)):
            heard, problem = await self._listen(note)
            text = clean_text(heard.text) if heard else ""
            if heard is not None and not text:
                problem = "I couldn't make out any words in that voice note."
        if problem is not None:
            state = State(party.state) if party else INITIAL_STATE
            outcome = _Outcome(TurnResult.begin(state, party.context if party else {}))
            outcome.result.say(problem)
        else:
            outcome = await self._decide(message, bot, party, text, notify, stream)
        result = outcome.result
        for event in result.events:
            self._metrics.transitions.labels(event.value).inc()
        if self._voice is not None and _wants_voice(party, outcome):
            result.replies += await self._spoken(result.replies, party, _language(party, message))
        if heard is not None and text:
            result.replies.insert(0, OutboundMessage(text=f"🎙 “{text}”"))
        record = _record(message, bot.id, party, text[:MAX_TEXT], outcome)
        await self._store(key, record)
        if delivery is not None:
            self._cache.mark_handled(delivery)
        if record.job is not None:
            for listener in self._job_listeners:
                listener(record.job.id)
        return result.replies, result.state.value

    def _history(self, party: Party | None) -> Callable[[], Awaitable[list[Turn]]] | None:
        """A loader of the conversation's recent turns (before this message)."""
        if party is None:
            return None
        conversation_id = party.conversation_id

        async def load() -> list[Turn]:
            async with self._db.read() as session:
                rows = await repo.recent_turns(session, conversation_id)
            return [Turn("user" if d == "in" else "assistant", text) for d, text in rows]

        return load

    async def _listen(self, note: Attachment) -> tuple[Transcript | None, str | None]:
        """A voice note's transcript, or the reason (for the user) there is none."""
        assert self._voice is not None
        try:
            return await self._voice.listen(note), None
        except AudioRejected as exc:
            return None, exc.reason
        except OSError as exc:
            log.warning("a voice note could not be fetched: %s", exc)
            return None, "I couldn't download that voice note. Could you send it again?"

    async def _spoken(
        self, replies: list[OutboundMessage], party: Party | None, language: str | None
    ) -> list[OutboundMessage]:
        """The replies read aloud, for a user who has /voice on (nothing if that fails)."""
        assert self._voice is not None
        script = _speakable(replies)
        if not script:
            return []
        settings = voice_settings(party.voice_preferences if party else {}, language)
        try:
            recording = await self._voice.record(script, settings, title="reply")
        except Exception:
            log.exception("reading a reply aloud failed; sending text only")
            return []
        return [OutboundMessage(kind=OutboundKind.AUDIO, audio=recording.media)]

    async def _decide(
        self,
        message: InboundMessage,
        bot: BotProfile,
        party: Party | None,
        text: str,
        notify: Notify | None,
        stream: Stream | None = None,
    ) -> _Outcome:
        state = State(party.state) if party else INITIAL_STATE
        context = party.context if party else {}
        language = _language(party, message)
        outcome = _Outcome(TurnResult.begin(state, context))
        payload = message.button_payload
        creator = bot.is_creator(message.channel.value, message.sender_id)
        resting = bot.paused and not creator
        if resting:
            outcome.result.say(f"{bot.name} is taking a break right now. Please come back later.")
        elif state is State.HANDOFF:
            outcome.result = await self._dialogue.respond(
                TurnInput(bot, state, context, text, payload, language)
            )
        elif (tools := self._creator_tools) and (document := _document(message)):
            if creator:
                outcome.result.replies += await tools.ingest(bot, document, notify)
            else:
                outcome.result.say("I can't read files here: please type your message.")
        elif problem := _problem(message, text):
            outcome.result.say(problem)
        elif tools and message.command in tools.names:
            if creator:
                outcome.result.replies += await tools.run(
                    message.command or "", message.command_args, bot
                )
            else:
                outcome.result.say(f"/{message.command} is only for {bot.name}'s creator.")
        elif message.command:
            ran = await self._commands.run(
                message.command,
                message.command_args,
                bot=bot,
                party=party,
                state=state,
                context=context,
            )
            outcome = _Outcome(ran.result, ran.user_updates)
            if ran.dialogue_payload:
                outcome.result = await self._dialogue.respond(
                    TurnInput(bot, state, context, "", ran.dialogue_payload, language)
                )
        elif payload is None and _normal(text) in _GREETINGS and state not in _BUSY_STATES:
            ran = await self._commands.run(
                "start", "", bot=bot, party=party, state=state, context=context
            )
            outcome = _Outcome(ran.result)
        else:
            outcome.result = await self._dialogue.respond(
                TurnInput(
                    bot, state, context, text, payload, language, self._history(party), stream
                )
            )
        if party is None and not resting and message.command != "start" and outcome.result.replies:
            first = outcome.result.replies[0]
            if first.text != bot.welcome:
                outcome.result.replies.insert(0, OutboundMessage(text=bot.welcome))
        return outcome


_CITATION = re.compile(r"\s*\[\d+\]")
MAX_SPOKEN = 1500


def _language(party: Party | None, message: InboundMessage) -> str | None:
    """The user's chosen language, else the one their channel reports."""
    return (party.language if party else None) or message.language


def _speakable(replies: list[OutboundMessage]) -> str:
    """The text of a turn's replies as a script to read aloud (no citation marks)."""
    texts = [r.text for r in replies if r.kind is OutboundKind.TEXT and r.text]
    script = _CITATION.sub("", "\n".join(texts)).strip()
    if len(script) > MAX_SPOKEN:
        script = script[:MAX_SPOKEN].rsplit(" ", 1)[0] + "…"
    return script


def _wants_voice(party: Party | None, outcome: _Outcome) -> bool:
    if "voice_enabled" in outcome.user_updates:
        return bool(outcome.user_updates["voice_enabled"])
    return bool(party and party.voice_enabled)


def _voice_note(message: InboundMessage) -> Attachment | None:
    kinds = (AttachmentKind.VOICE, AttachmentKind.AUDIO)
    return next((a for a in message.attachments if a.kind in kinds), None)


def _new_content(content: CreatedContent | None) -> NewContent | None:
    if content is None:
        return None
    return NewContent(
        content.content_type,
        content.title,
        content.parameters,
        content.text,
        audio=content.audio,
        job_id=content.job_id,
    )


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _document(message: InboundMessage) -> Attachment | None:
    return next((a for a in message.attachments if a.kind is AttachmentKind.DOCUMENT), None)


def _problem(message: InboundMessage, text: str) -> str | None:
    """Why a message cannot be handled as it is, in words for the user, or None."""
    if message.button_payload is not None:
        payload = message.button_payload
        if not payload or len(payload) > MAX_PAYLOAD or not payload.isprintable():
            return "That button isn't one I know. Try again from the latest message."
        return None
    if len(text) > MAX_TEXT:
        return (
            f"That message is {len(text):,} characters long; I can read up to "
            f"{MAX_TEXT:,}. Could you shorten it or split it up?"
        )
    if message.command:
        return None
    if not text:
        if message.attachments:
            kinds = ", ".join(sorted({a.kind.value for a in message.attachments}))
            return f"I can't open {kinds} messages on this bot yet. Could you type it instead?"
        return "I didn't catch anything there. Send me a message, or /help to see what I can do."
    return None


def _record(
    message: InboundMessage, bot_id: str, party: Party | None, text: str, outcome: _Outcome
) -> TurnRecord:
    result, content = outcome.result, outcome.result.content
    return TurnRecord(
        bot_id=bot_id,
        channel=message.channel.value,
        sender_id=message.sender_id,
        party=party,
        inbound_text=text,
        inbound_payload=_inbound_record(message, text),
        platform_message_id=message.platform_message_id,
        state=result.state.value,
        context=result.context,
        replies=result.replies,
        sender_name=message.sender_name,
        language=message.language,
        user_updates=outcome.user_updates,
        content=_new_content(content),
        job=NewJob(uuid.uuid4().hex, job.content_type, job.parameters, _language(party, message))
        if (job := result.job)
        else None,
    )


def _inbound_record(message: InboundMessage, text: str) -> dict[str, Any]:
    record: dict[str, Any] = {"received_at": message.received_at.isoformat()}
    optional = {
        "sender_name": message.sender_name,
        "command": message.command,
        "command_args": message.command_args or None,
        "button": message.button_payload,
        "platform_message_id": message.platform_message_id,
        "language": message.language,
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    if message.attachments:
        record["attachments"] = [
            {
                "kind": a.kind.value,
                "mime_type": a.mime_type,
                "size": a.size,
                "reference": a.reference,
                "filename": a.filename,
            }
            for a in message.attachments
        ]
    if len(text) > MAX_TEXT:
        record["truncated_from"] = len(text)
    return record
