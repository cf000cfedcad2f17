"""The guided creation flow: from choosing what to make to confirming it.

Once a user picks a content type, :func:`begin` starts the flow and the steps here take it through
the questions of each stage (:mod:`core.conversation.flow` says which, and how answers are read),
back and forth ("back", "cancel", a stale button), to the summary where :func:`confirm` either hands
the answers to the studio or reopens one question to change it. Each step takes the turn and the
result it writes into, as the dialogue's state handlers do, and touches nothing else; the buttons
they share with the free states (the main menu, "cancel") live here too. Words ("atrás", "отмена",
"sí") are read in every shipped language by :mod:`core.conversation.reading`.
"""

from __future__ import annotations

from dataclasses import replace

from bots.profile import BotProfile
from core.content import ContentType
from core.conversation import reading
from core.conversation.flow import (
    FIELDS,
    STAGES,
    Field,
    Stage,
    all_fields,
    stage_of,
    summary_lines,
)
from core.conversation.statemachine import Event, State
from core.conversation.turn import JobRequest, TurnInput, TurnResult
from core.messages import Button, OutboundKind
from core.text import counted

NAV_BUTTONS = (Button("Back", "flow:back"), Button("Cancel", "flow:cancel"))
MENU_BUTTONS = (
    Button("Ask a question", "flow:ask"),
    Button("Guided meditation", "type:meditation"),
    Button("Affirmations", "type:affirmations"),
    Button("Ritual", "type:ritual"),
)
TYPE_BUTTONS = MENU_BUTTONS[1:]
_OPEN_STATES = frozenset({State.GREETING, State.CHAT, State.DELIVERED})


def menu(bot: BotProfile) -> tuple[Button, ...]:
    """The main menu's buttons: none where the creator switched guided creation off
    (asking is then all there is, and needs no button)."""
    return MENU_BUTTONS if bot.features.create else ()


def not_offered(bot: BotProfile) -> str:
    """What a user who asks to make something hears where guided creation is off."""
    return (
        f"{bot.name} doesn't make meditations, affirmations or rituals. Ask me anything "
        "about its material instead."
    )


def begin(content_type: ContentType, result: TurnResult, cost: int = 0) -> None:
    """Start the flow for ``content_type`` (costing ``cost`` credits) with no answers, and
    ask the first question."""
    result.context["flow"] = {
        "type": content_type.value,
        "answers": {},
        "index": 0,
        "editing": False,
        "cost": cost,
    }
    result.move(Event.CHOOSE)
    result.say(
        f"Lovely, let's make your {content_type.label}. A few quick questions first; "
        'say "back" to change an answer or "cancel" to stop.'
    )
    _ask(result)


async def choose_type(turn: TurnInput, entry: str, result: TurnResult) -> None:
    """``intent_discovery``: the user says (or presses) what to make, goes back or cancels."""
    chosen = content_type_named(entry.removeprefix("type:")) or reading.content_type_in(entry)
    if chosen is not None:
        return begin(chosen, result, turn.bot.pricing.cost(chosen))
    if entry == "flow:back" or reading.is_back(entry):
        result.move(Event.BACK)
        return result.say(
            "No problem. Ask me anything, or say what you'd like to make.", MENU_BUTTONS
        )
    if entry == "flow:cancel" or reading.is_cancel(entry):
        return cancel(result)
    result.move(Event.ANSWER)
    ask_type(
        result,
        "I can make a guided meditation, a set of affirmations or a ritual. Which would you like?",
    )


async def answer_question(turn: TurnInput, entry: str, result: TurnResult) -> None:
    """``context_gathering`` and ``practice_details``: read the answer to the current
    question, then ask the next one, move to the next stage or show the summary."""
    flow = result.flow
    fields = _stage_fields(result)
    current = fields[flow["index"]]
    if entry == "flow:cancel" or reading.is_cancel(entry):
        return cancel(result)
    if entry == "flow:back" or reading.is_back(entry):
        return _go_back(result)
    prefix = entry.split(":", 1)[0] if turn.payload else None
    if prefix is not None and prefix != current.name:
        return stale(result, _question_buttons(current))
    parsed = current.parse(entry, turn.language)
    if parsed.problem is not None:
        result.move(Event.ANSWER)
        return _ask(result, problem=parsed.problem)
    flow["answers"] = {**flow["answers"], current.name: parsed.value}
    if flow["editing"]:
        flow["editing"] = False
        result.move(Event.EDITED)
        return summary(result, intro="Updated.")
    if flow["index"] + 1 < len(fields):
        flow["index"] += 1
        result.move(Event.ANSWER)
        return _ask(result)
    flow["index"] = 0
    result.move(Event.STAGE_DONE)
    if result.state is State.CONFIRM:
        return summary(result)
    _ask(result)


