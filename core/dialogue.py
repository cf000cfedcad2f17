"""What the bot says and which events happen, given the conversation's state and a message.

:class:`Dialogue` reads one user turn (text or a pressed button) in the light of the
current state, moves the state machine through :func:`core.statemachine.step`, and calls
the retriever and the text generator. It touches no storage: the engine loads the state
before and stores the outcome after, so every rule about *what to say* lives here.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bots.profile import BotProfile
from core.citations import Citations
from core.flow import (
    FIELDS,
    STAGES,
    ContentType,
    Field,
    Stage,
    all_fields,
    detect_content_type,
    stage_of,
    summary_lines,
)
from core.generation import Answer, AnswerRequest, Retriever, TextGenerator, Turn
from core.messages import Button, Media, OutboundKind, OutboundMessage, Source
from core.statemachine import Event, State, step

log = logging.getLogger("chorus.dialogue")

BACK_WORDS = frozenset({"back", "go back", "previous", "undo", "return"})
CANCEL_WORDS = frozenset({"cancel", "stop", "quit", "exit", "never mind", "nevermind", "abort"})
CONFIRM_WORDS = frozenset(
    [
        "yes",
        "y",
        "ok",
        "okay",
        "confirm",
        "create",
        "create it",
        "go",
        "go ahead",
        "do it",
        "sounds good",
        "looks good",
        "perfect",
        "yes please",
        "sure",
        "make it",
        "great",
        "please do",
        "yep",
        "yeah",
    ]
)
_CREATE_VERBS = frozenset(
    [
        "make",
        "create",
        "want",
        "need",
        "give",
        "generate",
        "write",
        "build",
        "new",
        "start",
        "try",
        "like",
        "get",
    ]
)
_FIELD_WORDS: Mapping[str, tuple[str, ...]] = {
    "purpose": ("purpose", "goal", "intention", "topic", "about"),
    "time_of_day": ("time", "when", "morning", "evening", "bedtime", "midday"),
    "feeling": ("feeling", "feel", "mood"),
    "duration": ("duration", "length", "long", "minutes", "minute", "shorter", "longer"),
    "pace": ("pace", "speed", "slower", "faster", "slow", "lively"),
    "voice": ("voice", "audio", "spoken"),
}
_QUESTION_WORDS = frozenset(
    "what how why when where which who whom whose is are does do did can could should "
    "would will tell explain".split()
)
_EDIT_VERBS = frozenset("change edit different instead update fix modify".split())

NAV_BUTTONS = (Button("Back", "flow:back"), Button("Cancel", "flow:cancel"))
MENU_BUTTONS = (
    Button("Ask a question", "flow:ask"),
    Button("Guided meditation", "type:meditation"),
    Button("Affirmations", "type:affirmations"),
    Button("Ritual", "type:ritual"),
)
TYPE_BUTTONS = MENU_BUTTONS[1:]

#: receives the text of an answer as it is written, delta by delta
Stream = Callable[[str], Awaitable[None]]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s'-]", " ", text.lower()).split())


def _words(text: str) -> set[str]:
    return set(_normal(text).split())


@dataclass(frozen=True, slots=True)
class TurnInput:
    """One user turn as the dialogue sees it."""

    bot: BotProfile
    state: State
    context: Mapping[str, Any]
    text: str = ""
    payload: str | None = None
    language: str | None = None
    # earlier turns of the conversation, loaded only when the generator reads them
    history: Callable[[], Awaitable[list[Turn]]] | None = None
    # receives an answer's text as it is written, for channels that show it growing
    stream: Stream | None = None


@dataclass(frozen=True, slots=True)
class CreatedContent:
    """Content finished in this turn, for the engine to save in the user's library."""

    content_type: str
    title: str
    parameters: dict[str, Any]
    text: str
    audio: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class JobRequest:
    """Content the user confirmed in this turn, for the engine to hand to the studio."""

    content_type: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class TurnResult:
    """What a turn did: the new state and context, the replies and the events on the way."""

    state: State
    context: dict[str, Any]
    replies: list[OutboundMessage] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    content: CreatedContent | None = None
    job: JobRequest | None = None

    @classmethod
    def begin(cls, state: State, context: Mapping[str, Any]) -> TurnResult:
        """A result that starts from a private copy of the stored context."""
        return cls(state=state, context=copy.deepcopy(dict(context)))

    def move(self, event: Event) -> None:
        self.state = step(self.state, event)
        self.events.append(event)

    def say(
        self,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        kind: OutboundKind = OutboundKind.TEXT,
        sources: tuple[Source, ...] = (),
    ) -> None:
        self.replies.append(OutboundMessage(text=text, kind=kind, buttons=buttons, sources=sources))

    @property
    def flow(self) -> dict[str, Any]:
        flow: dict[str, Any] = self.context["flow"]
        return flow


