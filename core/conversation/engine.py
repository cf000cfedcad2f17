"""The conversation engine: one entry point for every channel.

:meth:`ConversationEngine.handle` takes a normalised inbound message and returns the
replies. Around the dialogue it does the bookkeeping every channel relies on: it loads
(bot, end user, conversation), handles the messages of one conversation one at a time in
arrival order, answers a redelivered platform message with the replies it already gave,
and stores the inbound message, the replies and the new state in one transaction.

Reading the message (:mod:`core.conversation.inbound`), finding the user's language
(:mod:`core.conversation.languages`), hearing voice notes and speaking replies
(:mod:`core.conversation.voice_turns`) and building the stored record
(:mod:`core.conversation.turn_records`) live beside it; this module decides what handles a message
and keeps turns in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.conversation.commands import GlobalCommands
from core.conversation.data_rights import answer_to_forget, without_question
from core.conversation.dialogue import Dialogue
from core.conversation.handoff import CreatorLine, asks_for_human
from core.conversation.inbound import clean_text, first_document, is_greeting, problem_with
from core.conversation.languages import (
    LanguageChoice,
    UserLanguages,
    known_language,
    user_language,
)
from core.conversation.linking import Linking
from core.conversation.statemachine import INITIAL_STATE, State
from core.conversation.turn import Stream, TurnInput, TurnResult, Wallet, Wallets
from core.conversation.turn_records import Outcome, system_record, turn_record
from core.conversation.turn_store import TurnRecord, TurnWriter
from core.conversation.voice_turns import VoiceTurns, voice_note, wants_voice
from core.errors import ChorusError, StaleConversation
from core.generation.seams import Turn
from core.i18n.translator import Translator, translator
from core.messages import MAX_TEXT, Attachment, InboundMessage, OutboundMessage
from core.metrics import Metrics
from core.outbox import Address
from core.people.privacy import EndUserData
from core.runtime.locks import KeyedLock
from core.runtime.ratelimit import MessageLimits
from core.storage import repository as repo
from core.storage.cache import ConversationCache
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.repository import Party
from core.voice.seams import Transcript
from core.voice.voice_io import VoiceIO

log = logging.getLogger("chorus.engine")

#: decides a turn without a user message, given the user's wallet (None: all is free)
Decide = Callable[[TurnResult, Wallet | None], Awaitable[None] | None]

# a bare "hello" restarts the conversation, except where that would throw work away
_BUSY_STATES = frozenset({State.CONFIRM, State.GENERATING})


class CreatorTools(Protocol):
    """Commands only a bot's creator may use, and documents the creator sends (the
    creator features implement them; the engine only knows this seam)."""

    names: frozenset[str]

    async def run(
        self, name: str, args: str, bot: BotProfile, *, tr: Translator = ...
    ) -> list[OutboundMessage]:
        """Run ``/name args`` for the bot's creator, answering in ``tr``'s language."""
        ...

    async def ingest(
        self, bot: BotProfile, attachment: Attachment, chat: Address, *, tr: Translator = ...
    ) -> list[OutboundMessage]:
        """Learn a document in the background, ``chat`` hearing how it goes in ``tr``'s
        language; the replies to give now."""
        ...


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
        wallets: Wallets | None = None,
        limits: MessageLimits | None = None,
        creator_line: CreatorLine | None = None,
        privacy: EndUserData | None = None,
        linking: Linking | None = None,
        languages: UserLanguages | None = None,
    ) -> None:
        self._db = db
        self._bots = bots
        self._dialogue = dialogue
        self._commands = GlobalCommands(
            db,
            voice.media if voice else media,
            speech=voice is not None,
            privacy=privacy,
            linking=linking,
        )
        self._creator_tools = creator_tools
        self._metrics = metrics or Metrics()
        self._locks = KeyedLock()
        self._writer = TurnWriter(db)
        self._cache = ConversationCache()
        self._voice = VoiceTurns(voice) if voice is not None else None
        self._job_listeners: list[Callable[[str], Awaitable[None]]] = []
        self._wallets = wallets
        self._limits = limits
        # what users say to their bot's creator (a handoff, asking for a person)
        self._line = creator_line or CreatorLine(None)
        # finds each user's language (from their text while nothing else says) and keeps it
        self._languages = languages or UserLanguages()

    def on_job(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Call ``listener(job_id)`` once a turn that confirmed content is stored."""
        self._job_listeners.append(listener)

    async def system_turn(self, address: Address, decide: Decide) -> list[OutboundMessage]:
        """A turn without a user message (a job finished, a payment came in): ``decide``
        changes a result that starts from the stored conversation (it may start a job);
        the replies and new state are stored in order with the user's own messages.
        Returns the replies ([] for an unknown user)."""
        lock = (address.bot_id, address.channel, address.sender_id)
        async with self._locks.hold(lock):
            try:
                return await self._system_turn(address, decide, trust_cache=True)
            except (IntegrityError, StaleConversation):
                return await self._system_turn(address, decide, trust_cache=False)

    async def _system_turn(
        self, address: Address, decide: Decide, *, trust_cache: bool
    ) -> list[OutboundMessage]:
        key = (address.bot_id, address.channel, address.sender_id)
        party = self._cache.party(key) if trust_cache else None
        if party is None:
            async with self._db.read() as session:
                party = await repo.find_party(session, *key)
        if party is None:
            return []
        bot = await self._bots.get(address.bot_id)
        language = bot.languages.resolve(party.language)
        tr = translator(language)
        result = TurnResult.begin(State(party.state), party.context, tr)
        decided = decide(result, self._wallet(bot, party, address.channel, address.sender_id, tr))
        if decided is not None:
            await decided
        result.mark_language()
        await self._store_turn(key, system_record(address, party, result, language), result)
        return result.replies

    def _wallet(
        self, bot: BotProfile, party: Party | None, channel: str, sender_id: str, tr: Translator
    ) -> Wallet | None:
        if self._wallets is None:
            return None
        return self._wallets.wallet(
            bot,
            party.end_user_id if party else None,
            channel,
            sender_id,
            creator_reachable=bool(self._line.chats(bot)),
            tr=tr,
        )

    async def _store_turn(
        self, key: tuple[str, str, str], record: TurnRecord, result: TurnResult
    ) -> Party:
        """Store a turn, then capture what it charged; if storing fails, give the
        credits it held back and start nothing. Returns the conversation as stored."""
        holds = [*result.charges, *([result.job.hold] if result.job and result.job.hold else [])]
        wallet = self._wallets and holds
        try:
            stored = await self._store(key, record)
        except BaseException:
            if wallet:
                await self._settle(holds, spend=False)
            raise
        if result.charges:
            await self._settle(result.charges, spend=True)
        if record.job is not None:
            for listener in self._job_listeners:
                await listener(record.job.id)
        return stored

    async def _settle(self, holds: list[str], *, spend: bool) -> None:
        assert self._wallets is not None
        for hold in holds:
            try:
                await self._wallets.settle(hold, spend=spend)
            except Exception:  # an open hold expires and is released later
                log.exception("settling credit hold %s failed", hold)

    async def _store(self, key: tuple[str, str, str], record: TurnRecord) -> Party:
        """Write a turn and keep the cached conversation in step with what was stored."""
        try:
            stored = await self._writer.write(record)
        except BaseException:
            self._cache.forget(key)
            raise
        self._cache.remember(key, stored)
        return stored

    async def close(self) -> None:
        """Stop the background writer (turns still queued fail)."""
        await self._writer.close()

    async def handle(
        self, message: InboundMessage, stream: Stream | None = None
    ) -> list[OutboundMessage]:
        """Handle one inbound message and return the replies to render.

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
                replies, state = await self._handle_once(message, stream)
        except ChorusError as exc:
            self._metrics.errors.labels("engine", type(exc).__name__).inc()
            raise
        except Exception as exc:
            self._metrics.errors.labels("engine", type(exc).__name__).inc()
            log.exception("handling a %s message for bot %s failed", channel, message.bot_id)
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.handle_seconds.labels(channel).observe(elapsed)
            log.debug(
                "%s message for bot %s handled in %.1f ms", channel, message.bot_id, elapsed * 1e3
            )
        if state is not None:
            self._metrics.messages.labels(channel, "in", state).inc()
            self._metrics.messages.labels(channel, "out", state).inc(len(replies))
        return replies

    async def _handle_once(
        self, message: InboundMessage, stream: Stream | None
    ) -> tuple[list[OutboundMessage], str | None]:
        try:
            return await self._turn(message, stream, trust_cache=True)
        except (IntegrityError, StaleConversation) as exc:
            # another process stored this delivery, created this user or moved this
            # conversation first: decide again from what is stored now
            log.info(
                "turn for bot %s raced another writer (%s); retrying",
                message.bot_id,
                type(exc).__name__,
            )
            return await self._turn(message, stream, trust_cache=False)

    async def _turn(
        self,
        message: InboundMessage,
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
        tr = translator(user_language(party, message, bot))
        problem = await self._too_fast(message, bot, party, tr)
        voiced = problem is None and not text and self._voice is not None
        if voiced and self._voice is not None and (note := voice_note(message)):
            # heard as the user's language; unknown yet, the bot's only one, else detected
            only = bot.languages.offered[0] if len(bot.languages.offered) == 1 else None
            hint = known_language(party, message) or only
            heard, problem = await self._voice.listen(note, tr, hint)
            text = clean_text(heard.text) if heard else ""
            if heard is not None and not text:
                problem = tr.gettext("I couldn't make out any words in that voice note.")
        if problem is not None:
            choice = LanguageChoice(user_language(party, message, bot))
            state = State(party.state) if party else INITIAL_STATE
            outcome = Outcome(TurnResult.begin(state, party.context if party else {}, tr))
            outcome.result.say(problem)
        else:
            choice = await self._languages.settle(bot, party, message, text)
            outcome = await self._decide(message, bot, party, text, stream, choice.language)
        result = outcome.result
        for event in result.events:
            self._metrics.transitions.labels(event.value).inc()
        if outcome.erased is not None:  # /forget: nobody is left to store this turn for
            for identity in (key, *outcome.erased.identities):
                self._cache.forget(identity)
            return result.replies, result.state.value
        if outcome.linked is not None:  # /link: the chat is now part of another account
            for identity in (key, *outcome.linked.identities):
                self._cache.forget(identity)
            party = outcome.linked.party  # the turn is stored in that account's conversation
        else:  # the language found is kept, unless the user set theirs in this turn
            outcome.user_updates = {**choice.updates, **outcome.user_updates}
        language = choice.language
        if "language" in outcome.user_updates:  # /language: from this reply on
            language = bot.languages.resolve(outcome.user_updates["language"])
        if self._voice is not None and wants_voice(party, outcome.user_updates):
            spoken = await self._voice.spoken(result.replies, party, language)
            result.replies += spoken
        if heard is not None and text and result.state is not State.HANDOFF:
            result.replies.insert(0, OutboundMessage(text=f"🎙 “{text}”"))
        result.mark_language()
        record = turn_record(message, bot.id, party, text[:MAX_TEXT], outcome, language)
        stored = await self._store_turn(key, record, result)
        if delivery is not None:
            self._cache.mark_handled(delivery)
        if outcome.note is not None:  # in order with the user's turns: the lock is held
            await self._line.send(outcome.note, bot, stored.end_user_id, message)
        return result.replies, result.state.value

    async def _too_fast(
        self, message: InboundMessage, bot: BotProfile, party: Party | None, tr: Translator
    ) -> str | None:
        """What to say to a user writing faster than their limit (creators have none)."""
        channel = message.channel.value
        if self._limits is None or bot.is_creator(channel, message.sender_id):
            return None
        refusal = await self._limits.refusal(
            bot.id, channel, message.sender_id, party.end_user_id if party else None, tr
        )
        if refusal is not None:
            self._metrics.rate_limited.labels(channel).inc()
        return refusal

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

    async def _decide(
        self,
        message: InboundMessage,
        bot: BotProfile,
        party: Party | None,
        text: str,
        stream: Stream | None,
        language: str,
    ) -> Outcome:
        """What a message does, for a user spoken to in ``language``: the bot's greeting
        and persona in that language, creator commands with the bot as it is."""
        speaking = bot.speaking(language)
        state = State(party.state) if party else INITIAL_STATE
        context = party.context if party else {}
        forget = None
        if state is not State.HANDOFF:
            forget = answer_to_forget(context, text, message.button_payload)
        if forget is None and message.command != "forget":
            context = without_question(context)  # anything else: the /forget question lapses
        tr = translator(language)
        outcome = Outcome(TurnResult.begin(state, context, tr))
        payload = message.button_payload
        wallet = self._wallet(bot, party, message.channel.value, message.sender_id, tr)
        command, args = message.command, message.command_args
        if payload is not None and payload.startswith("buy:"):  # a pack or tier's button
            command, args, payload = "buy", payload.removeprefix("buy:"), None
        if forget is not None:  # yes or no to the /forget question
            command, args, payload = "forget", forget, None
        creator = bot.is_creator(message.channel.value, message.sender_id)
        resting = bot.paused and not creator
        if state is State.HANDOFF:  # the creator answers in person: relay, say nothing
            outcome.result = await self._dialogue.respond(
                TurnInput(speaking, state, context, text, payload, language)
            )
            outcome.note = self._line.relay(context, text, message)
        elif resting:
            outcome.result.say(
                tr.gettext(
                    "%(bot)s is taking a break right now. Please come back later.", bot=bot.name
                )
            )
        elif (tools := self._creator_tools) and (
            document := first_document(message, images=creator)
        ):
            if creator:
                chat = Address(bot.id, message.channel.value, message.sender_id)
                outcome.result.replies += await tools.ingest(bot, document, chat, tr=tr)
            else:
                outcome.result.say(tr.gettext("I can't read files here: please type your message."))
        elif problem := problem_with(message, text, tr):
            outcome.result.say(problem)
        elif tools and message.command in tools.names:
            if creator:
                outcome.result.replies += await tools.run(
                    message.command or "", message.command_args, bot, tr=tr
                )
            else:
                outcome.result.say(
                    tr.gettext(
                        "/%(command)s is only for %(bot)s's creator.",
                        command=message.command,
                        bot=bot.name,
                    )
                )
        elif command == "human" or (not command and payload is None and asks_for_human(text)):
            outcome.note = self._line.ask(bot, outcome.result, "" if command else text)
            if outcome.note is not None or not self._line.chats(bot):
                # ids only: what users say stays in their conversation, which /forget erases
                outcome.result.announce("handoff.requested", {"command": bool(command)})
        elif command:
            ran = await self._commands.run(
                command,
                args,
                bot=speaking,
                party=party,
                state=state,
                context=context,
                wallet=wallet,
                sender=Address(bot.id, message.channel.value, message.sender_id),
                tr=tr,
            )
            outcome = Outcome(ran.result, ran.user_updates, erased=ran.erased, linked=ran.linked)
            if ran.dialogue_payload:
                outcome.result = await self._dialogue.respond(
                    TurnInput(
                        speaking, state, context, "", ran.dialogue_payload, language, wallet=wallet
                    )
                )
        elif payload is None and is_greeting(text) and state not in _BUSY_STATES:
            ran = await self._commands.run(
                "start", "", bot=speaking, party=party, state=state, context=context, tr=tr
            )
            outcome = Outcome(ran.result)
        else:
            outcome.result = await self._dialogue.respond(
                TurnInput(
                    speaking,
                    state,
                    context,
                    text,
                    payload,
                    language,
                    self._history(party),
                    stream,
                    wallet,
                )
            )
        new = party is None and outcome.linked is None  # a chat /link joined has met the bot
        if new and not resting and message.command != "start" and outcome.result.replies:
            first = outcome.result.replies[0]
            if first.text != speaking.welcome:
                outcome.result.replies.insert(0, OutboundMessage(text=speaking.welcome))
        return outcome
