"""The conversation state machine: the table's shape, every legal move and the illegal ones."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from core.conversation.statemachine import (
    INITIAL_STATE,
    TRANSITIONS,
    Event,
    State,
    accepts,
    step,
    validate,
)
from core.errors import IllegalTransition, InvalidStateTable

S, E = State, Event

LEGAL = [
    (state, event, target) for state, row in TRANSITIONS.items() for event, target in row.items()
]
ILLEGAL = [(state, event) for state in State for event in Event if event not in TRANSITIONS[state]]
NOT_HANDOFF = [s for s in State if s is not S.HANDOFF]


def _problems(
    table: Mapping[State, Mapping[Event, State]],
    states: frozenset[State],
    initial: State = S.GREETING,
) -> list[str]:
    with pytest.raises(InvalidStateTable) as caught:
        validate(table, initial, states)
    return caught.value.problems


# --- validate ------------------------------------------------------------------------------


def test_the_shipped_table_validates() -> None:
    validate(TRANSITIONS, INITIAL_STATE, frozenset(State))


def test_the_shipped_table_has_a_row_for_every_state() -> None:
    assert set(TRANSITIONS) == set(State)
    assert INITIAL_STATE is S.GREETING


def test_a_small_valid_table_validates() -> None:
    table = {S.GREETING: {E.ASK: S.CHAT}, S.CHAT: {E.START: S.GREETING}}
    validate(table, S.GREETING, frozenset({S.GREETING, S.CHAT}))


def test_validate_rejects_an_unreachable_state() -> None:
    table = {
        S.GREETING: {E.ASK: S.CHAT},
        S.CHAT: {E.START: S.GREETING},
        S.HANDOFF: {E.RELEASE: S.CHAT},  # nothing leads here
    }
    problems = _problems(table, frozenset({S.GREETING, S.CHAT, S.HANDOFF}))
    assert problems == ["state handoff is unreachable"]


def test_validate_rejects_a_dead_end_state() -> None:
    table = {
        S.GREETING: {E.ASK: S.CHAT, E.CREATE: S.INTENT_DISCOVERY},
        S.CHAT: {E.START: S.GREETING},
        S.INTENT_DISCOVERY: {E.ANSWER: S.INTENT_DISCOVERY},  # can never get back
    }
    problems = _problems(table, frozenset({S.GREETING, S.CHAT, S.INTENT_DISCOVERY}))
    assert problems == ["state intent_discovery is a dead end"]


def test_validate_rejects_a_state_without_a_row() -> None:
    table = {S.GREETING: {E.ASK: S.CHAT}}
    problems = _problems(table, frozenset({S.GREETING, S.CHAT}))
    assert "state chat has no transitions" in problems
    # with no row it cannot lead back either
    assert "state chat is a dead end" in problems


def test_validate_rejects_an_unknown_target() -> None:
    table = {
        S.GREETING: {E.ASK: S.CHAT, E.TAKEOVER: S.HANDOFF},
        S.CHAT: {E.START: S.GREETING},
    }
    problems = _problems(table, frozenset({S.GREETING, S.CHAT}))
    assert problems == ["greeting --takeover--> handoff: unknown target"]


def test_validate_rejects_an_initial_state_that_is_not_a_state() -> None:
    table = {S.CHAT: {E.ASK: S.CHAT}}
    problems = _problems(table, frozenset({S.CHAT}), initial=S.GREETING)
    assert "initial state greeting is not a state" in problems


def test_the_error_lists_every_problem() -> None:
    table = {
        S.GREETING: {E.ASK: S.CHAT, E.TAKEOVER: S.HANDOFF},
        S.CHAT: {E.START: S.GREETING, E.CREATE: S.INTENT_DISCOVERY},
        S.INTENT_DISCOVERY: {E.ANSWER: S.INTENT_DISCOVERY},
        S.PAYWALL: {E.BACK: S.GREETING},
    }
    states = frozenset({S.GREETING, S.CHAT, S.INTENT_DISCOVERY, S.PAYWALL, S.CONFIRM})
    with pytest.raises(InvalidStateTable) as caught:
        validate(table, S.GREETING, states)
    error = caught.value
    expected = {
        "state confirm has no transitions",
        "greeting --takeover--> handoff: unknown target",
        "state confirm is unreachable",
        "state paywall is unreachable",
        "state intent_discovery is a dead end",
        "state confirm is a dead end",
    }
    assert set(error.problems) == expected
    assert len(error.problems) == len(expected)
    message = str(error)
    assert message.startswith("invalid state table: ")
    for problem in expected:
        assert problem in message


# --- step and accepts ------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event", "target"), LEGAL, ids=[f"{s}-{e}" for s, e, _ in LEGAL])
def test_step_follows_the_table(state: State, event: Event, target: State) -> None:
    assert step(state, event) is target
    assert accepts(state, event)


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=[f"{s}-{e}" for s, e in ILLEGAL])
def test_an_illegal_move_raises_with_state_and_event(state: State, event: Event) -> None:
    assert not accepts(state, event)
    with pytest.raises(IllegalTransition) as caught:
        step(state, event)
    assert caught.value.state == state.value
    assert caught.value.event == event.value
    assert repr(event.value) in str(caught.value)
    assert repr(state.value) in str(caught.value)


def test_illegal_transition_is_a_chorus_error() -> None:
    from core.errors import ChorusError

    with pytest.raises(ChorusError):
        step(S.GREETING, E.PAID)


def test_there_are_both_legal_and_illegal_moves() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(State) * len(Event)
    assert LEGAL
    assert ILLEGAL


@pytest.mark.parametrize("state", NOT_HANDOFF, ids=str)
def test_start_cancel_and_takeover_work_everywhere_but_handoff(state: State) -> None:
    assert step(state, E.START) is S.GREETING
    assert step(state, E.CANCEL) is S.CHAT
    assert step(state, E.TAKEOVER) is S.HANDOFF


@pytest.mark.parametrize("event", [E.START, E.CANCEL, E.TAKEOVER], ids=str)
def test_handoff_ignores_start_cancel_and_takeover(event: Event) -> None:
    assert not accepts(S.HANDOFF, event)
    with pytest.raises(IllegalTransition):
        step(S.HANDOFF, event)


def test_handoff_only_leaves_by_release() -> None:
    exits = {event for event, target in TRANSITIONS[S.HANDOFF].items() if target is not S.HANDOFF}
    assert exits == {E.RELEASE}
    assert step(S.HANDOFF, E.RELEASE) is S.CHAT
    # anything the user says meanwhile keeps the creator in charge
    assert step(S.HANDOFF, E.ANSWER) is S.HANDOFF


def test_only_takeover_enters_handoff() -> None:
    entries = {
        event
        for state, row in TRANSITIONS.items()
        if state is not S.HANDOFF
        for event, target in row.items()
        if target is S.HANDOFF
    }
    assert entries == {E.TAKEOVER}


def test_accepts_a_few_examples() -> None:
    assert accepts(S.GREETING, E.ASK)
    assert accepts(S.CONFIRM, E.NEED_CREDITS)
    assert accepts(S.PAYWALL, E.PAID)
    assert not accepts(S.GREETING, E.CONFIRM)
    assert not accepts(S.CHAT, E.PAID)
    assert not accepts(S.HANDOFF, E.ASK)


def test_the_happy_path_of_a_guided_flow() -> None:
    state = INITIAL_STATE
    for event in (
        E.CREATE,
        E.CHOOSE,
        E.ANSWER,
        E.STAGE_DONE,
        E.ANSWER,
        E.STAGE_DONE,
        E.NEED_CREDITS,
        E.PAID,
        E.GENERATED,
    ):
        state = step(state, event)
    assert state is S.DELIVERED
