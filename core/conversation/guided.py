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
from core.i18n.translator import N_, Translator
from core.messages import Button, OutboundKind

# button labels are translated where they are shown (:func:`labelled`); payloads never are
BACK = Button(N_("Back"), "flow:back")
NAV_BUTTONS = (BACK, Button(N_("Cancel"), "flow:cancel"))
MENU_BUTTONS = (
    Button(N_("Ask a question"), "flow:ask"),
    Button(N_("Guided meditation"), "type:meditation"),
    Button(N_("Affirmations"), "type:affirmations"),
    Button(N_("Ritual"), "type:ritual"),
)
TYPE_BUTTONS = MENU_BUTTONS[1:]
_OPEN_STATES = frozenset({State.GREETING, State.CHAT, State.DELIVERED})

# Sentences about the content being made, one per type: a translated type name put into
# a translated frame would be wrong in languages with genders and cases.
_BEGIN = {
    ContentType.MEDITATION: N_(
        "Lovely, let's make your guided meditation. A few quick questions first; "
        'say "back" to change an answer or "cancel" to stop.'
    ),
    ContentType.AFFIRMATIONS: N_(
        "Lovely, let's make your set of affirmations. A few quick questions first; "
        'say "back" to change an answer or "cancel" to stop.'
    ),
    ContentType.RITUAL: N_(
        "Lovely, let's make your ritual. A few quick questions first; "
        'say "back" to change an answer or "cancel" to stop.'
    ),
}
_WRITING = {
    ContentType.MEDITATION: N_("Writing your guided meditation…"),
    ContentType.AFFIRMATIONS: N_("Writing your set of affirmations…"),
    ContentType.RITUAL: N_("Writing your ritual…"),
}
_HERE = {
    ContentType.MEDITATION: N_("Here's your guided meditation:"),
    ContentType.AFFIRMATIONS: N_("Here's your set of affirmations:"),
    ContentType.RITUAL: N_("Here's your ritual:"),
}
_CHANGE = {
    "purpose": N_("Change purpose"),
    "time_of_day": N_("Change time of day"),
    "feeling": N_("Change feeling now"),
    "duration": N_("Change length"),
    "pace": N_("Change pace"),
    "voice": N_("Change voice"),
}


def labelled(tr: Translator, buttons: tuple[Button, ...]) -> tuple[Button, ...]:
    """``buttons`` with their labels in ``tr``'s language (payloads and links as they are)."""
    return tuple(replace(b, label=tr.gettext(b.label)) for b in buttons)


def menu(bot: BotProfile, tr: Translator) -> tuple[Button, ...]:
    """The main menu's buttons: none where the creator switched guided creation off
    (asking is then all there is, and needs no button)."""
    return labelled(tr, MENU_BUTTONS) if bot.features.create else ()


def not_offered(bot: BotProfile, tr: Translator) -> str:
    """What a user who asks to make something hears where guided creation is off."""
    return tr.gettext(
        "%(bot)s doesn't make meditations, affirmations or rituals. Ask me anything "
        "about its material instead.",
        bot=bot.name,
    )


