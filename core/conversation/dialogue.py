"""What the bot says and which events happen, given the conversation's state and a message.

:class:`Dialogue` reads one user turn (text or a pressed button) in the light of the current state,
moves the state machine through :func:`core.conversation.statemachine.step`, and calls the retriever
and the text generator. It touches no storage: the engine loads the state before and stores the
outcome after, so every rule about *what to say* lives here.

The free states (greeting, chat, delivered) are here: telling a question, answered from the bot's
material, from a wish to make something. The guided creation flow they lead into is
:mod:`core.conversation.guided`; the turn's input and result types are
:mod:`core.conversation.turn`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from core.conversation import guided, reading
from core.conversation.flow import Stage
from core.conversation.followups import MAX_TOPIC_CHARS, TOPIC, ResolvedQuestion, resolve
from core.conversation.quoting import SourceLanguages
from core.conversation.statemachine import Event, State
from core.conversation.turn import Charge, CreatedContent, Stream, TurnInput, TurnResult
from core.generation.citations import Citations
from core.generation.seams import Answer, AnswerRequest, Quoted, TextGenerator, Turn
from core.messages import Media, OutboundKind, OutboundMessage
from core.metrics import Metrics
from knowledge.passages import Passage, Retriever

log = logging.getLogger("chorus.dialogue")
PASSAGES = 5  # passages retrieved for a question


class Dialogue:
    """Turns a message plus the conversation state into replies and a new state.

    ``sources`` reads the language of the passages an answer quotes (a language
    identifier of its own when not given), to tell a user whose language they are not.
    """

    def __init__(
        self,
        retriever: Retriever,
        generator: TextGenerator,
        metrics: Metrics | None = None,
        sources: SourceLanguages | None = None,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._metrics = metrics or Metrics()
        self._sources = sources or SourceLanguages()

    async def respond(self, turn: TurnInput) -> TurnResult:
        """Handle one turn that is not a global command."""
        result = TurnResult.begin(turn.state, turn.context, turn.tr)
        entry = turn.payload or turn.text
        handler = {
            State.GREETING: self._open,
            State.CHAT: self._open,
            State.DELIVERED: self._open,
            State.INTENT_DISCOVERY: guided.choose_type,
            State.CONTEXT_GATHERING: guided.answer_question,
            State.PRACTICE_DETAILS: guided.answer_question,
            State.CONFIRM: guided.confirm,
            State.GENERATING: self._generating,
            State.PAYWALL: self._paywall,
            State.HANDOFF: self._handoff,
        }[turn.state]
        if turn.state.value in (Stage.CONTEXT, Stage.DETAILS) and "flow" not in result.context:
            handler = self._open  # a flow without its answers cannot continue; start afresh
            result.move(Event.CANCEL)
        await handler(turn, entry, result)
        return result

    # -- free states: greeting, chat, delivered -------------------------------------------

    async def _open(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        tr = result.tr
        if not turn.bot.features.create:  # the creator switched guided creation off
            if turn.payload is None:
                return await self._answer(turn, result)
            if entry.startswith("type:") or entry == "flow:create":  # an old button
                result.move(Event.ASK)
                return result.say(guided.not_offered(turn.bot, tr))
        if entry.startswith("type:"):
            chosen = guided.content_type_named(entry.removeprefix("type:"))
            if chosen is not None:
                return guided.begin(chosen, result, turn.bot.pricing.cost(chosen))
        if entry == "flow:create":
            result.move(Event.CREATE)
            return guided.ask_type(result, tr.gettext("What shall we make together?"))
        if entry == "flow:ask":
            result.move(Event.ASK)
            return result.say(tr.gettext("What would you like to know?"))
        if turn.payload is not None:
            return guided.stale(result, guided.menu(turn.bot, tr))
        folded = reading.fold(entry)
        words = set(folded.split())
        chosen = reading.content_type_in(entry, hints=False)
        first = folded.split(" ", 1)[0]
        asking = reading.asks_question(entry)
        # "can you make me a meditation?" asks for one; "what helps me sleep?" does not
        polite = first in {"can", "could", "would", "will"} and "you" in words
        requested = bool(reading.CREATE_VERBS.values(folded)) and (polite or not asking)
        if chosen and (requested or (len(words) <= 3 and not asking)):
            return guided.begin(chosen, result, turn.bot.pricing.cost(chosen))
        if words & {"create", "make", "generate"} and (polite or not asking):
            result.move(Event.CREATE)
            return guided.ask_type(result, tr.gettext("Happy to. What shall we make?"))
        await self._answer(turn, result)

    async def _answer(self, turn: TurnInput, result: TurnResult) -> None:
        result.move(Event.ASK)
        charge = Charge()
        if turn.wallet is not None and turn.bot.pricing.question_cost:
            charge = await turn.wallet.question()
            if charge.short:
                return self._questions_used_up(turn, result, charge.balance)
        started = time.perf_counter()
        previous = result.context.get(TOPIC)
        asked = resolve(turn.text, previous if isinstance(previous, str) else None)
        passages = await self._search(turn.bot.id, asked)
        self._metrics.retrieval_seconds.observe(time.perf_counter() - started)
        if passages:
            result.context[TOPIC] = asked.topic[:MAX_TOPIC_CHARS]
            history: list[Turn] = []
            if turn.history is not None and self._generator.uses_history:
                history = await turn.history()
            request = AnswerRequest(
                bot=turn.bot,
                question=turn.text,
                passages=passages,
                history=history,
                language=turn.language,
                follows=asked.follows,
            )
            started = time.perf_counter()
            if turn.stream is None:
                answer = await self._generator.answer(request)
            else:
                answer = await self._streamed(request, turn.stream)
            self._metrics.generation_seconds.labels("answer").observe(time.perf_counter() - started)
            if answer.text:
                if charge.hold:
                    result.charges.append(charge.hold)
                text = answer.text
                if answer.quoted:  # in the notes' words: perhaps not in the user's language
                    note = await self._sources.note(
                        result.context,
                        result.tr,
                        turn.language or result.tr.language,
                        passages,
                        answer.sources,
                    )
                    text = f"{text}\n\n{note}" if note else text
                return result.say(text, sources=answer.sources, grounded=True)
        if charge.hold and turn.wallet is not None:  # nothing to answer from: no charge
            await turn.wallet.settle(charge.hold, spend=False)
        tr = result.tr
        if not turn.bot.features.create:
            return result.say(
                tr.gettext(
                    "I couldn't find anything about that in %(bot)s's material, so I won't guess.",
                    bot=turn.bot.name,
                ),
                grounded=False,
            )
        result.say(
            tr.gettext(
                "I couldn't find anything about that in %(bot)s's material, so I won't guess. "
                "I can still make you a personalised guided meditation, a set of affirmations "
                "or a ritual.",
                bot=turn.bot.name,
            ),
            guided.labelled(tr, guided.TYPE_BUTTONS),
            grounded=False,
        )

    async def _search(self, bot_id: str, asked: ResolvedQuestion) -> list[Passage]:
        """The passages for a question; for a follow-up, those it finds alone and those
        it finds with the question before it, taken in turns ("and how long should I
        meditate?" may need neither the earlier question nor do without it)."""
        if not asked.follows:
            return await self._retriever.search(bot_id, asked.query, limit=PASSAGES)
        alone, joined = await asyncio.gather(
            self._retriever.search(bot_id, asked.question, limit=PASSAGES),
            self._retriever.search(bot_id, asked.query, limit=PASSAGES),
        )
        merged: dict[tuple[str | None, str], Passage] = {}
        for pair in itertools.zip_longest(joined, alone):
            for passage in pair:
                if passage is not None:
                    merged.setdefault((passage.document_id, passage.text), passage)
        return list(merged.values())[:PASSAGES]

    def _questions_used_up(self, turn: TurnInput, result: TurnResult, balance: int) -> None:
        tr = result.tr
        cost = turn.bot.pricing.question_cost
        offers = turn.wallet.offers() if turn.wallet is not None else ()
        if offers:
            text = tr.ngettext(
                "You've used today's free questions. Each further question costs %(count)s "
                "credit and you have %(balance)s. Buy credits to keep asking, or come back "
                "tomorrow for more free questions.",
                "You've used today's free questions. Each further question costs %(count)s "
                "credits and you have %(balance)s. Buy credits to keep asking, or come back "
                "tomorrow for more free questions.",
                cost,
                balance=tr.number(balance),
            )
        else:
            text = tr.ngettext(
                "You've used today's free questions. Each further question costs %(count)s "
                "credit and you have %(balance)s. Come back tomorrow for more free questions.",
                "You've used today's free questions. Each further question costs %(count)s "
                "credits and you have %(balance)s. Come back tomorrow for more free questions.",
                cost,
                balance=tr.number(balance),
            )
        result.say(text, offers)

    async def _streamed(self, request: AnswerRequest, stream: Stream) -> Answer:
        """The answer, its text passed to ``stream`` as it is written."""
        citations = Citations(request.passages)
        written: list[str] = []
        quoted = False
        async for delta in self._generator.stream_answer(request):
            quoted = quoted or isinstance(delta, Quoted)
            if shown := citations.feed(delta):
                written.append(shown)
                await stream(shown)
        written.append(citations.finish())
        text = "".join(written).strip()
        return Answer(text=text, sources=citations.sources, quoted=quoted)

    # -- side states ----------------------------------------------------------------------

    async def _generating(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        result.move(Event.ANSWER)
        result.say(
            result.tr.gettext(
                "I'm still creating your content; it will arrive here as soon as it's ready."
            )
        )

    async def _paywall(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        if entry == "flow:back" or reading.is_back(entry):
            result.move(Event.BACK)
            return guided.summary(result)
        if entry == "flow:cancel" or reading.is_cancel(entry):
            return guided.cancel(result)
        # credits may have arrived another way (a creator's gift): try again
        if await guided.start_job(turn, result, Event.PAID):
            return
        result.move(Event.ANSWER)
        guided.paywall(turn, result, intro=result.tr.gettext("I'm waiting for credits."))

    async def _handoff(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        result.move(Event.ANSWER)  # the creator is answering in person; the bot stays silent


def deliver_content(
    result: TurnResult,
    content: CreatedContent,
    *,
    audio: Media | None = None,
    audio_note: str | None = None,
) -> None:
    """A finished job: the script, its audio, and the way back to the menu.

    The conversation moves on to ``delivered`` only if it is still waiting for this
    content (the user may have cancelled meanwhile); the content is delivered either way.
    """
    if result.state is State.GENERATING:
        result.move(Event.GENERATED)
        result.context.pop("flow", None)
    result.content = content
    result.say(f"{content.title}\n\n{content.text}")
    if audio is not None:
        result.replies.append(
            OutboundMessage(text=content.title, kind=OutboundKind.AUDIO, audio=audio)
        )
    elif audio_note:
        result.say(result.tr.gettext(audio_note))
    result.say(
        result.tr.gettext("It's saved in your /library. What next?"),
        guided.labelled(result.tr, guided.MENU_BUTTONS),
    )


def fail_content(result: TurnResult) -> None:
    """A failed job: say so, charge nothing, and offer the summary again."""
    if result.state is State.GENERATING and "flow" in result.context:
        result.move(Event.FAILED)
        return guided.summary(
            result,
            intro=result.tr.gettext(
                "Sorry, something went wrong while creating it, and nothing was charged. "
                "Your answers are kept: press Create to try again."
            ),
        )
    result.say(
        result.tr.gettext(
            "Sorry, something went wrong while creating your content; nothing was charged."
        )
    )
