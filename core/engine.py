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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.commands import GlobalCommands
from core.dialogue import Dialogue, TurnInput, TurnResult
from core.errors import ChorusError, StaleConversation
from core.generation import CreatorTools
from core.locks import KeyedLock
from core.messages import Attachment, AttachmentKind, InboundMessage, OutboundMessage
from core.metrics import Metrics
from core.progress import Notify
from core.statemachine import INITIAL_STATE, State
from core.storage import repository as repo
from core.storage.cache import ConversationCache
from core.storage.database import Database
from core.storage.repository import Party
from core.storage.turns import NewContent, TurnRecord, TurnWriter

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
    ) -> None:
        self._db = db
        self._bots = bots
        self._dialogue = dialogue
        self._commands = GlobalCommands(db)
        self._creator_tools = creator_tools
        self._metrics = metrics or Metrics()
        self._locks = KeyedLock()
        self._writer = TurnWriter(db)
        self._cache = ConversationCache()

    async def close(self) -> None:
        """Stop the background writer (turns still queued fail)."""
        await self._writer.close()

    async def handle(
        self, message: InboundMessage, notify: Notify | None = None
    ) -> list[OutboundMessage]:
        """Handle one inbound message and return the replies to render.

        ``notify``, when the channel gives one, receives progress messages while long
        work (ingesting a document) runs; they are not part of the returned replies.

        Messages from the same sender to the same bot on the same channel are handled
        strictly in the order ``handle`` was called; others run concurrently. A message
        whose ``platform_message_id`` was handled before gets the stored replies again and
        changes nothing.
        """
        started = time.perf_counter()
        channel = message.channel.value
        try:
            async with self._locks.hold((message.bot_id, channel, message.sender_id)):
                replies, state = await self._handle_once(message, notify)
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
        self, message: InboundMessage, notify: Notify | None
    ) -> tuple[list[OutboundMessage], str | None]:
        try:
            return await self._turn(message, notify, trust_cache=True)
        except (IntegrityError, StaleConversation) as exc:
            # another process stored this delivery, created this user or moved this
            # conversation first: decide again from what is stored now
            log.info(
                "turn for bot %s raced another writer (%s); retrying",
                message.bot_id,
                type(exc).__name__,
            )
            return await self._turn(message, notify, trust_cache=False)

    async def _turn(
        self, message: InboundMessage, notify: Notify | None, *, trust_cache: bool
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
        outcome = await self._decide(message, bot, party, text, notify)
        result = outcome.result
        for event in result.events:
            self._metrics.transitions.labels(event.value).inc()
        try:
            stored = await self._writer.write(
                _record(message, bot.id, party, text[:MAX_TEXT], outcome)
            )
        except BaseException:
            self._cache.forget(key)
            raise
        self._cache.remember(key, stored)
        if delivery is not None:
            self._cache.mark_handled(delivery)
        return result.replies, result.state.value

    async def _decide(
        self,
        message: InboundMessage,
        bot: BotProfile,
        party: Party | None,
        text: str,
        notify: Notify | None,
    ) -> _Outcome:
        state = State(party.state) if party else INITIAL_STATE
        context = party.context if party else {}
        language = (party.language if party else None) or message.language
        outcome = _Outcome(TurnResult.begin(state, context))
        payload = message.button_payload
        if state is State.HANDOFF:
            outcome.result = await self._dialogue.respond(
                TurnInput(bot, state, context, text, payload, language)
            )
        elif (tools := self._creator_tools) and (document := _document(message)):
            if bot.is_creator(message.channel.value, message.sender_id):
                outcome.result.replies += await tools.ingest(bot, document, notify)
            else:
                outcome.result.say("I can't read files here: please type your message.")
        elif problem := _problem(message, text):
            outcome.result.say(problem)
        elif tools and message.command in tools.names:
            if bot.is_creator(message.channel.value, message.sender_id):
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
        elif payload is None and _normal(text) in _GREETINGS and state is not State.CONFIRM:
            ran = await self._commands.run(
                "start", "", bot=bot, party=party, state=state, context=context
            )
            outcome = _Outcome(ran.result)
        else:
            outcome.result = await self._dialogue.respond(
                TurnInput(bot, state, context, text, payload, language)
            )
        if party is None and message.command != "start" and outcome.result.replies:
            first = outcome.result.replies[0]
            if first.text != bot.welcome:
                outcome.result.replies.insert(0, OutboundMessage(text=bot.welcome))
        return outcome


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
        content=NewContent(content.content_type, content.title, content.parameters, content.text)
        if content
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