async def confirm(turn: TurnInput, entry: str, result: TurnResult) -> None:
    """``confirm``: create it, go back, cancel, or change one answer (at once when the
    message already holds the new value, "make it 15 minutes")."""
    if entry == "flow:confirm" or reading.is_confirm(entry):
        return await _generate(turn, result)
    if entry == "flow:cancel" or reading.is_cancel(entry):
        return cancel(result)
    if entry == "flow:back" or reading.is_back(entry):
        result.move(Event.BACK)
        result.flow["index"] = len(_stage_fields(result)) - 1
        return _ask(result)
    content_type = ContentType(result.flow["type"])
    target = entry.removeprefix("edit:") if entry.startswith("edit:") else None
    if target is None and turn.payload is None:
        folded = reading.fold(entry)
        target = _mentioned_field(content_type, folded)
        if target and not FIELDS[target].free_text and not reading.EDIT_VERBS.values(folded):
            parsed = FIELDS[target].parse(entry, turn.language)
            if parsed.problem is None:  # "make it 15 minutes": apply it at once
                answers = result.flow["answers"]
                result.flow["answers"] = {**answers, target: parsed.value}
                result.move(Event.ANSWER)
                return summary(result, intro="Updated.")
    stage = stage_of(content_type, target) if target else None
    if target is None or stage is None:
        result.move(Event.ANSWER)
        return summary(result, intro="Shall I create it? Press Create, or tell me what to change.")
    result.move(Event.EDIT_CONTEXT if stage is Stage.CONTEXT else Event.EDIT_DETAILS)
    result.flow["index"] = [f.name for f in STAGES[content_type][stage]].index(target)
    result.flow["editing"] = True
    _ask(result)


async def _generate(turn: TurnInput, result: TurnResult) -> None:
    """Hold the content's cost (or show the paywall), then hand it to the studio."""
    if await start_job(turn, result, Event.CONFIRM):
        return
    result.move(Event.NEED_CREDITS)
    paywall(turn, result, intro="")


async def start_job(turn: TurnInput, result: TurnResult, event: Event) -> bool:
    """Reserve the flow's cost and move on with ``event`` to ``generating``; False (and
    nothing changed) when the user's credits do not cover it."""
    flow = result.flow
    content_type = ContentType(flow["type"])
    job = JobRequest(content_type.value, dict(flow["answers"]))
    cost = turn.bot.pricing.cost(content_type.value)
    if cost and turn.wallet is not None:
        charge = await turn.wallet.reserve(cost, f"job:{job.id}")
        if charge.short:
            flow["balance"] = charge.balance
            return False
        job = replace(job, hold=charge.hold)
    flow.pop("balance", None)
    result.move(event)
    result.job = job
    result.say(f"Writing your {content_type.label}…", kind=OutboundKind.PROGRESS)
    return True


async def resume_paid(turn: TurnInput, result: TurnResult) -> None:
    """Credits arrived: if the user was on the paywall, create what they confirmed."""
    if result.state is not State.PAYWALL or "flow" not in result.context:
        return
    if not await start_job(turn, result, Event.PAID):
        result.move(Event.ANSWER)
        paywall(turn, result, intro="That's still not enough.")


def paywall(turn: TurnInput, result: TurnResult, intro: str) -> None:
    """What the content costs against the user's balance, with a button per offer."""
    content_type = ContentType(result.flow["type"])
    cost = turn.bot.pricing.cost(content_type.value)
    balance = result.flow.get("balance", 0)
    offers = turn.wallet.offers() if turn.wallet is not None else ()
    lines = [intro] if intro else []
    lines.append(
        f"Your {content_type.label} costs {counted(cost, 'credit')} and you have {balance}."
    )
    if offers:
        lines.append(
            "Buy credits and I'll create it as soon as the payment is through; "
            "your answers are kept."
        )
    else:
        helped = turn.wallet.help() if turn.wallet is not None else ""
        lines.append(f"{helped} Your answers are kept.".lstrip())
    result.say(" ".join(lines), (*offers, Button("Back", "flow:back")))


def content_type_named(value: str) -> ContentType | None:
    """The content type whose value is ``value`` ("meditation"), or None."""
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


def ask_type(result: TurnResult, text: str) -> None:
    """Say ``text`` with a button per content type and one to go back."""
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
        return ask_type(result, "Which would you like to make?")
    flow["index"] = len(_stage_fields(result)) - 1
    _ask(result)


def summary(result: TurnResult, intro: str | None = None) -> None:
    """The answers so far, with buttons to create it or change any of them."""
    content_type = ContentType(result.flow["type"])
    lines = [
        f"Here's your {content_type.label}:",
        *summary_lines(content_type, result.flow["answers"]),
    ]
    if intro:
        lines.insert(0, intro)
    cost = result.flow.get("cost", 0)
    lines.append(
        f"Shall I create it? It costs {counted(cost, 'credit')}." if cost else "Shall I create it?"
    )
    buttons = (
        Button("Create it", "flow:confirm"),
        *(Button(f"Change {f.label.lower()}", f"edit:{f.name}") for f in all_fields(content_type)),
        *NAV_BUTTONS,
    )
    result.say("\n".join(lines), buttons)


def cancel(result: TurnResult) -> None:
    result.move(Event.CANCEL)
    result.context.pop("flow", None)
    result.say("Cancelled. Ask me anything, or start something new.", MENU_BUTTONS)


def stale(result: TurnResult, buttons: tuple[Button, ...]) -> None:
    """A pressed button from an earlier step: say so and offer the current ``buttons``."""
    result.move(Event.ANSWER if result.state not in _OPEN_STATES else Event.ASK)
    if not buttons:
        return result.say("That button belongs to an earlier step. Ask me anything!")
    result.say("That button belongs to an earlier step. Here are the current options.", buttons)


def _mentioned_field(content_type: ContentType, folded: str) -> str | None:
    names = {f.name for f in all_fields(content_type)} & reading.FIELD_WORDS.values(folded)
    return names.pop() if len(names) == 1 else None