class Dialogue:
    """Turns a message plus the conversation state into replies and a new state."""

    def __init__(self, retriever: Retriever, generator: TextGenerator) -> None:
        self._retriever = retriever
        self._generator = generator

    async def respond(self, turn: TurnInput) -> TurnResult:
        """Handle one turn that is not a global command."""
        result = TurnResult.begin(turn.state, turn.context)
        entry = turn.payload or turn.text
        handler = {
            State.GREETING: self._open,
            State.CHAT: self._open,
            State.DELIVERED: self._open,
            State.INTENT_DISCOVERY: self._intent,
            State.CONTEXT_GATHERING: self._question,
            State.PRACTICE_DETAILS: self._question,
            State.CONFIRM: self._confirm,
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
        if entry.startswith("type:"):
            chosen = _content_type(entry.removeprefix("type:"))
            if chosen is not None:
                return self._begin(chosen, result)
        if entry == "flow:create":
            result.move(Event.CREATE)
            return _ask_type(result, "What shall we make together?")
        if entry == "flow:ask":
            result.move(Event.ASK)
            return result.say("What would you like to know?")
        if turn.payload is not None:
            return _stale(result, MENU_BUTTONS)
        words = _words(entry)
        chosen = detect_content_type(entry, hints=False)
        first = _normal(entry).split(" ", 1)[0]
        asking = "?" in entry or first in _QUESTION_WORDS
        # "can you make me a meditation?" asks for one; "what helps me sleep?" does not
        polite = first in {"can", "could", "would", "will"} and "you" in words
        requested = bool(words & _CREATE_VERBS) and (polite or not asking)
        if chosen and (requested or (len(words) <= 3 and not asking)):
            return self._begin(chosen, result)
        if words & {"create", "make", "generate"} and (polite or not asking):
            result.move(Event.CREATE)
            return _ask_type(result, "Happy to. What shall we make?")
        await self._answer(turn, result)

    async def _answer(self, turn: TurnInput, result: TurnResult) -> None:
        result.move(Event.ASK)
        passages = await self._retriever.search(turn.bot.id, turn.text, limit=5)
        if passages:
            history: list[Turn] = []
            if turn.history is not None and self._generator.uses_history:
                history = await turn.history()
            request = AnswerRequest(
                bot=turn.bot,
                question=turn.text,
                passages=passages,
                history=history,
                language=turn.language,
            )
            if turn.stream is None:
                answer = await self._generator.answer(request)
            else:
                answer = await self._streamed(request, turn.stream)
            if answer.text:
                return result.say(answer.text, sources=answer.sources)
        result.say(
            f"I couldn't find anything about that in {turn.bot.name}'s material, so I won't "
            "guess. I can still make you a personalised guided meditation, a set of "
            "affirmations or a ritual.",
            TYPE_BUTTONS,
        )

    async def _streamed(self, request: AnswerRequest, stream: Stream) -> Answer:
        """The answer, its text passed to ``stream`` as it is written."""
        citations = Citations(request.passages)
        written: list[str] = []
        async for delta in self._generator.stream_answer(request):
            if shown := citations.feed(delta):
                written.append(shown)
                await stream(shown)
        written.append(citations.finish())
        return Answer(text="".join(written).strip(), sources=citations.sources)

    def _begin(self, content_type: ContentType, result: TurnResult) -> None:
        result.context["flow"] = {
            "type": content_type.value,
            "answers": {},
            "index": 0,
            "editing": False,
        }
        result.move(Event.CHOOSE)
        result.say(
            f"Lovely, let's make your {content_type.label}. A few quick questions first; "
            'say "back" to change an answer or "cancel" to stop.'
        )
        _ask(result)

    # -- guided flow ----------------------------------------------------------------------

    async def _intent(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        chosen = _content_type(entry.removeprefix("type:")) or detect_content_type(entry)
        if chosen is not None:
            return self._begin(chosen, result)
        if _normal(entry) in BACK_WORDS or entry == "flow:back":
            result.move(Event.BACK)
            return result.say(
                "No problem. Ask me anything, or say what you'd like to make.", MENU_BUTTONS
            )
        if _normal(entry) in CANCEL_WORDS or entry == "flow:cancel":
            return _cancel(result)
        result.move(Event.ANSWER)
        _ask_type(
            result,
            "I can make a guided meditation, a set of affirmations or a ritual. "
            "Which would you like?",
        )

    async def _question(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        flow = result.flow
        fields = _stage_fields(result)
        current = fields[flow["index"]]
        if _normal(entry) in CANCEL_WORDS or entry == "flow:cancel":
            return _cancel(result)
        if _normal(entry) in BACK_WORDS or entry == "flow:back":
            return _go_back(result)
        prefix = entry.split(":", 1)[0] if turn.payload else None
        if prefix is not None and prefix != current.name:
            return _stale(result, _question_buttons(current))
        parsed = current.parse(entry)
        if parsed.problem is not None:
            result.move(Event.ANSWER)
            return _ask(result, problem=parsed.problem)
        flow["answers"] = {**flow["answers"], current.name: parsed.value}
        if flow["editing"]:
            flow["editing"] = False
            result.move(Event.EDITED)
            return _summary(result, intro="Updated.")
        if flow["index"] + 1 < len(fields):
            flow["index"] += 1
            result.move(Event.ANSWER)
            return _ask(result)
        flow["index"] = 0
        result.move(Event.STAGE_DONE)
        if result.state is State.CONFIRM:
            return _summary(result)
        _ask(result)

    async def _confirm(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        normal = _normal(entry)
        if entry == "flow:confirm" or normal in CONFIRM_WORDS:
            return await self._generate(turn, result)
        if normal in CANCEL_WORDS or entry == "flow:cancel":
            return _cancel(result)
        if normal in BACK_WORDS or entry == "flow:back":
            result.move(Event.BACK)
            result.flow["index"] = len(_stage_fields(result)) - 1
            return _ask(result)
        content_type = ContentType(result.flow["type"])
        target = entry.removeprefix("edit:") if entry.startswith("edit:") else None
        if target is None and turn.payload is None:
            target = _mentioned_field(content_type, entry)
            if target and not FIELDS[target].free_text and not _words(entry) & _EDIT_VERBS:
                parsed = FIELDS[target].parse(entry)
                if parsed.problem is None:  # "make it 15 minutes": apply it at once
                    answers = result.flow["answers"]
                    result.flow["answers"] = {**answers, target: parsed.value}
                    result.move(Event.ANSWER)
                    return _summary(result, intro="Updated.")
        stage = stage_of(content_type, target) if target else None
        if target is None or stage is None:
            result.move(Event.ANSWER)
            return _summary(
                result, intro="Shall I create it? Press Create, or tell me what to change."
            )
        result.move(Event.EDIT_CONTEXT if stage is Stage.CONTEXT else Event.EDIT_DETAILS)
        result.flow["index"] = [f.name for f in STAGES[content_type][stage]].index(target)
        result.flow["editing"] = True
        _ask(result)

    async def _generate(self, turn: TurnInput, result: TurnResult) -> None:
        flow = result.flow
        content_type = ContentType(flow["type"])
        result.move(Event.CONFIRM)
        result.job = JobRequest(content_type.value, dict(flow["answers"]))
        result.say(f"Writing your {content_type.label}…", kind=OutboundKind.PROGRESS)

    # -- side states ----------------------------------------------------------------------

    async def _generating(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        result.move(Event.ANSWER)
        result.say("I'm still creating your content; it will arrive here as soon as it's ready.")

    async def _paywall(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        if _normal(entry) in BACK_WORDS or entry == "flow:back":
            result.move(Event.BACK)
            return _summary(result)
        result.move(Event.ANSWER)
        result.say(
            "This needs more credits than you have. Go back to the summary, or /cancel.",
            (Button("Back", "flow:back"),),
        )

    async def _handoff(self, turn: TurnInput, entry: str, result: TurnResult) -> None:
        result.move(Event.ANSWER)  # the creator is answering in person; the bot stays silent


def _content_type(value: str) -> ContentType | None:
    try:
        return ContentType(value)
    except ValueError:
        return None


def _stage_fields(result: TurnResult) -> tuple[Field, ...]:
    return STAGES[ContentType(result.flow["type"])][Stage(result.state.value)]


def _question_buttons(current: Field) -> tuple[Button, ...]:
    return current.options + NAV_BUTTONS


def _ask(result: TurnResult, problem: str | None = None) -> None:
    current = _stage_fields(result)[result.flow["index"]]
    text = current.question
    if current.name in result.flow["answers"]:
        text += f" (Now: {current.display(result.flow['answers'][current.name])}.)"
    if problem:
        text = f"{problem}\n{text}"
    result.say(text, _question_buttons(current))


def _ask_type(result: TurnResult, text: str) -> None:
    result.say(text, (*TYPE_BUTTONS, Button("Back", "flow:back")))


def _go_back(result: TurnResult) -> None:
    flow = result.flow
    flow["editing"] = False
    if flow["index"] > 0:
        flow["index"] -= 1
        result.move(Event.REVISE)
        return _ask(result)
    result.move(Event.BACK)
    if result.state is State.INTENT_DISCOVERY:
        return _ask_type(result, "Which would you like to make?")
    flow["index"] = len(_stage_fields(result)) - 1
    _ask(result)


def _summary(result: TurnResult, intro: str | None = None) -> None:
    content_type = ContentType(result.flow["type"])
    lines = [
        f"Here's your {content_type.label}:",
        *summary_lines(content_type, result.flow["answers"]),
    ]
    if intro:
        lines.insert(0, intro)
    lines.append("Shall I create it?")
    buttons = (
        Button("Create it", "flow:confirm"),
        *(Button(f"Change {f.label.lower()}", f"edit:{f.name}") for f in all_fields(content_type)),
        *NAV_BUTTONS,
    )
    result.say("\n".join(lines), buttons)


def _cancel(result: TurnResult) -> None:
    result.move(Event.CANCEL)
    result.context.pop("flow", None)
    result.say("Cancelled. Ask me anything, or start something new.", MENU_BUTTONS)


def _stale(result: TurnResult, buttons: tuple[Button, ...]) -> None:
    result.move(Event.ANSWER if result.state not in _OPEN_STATES else Event.ASK)
    result.say("That button belongs to an earlier step. Here are the current options.", buttons)


_OPEN_STATES = frozenset({State.GREETING, State.CHAT, State.DELIVERED})


def _mentioned_field(content_type: ContentType, text: str) -> str | None:
    words = _words(text)
    names = {f.name for f in all_fields(content_type)}
    hits = [name for name, keys in _FIELD_WORDS.items() if name in names and words & set(keys)]
    return hits[0] if len(hits) == 1 else None


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
        result.say(audio_note)
    result.say("It's saved in your /library. What next?", MENU_BUTTONS)


def fail_content(result: TurnResult) -> None:
    """A failed job: say so, charge nothing, and offer the summary again."""
    if result.state is State.GENERATING and "flow" in result.context:
        result.move(Event.FAILED)
        return _summary(
            result,
            intro="Sorry, something went wrong while creating it, and nothing was charged. "
            "Your answers are kept: press Create to try again.",
        )
    result.say("Sorry, something went wrong while creating your content; nothing was charged.")