def costs(tr: Translator, content_type: ContentType, cost: int, balance: int) -> str:
    """``Your guided meditation costs 3 credits and you have 1.``"""
    if content_type is ContentType.MEDITATION:
        return tr.ngettext(
            "Your guided meditation costs %(count)s credit and you have %(balance)s.",
            "Your guided meditation costs %(count)s credits and you have %(balance)s.",
            cost,
            balance=tr.number(balance),
        )
    if content_type is ContentType.AFFIRMATIONS:
        return tr.ngettext(
            "Your set of affirmations costs %(count)s credit and you have %(balance)s.",
            "Your set of affirmations costs %(count)s credits and you have %(balance)s.",
            cost,
            balance=tr.number(balance),
        )
    return tr.ngettext(
        "Your ritual costs %(count)s credit and you have %(balance)s.",
        "Your ritual costs %(count)s credits and you have %(balance)s.",
        cost,
        balance=tr.number(balance),
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
    result.say(result.tr.gettext(_BEGIN[content_type]))
    _ask(result)


async def choose_type(turn: TurnInput, entry: str, result: TurnResult) -> None:
    """``intent_discovery``: the user says (or presses) what to make, goes back or cancels."""
    chosen = content_type_named(entry.removeprefix("type:")) or reading.content_type_in(entry)
    if chosen is not None:
        return begin(chosen, result, turn.bot.pricing.cost(chosen))
    if entry == "flow:back" or reading.is_back(entry):
        result.move(Event.BACK)
        return result.say(
            result.tr.gettext("No problem. Ask me anything, or say what you'd like to make."),
            labelled(result.tr, MENU_BUTTONS),
        )
    if entry == "flow:cancel" or reading.is_cancel(entry):
        return cancel(result)
    result.move(Event.ANSWER)
    ask_type(
        result,
        result.tr.gettext(
            "I can make a guided meditation, a set of affirmations or a ritual. "
            "Which would you like?"
        ),
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
        return stale(result, _question_buttons(current, result.tr))
    parsed = current.parse(entry, turn.language)
    if parsed.problem is not None:
        result.move(Event.ANSWER)
        return _ask(result, problem=parsed.explained(result.tr))
    flow["answers"] = {**flow["answers"], current.name: parsed.value}
    if flow["editing"]:
        flow["editing"] = False
        result.move(Event.EDITED)
        return summary(result, intro=result.tr.gettext("Updated."))
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
                return summary(result, intro=result.tr.gettext("Updated."))
    stage = stage_of(content_type, target) if target else None
    if target is None or stage is None:
        result.move(Event.ANSWER)
        return summary(
            result,
            intro=result.tr.gettext("Shall I create it? Press Create, or tell me what to change."),
        )
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
    result.say(result.tr.gettext(_WRITING[content_type]), kind=OutboundKind.PROGRESS)
    return True


async def resume_paid(turn: TurnInput, result: TurnResult) -> None:
    """Credits arrived: if the user was on the paywall, create what they confirmed."""
    if result.state is not State.PAYWALL or "flow" not in result.context:
        return
    if not await start_job(turn, result, Event.PAID):
        result.move(Event.ANSWER)
        paywall(turn, result, intro=result.tr.gettext("That's still not enough."))


def paywall(turn: TurnInput, result: TurnResult, intro: str) -> None:
    """What the content costs against the user's balance, with a button per offer."""
    tr = result.tr
    content_type = ContentType(result.flow["type"])
    cost = turn.bot.pricing.cost(content_type.value)
    balance = result.flow.get("balance", 0)
    offers = turn.wallet.offers() if turn.wallet is not None else ()
    lines = [intro] if intro else []
    lines.append(costs(tr, content_type, cost, balance))
    if offers:
        lines.append(
            tr.gettext(
                "Buy credits and I'll create it as soon as the payment is through; "
                "your answers are kept."
            )
        )
    else:
        if turn.wallet is not None:
            lines.append(turn.wallet.help())
        lines.append(tr.gettext("Your answers are kept."))
    result.say(" ".join(lines), (*offers, *labelled(tr, (BACK,))))


def content_type_named(value: str) -> ContentType | None:
    """The content type whose value is ``value`` ("meditation"), or None."""
    try:
        return ContentType(value)
    except ValueError:
        return None


def _stage_fields(result: TurnResult) -> tuple[Field, ...]:
    return STAGES[ContentType(result.flow["type"])][Stage(result.state.value)]


def _question_buttons(current: Field, tr: Translator) -> tuple[Button, ...]:
    return labelled(tr, current.options + NAV_BUTTONS)


def _ask(result: TurnResult, problem: str | None = None) -> None:
    tr = result.tr
    current = _stage_fields(result)[result.flow["index"]]
    text = tr.gettext(current.question)
    if current.name in result.flow["answers"]:
        now = current.display(result.flow["answers"][current.name], tr)
        text = tr.gettext("%(question)s (Now: %(answer)s.)", question=text, answer=now)
    if problem:
        text = f"{problem}\n{text}"
    result.say(text, _question_buttons(current, tr))


def ask_type(result: TurnResult, text: str) -> None:
    """Say ``text`` with a button per content type and one to go back."""
    result.say(text, labelled(result.tr, (*TYPE_BUTTONS, BACK)))


def _go_back(result: TurnResult) -> None:
    flow = result.flow
    flow["editing"] = False
    if flow["index"] > 0:
        flow["index"] -= 1
        result.move(Event.REVISE)
        return _ask(result)
    result.move(Event.BACK)
    if result.state is State.INTENT_DISCOVERY:
        return ask_type(result, result.tr.gettext("Which would you like to make?"))
    flow["index"] = len(_stage_fields(result)) - 1
    _ask(result)


def summary(result: TurnResult, intro: str | None = None) -> None:
    """The answers so far, with buttons to create it or change any of them."""
    tr = result.tr
    content_type = ContentType(result.flow["type"])
    lines = [
        tr.gettext(_HERE[content_type]),
        *summary_lines(content_type, result.flow["answers"], tr),
    ]
    if intro:
        lines.insert(0, intro)
    cost = result.flow.get("cost", 0)
    lines.append(
        tr.ngettext(
            "Shall I create it? It costs %(count)s credit.",
            "Shall I create it? It costs %(count)s credits.",
            cost,
        )
        if cost
        else tr.gettext("Shall I create it?")
    )
    buttons = (
        Button(N_("Create it"), "flow:confirm"),
        *(Button(_CHANGE[f.name], f"edit:{f.name}") for f in all_fields(content_type)),
        *NAV_BUTTONS,
    )
    result.say("\n".join(lines), labelled(tr, buttons))


def cancel(result: TurnResult) -> None:
    result.move(Event.CANCEL)
    result.context.pop("flow", None)
    result.say(
        result.tr.gettext("Cancelled. Ask me anything, or start something new."),
        labelled(result.tr, MENU_BUTTONS),
    )


def stale(result: TurnResult, buttons: tuple[Button, ...]) -> None:
    """A pressed button from an earlier step: say so and offer the current ``buttons``
    (already in the user's language)."""
    result.move(Event.ANSWER if result.state not in _OPEN_STATES else Event.ASK)
    if not buttons:
        return result.say(
            result.tr.gettext("That button belongs to an earlier step. Ask me anything!")
        )
    result.say(
        result.tr.gettext("That button belongs to an earlier step. Here are the current options."),
        buttons,
    )


def _mentioned_field(content_type: ContentType, folded: str) -> str | None:
    names = {f.name for f in all_fields(content_type)} & reading.FIELD_WORDS.values(folded)
    return names.pop() if len(names) == 1 else None
