"""The conversation state machine: a declarative table, validated at import, and a pure step.

The table says which events each state accepts and where they lead. The engine decides
*which* event an inbound message is and performs the side effects around :func:`step`;
the table itself never touches storage or the network.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from core.errors import IllegalTransition, InvalidStateTable


class State(enum.StrEnum):
    """Where an end user's conversation is."""

    GREETING = "greeting"
    CHAT = "chat"
    INTENT_DISCOVERY = "intent_discovery"
    CONTEXT_GATHERING = "context_gathering"
    PRACTICE_DETAILS = "practice_details"
    CONFIRM = "confirm"
    GENERATING = "generating"
    DELIVERED = "delivered"
    PAYWALL = "paywall"
    HANDOFF = "handoff"


class Event(enum.StrEnum):
    """Something that happened in a conversation, as the engine classified it."""

    START = "start"  # /start: greet again
    ASK = "ask"  # a free-text question for the knowledge base
    CREATE = "create"  # the user wants personalised content
    CHOOSE = "choose"  # a content type was chosen
    ANSWER = "answer"  # an answer (or an unusable one) to the current question
    STAGE_DONE = "stage_done"  # the last question of a stage was answered
    REVISE = "revise"  # go back to an earlier question in the same stage
    BACK = "back"  # go back to the previous stage
    EDIT_CONTEXT = "edit_context"  # from the summary: change purpose, time or feeling
    EDIT_DETAILS = "edit_details"  # from the summary: change duration, pace or voice
    EDITED = "edited"  # a field changed from the summary was answered: back to the summary
    CONFIRM = "confirm"  # the summary was accepted
    NEED_CREDITS = "need_credits"  # confirmed, but the balance does not cover the cost
    PAID = "paid"  # a payment came in while on the paywall
    GENERATED = "generated"  # the content was produced
    FAILED = "failed"  # producing the content failed
    CANCEL = "cancel"  # /cancel or "cancel": leave whatever flow back to chat
    TAKEOVER = "takeover"  # the creator took over the conversation
    RELEASE = "release"  # the creator handed the conversation back


INITIAL_STATE = State.GREETING

_S, _E = State, Event

# Events every state except handoff accepts with the same meaning.
_EVERYWHERE: dict[Event, State] = {
    _E.START: _S.GREETING,
    _E.CANCEL: _S.CHAT,
    _E.TAKEOVER: _S.HANDOFF,
}

# Events of the "free" states, where a user can ask or start creating.
_OPEN: dict[Event, State] = {
    _E.ASK: _S.CHAT,
    _E.CREATE: _S.INTENT_DISCOVERY,
}

TRANSITIONS: Mapping[State, Mapping[Event, State]] = {
    _S.GREETING: {**_EVERYWHERE, **_OPEN, _E.CHOOSE: _S.CONTEXT_GATHERING},
    _S.CHAT: {**_EVERYWHERE, **_OPEN, _E.CHOOSE: _S.CONTEXT_GATHERING},
    _S.INTENT_DISCOVERY: {
        **_EVERYWHERE,
        _E.CHOOSE: _S.CONTEXT_GATHERING,
        _E.ANSWER: _S.INTENT_DISCOVERY,
        _E.BACK: _S.CHAT,
    },
    _S.CONTEXT_GATHERING: {
        **_EVERYWHERE,
        _E.ANSWER: _S.CONTEXT_GATHERING,
        _E.REVISE: _S.CONTEXT_GATHERING,
        _E.STAGE_DONE: _S.PRACTICE_DETAILS,
        _E.EDITED: _S.CONFIRM,
        _E.BACK: _S.INTENT_DISCOVERY,
    },
    _S.PRACTICE_DETAILS: {
        **_EVERYWHERE,
        _E.ANSWER: _S.PRACTICE_DETAILS,
        _E.REVISE: _S.PRACTICE_DETAILS,
        _E.STAGE_DONE: _S.CONFIRM,
        _E.EDITED: _S.CONFIRM,
        _E.BACK: _S.CONTEXT_GATHERING,
    },
    _S.CONFIRM: {
        **_EVERYWHERE,
        _E.ANSWER: _S.CONFIRM,
        _E.CONFIRM: _S.GENERATING,
        _E.NEED_CREDITS: _S.PAYWALL,
        _E.EDIT_CONTEXT: _S.CONTEXT_GATHERING,
        _E.EDIT_DETAILS: _S.PRACTICE_DETAILS,
        _E.BACK: _S.PRACTICE_DETAILS,
    },
    _S.GENERATING: {
        **_EVERYWHERE,
        _E.ANSWER: _S.GENERATING,
        _E.GENERATED: _S.DELIVERED,
        _E.FAILED: _S.CONFIRM,
    },
    _S.DELIVERED: {**_EVERYWHERE, **_OPEN, _E.CHOOSE: _S.CONTEXT_GATHERING},
    _S.PAYWALL: {
        **_EVERYWHERE,
        _E.ANSWER: _S.PAYWALL,
        _E.PAID: _S.GENERATING,
        _E.BACK: _S.CONFIRM,
    },
    _S.HANDOFF: {
        _E.ANSWER: _S.HANDOFF,
        _E.RELEASE: _S.CHAT,
    },
}


def step(state: State, event: Event) -> State:
    """Return the state that ``event`` leads to from ``state``; pure, no side effects.

    Raises :class:`IllegalTransition` (carrying both) when the table has no such move.
    """
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise IllegalTransition(state.value, event.value) from None


def accepts(state: State, event: Event) -> bool:
    """Whether ``state`` has a transition for ``event``."""
    return event in TRANSITIONS.get(state, {})


def validate(
    table: Mapping[State, Mapping[Event, State]], initial: State, states: frozenset[State]
) -> None:
    """Check the table's shape: every state has a row, all are reachable, none is a dead end.

    A dead end is a state from which the initial state cannot be reached again, so a
    conversation could get stuck there for ever.
    """
    problems: list[str] = []
    if initial not in states:
        problems.append(f"initial state {initial} is not a state")
    missing = states - table.keys()
    problems += [f"state {s} has no transitions" for s in sorted(missing)]
    for source, row in table.items():
        problems += [
            f"{source} --{event}--> {target}: unknown target"
            for event, target in row.items()
            if target not in states
        ]
    reachable = _closure(table, initial)
    problems += [f"state {s} is unreachable" for s in sorted(states - reachable)]
    reverse: dict[State, set[State]] = {}
    for source, row in table.items():
        for target in row.values():
            reverse.setdefault(target, set()).add(source)
    back_to_start = _closure(reverse, initial)
    problems += [f"state {s} is a dead end" for s in sorted(states - back_to_start)]
    if problems:
        raise InvalidStateTable(problems)


def _closure(
    graph: Mapping[State, Mapping[Event, State]] | Mapping[State, set[State]], start: State
) -> set[State]:
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        edges = graph.get(node, ())
        targets = edges.values() if isinstance(edges, Mapping) else edges
        for target in targets:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


validate(TRANSITIONS, INITIAL_STATE, frozenset(State))
