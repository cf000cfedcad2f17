"""The guided flow's fields: reading durations, choices and free text the user's own way."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from core.content import ContentType
from core.conversation import flow
from core.conversation.flow import (
    DURATION,
    FEELING,
    FIELDS,
    MAX_MINUTES,
    MIN_MINUTES,
    PACE,
    PURPOSE,
    STAGES,
    TIME_OF_DAY,
    VOICE,
    Field,
    Parsed,
    Stage,
    all_fields,
    parse_duration,
    stage_of,
    summary_lines,
)
from core.conversation.reading import content_type_in
from core.conversation.words import en

CHOICE_FIELDS = (TIME_OF_DAY, PACE, VOICE)
FREE_TEXT_FIELDS = (PURPOSE, FEELING)
SYNONYMS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    TIME_OF_DAY.name: en.LEXICON.times,
    PACE.name: en.LEXICON.paces,
    VOICE.name: en.LEXICON.voice,
}


def _ok(parsed: Parsed) -> object:
    assert parsed.problem is None, parsed.problem
    return parsed.value


def _problem(parsed: Parsed) -> str:
    assert parsed.value is None
    assert parsed.problem
    return parsed.problem


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("10", 10),
        ("10 min", 10),
        ("10 minutes", 10),
        ("  10 MINUTES  ", 10),
        ("ten minutes", 10),
        ("Ten", 10),
        ("three", 3),
        ("fifteen minutes please", 15),
        ("twenty", 20),
        ("a quarter of an hour", 15),
        ("quarter of an hour", 15),
        ("0.25 hours", 15),
        ("duration:5", 5),
        ("Duration:10", 10),
        ("duration:20", 20),
        ("3", MIN_MINUTES),
        ("20", MAX_MINUTES),
        ("7,5 minutes", 8),
    ],
)
def test_parse_duration_understands(text: str, minutes: int) -> None:
    value = _ok(parse_duration(text))
    assert value == minutes
    assert isinstance(value, int)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("2", "2 minutes"),
        ("25 minutes", "25 minutes"),
        ("twenty five", "25 minutes"),
        ("half an hour", "30 minutes"),
        ("an hour", "60 minutes"),
        ("1.5 hours", "90 minutes"),
        ("0", "0 minutes"),
    ],
)
def test_parse_duration_out_of_range_names_the_limits(text: str, said: str) -> None:
    problem = _problem(parse_duration(text))
    assert said in problem
    assert str(MIN_MINUTES) in problem
    assert str(MAX_MINUTES) in problem


@pytest.mark.parametrize("text", ["banana", "", "   ", "ten or fifteen", "a while", "duration:"])
def test_parse_duration_without_a_number_asks_again(text: str) -> None:
    problem = _problem(parse_duration(text))
    assert "How many minutes" in problem
    assert str(MIN_MINUTES) in problem
    assert str(MAX_MINUTES) in problem


def test_three_quarters_of_an_hour_is_not_a_quarter_of_an_hour() -> None:
    """BUG: any text with "quarter" is read as 15 minutes, so 45 minutes becomes 15."""
    parsed = parse_duration("three quarters of an hour")
    assert parsed.value != 15
    assert parsed.problem is not None
    assert "45 minutes" in parsed.problem


@pytest.mark.parametrize("button", DURATION.options, ids=lambda b: b.label)
def test_every_duration_button_parses_by_payload_and_by_label(button: flow.Button) -> None:
    minutes = int(button.payload.split(":", 1)[1])
    assert _ok(DURATION.parse(button.payload)) == minutes
    assert _ok(DURATION.parse(button.label)) == minutes
    assert DURATION.display(minutes) == f"{minutes} minutes"


# --- choice fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (TIME_OF_DAY, "morning", "morning"),
        (TIME_OF_DAY, "In the MORNING, after I wake up", "morning"),
        (TIME_OF_DAY, "at lunch", "midday"),
        (TIME_OF_DAY, "in the evening after dinner", "evening"),
        (TIME_OF_DAY, "late at night", "bedtime"),
        (TIME_OF_DAY, "before bed", "bedtime"),
        (TIME_OF_DAY, "any time", "anytime"),
        (TIME_OF_DAY, "it doesn't matter", "anytime"),
        (PACE, "slow please", "slow"),
        (PACE, "Moderate", "moderate"),
        (PACE, "something energetic", "lively"),
        (PACE, "gently", "slow"),
        (VOICE, "yes please", "on"),
        (VOICE, "I'd like to listen", "on"),
        (VOICE, "no thanks", "off"),
        (VOICE, "Text only", "off"),
        (VOICE, "no audio, just text", "off"),
        (VOICE, "audio and text", "on"),
    ],
)
def test_choice_fields_read_free_text(field: Field, text: str, value: str) -> None:
    assert _ok(field.parse(text)) == value


@pytest.mark.parametrize(
    ("field", "payload", "value"),
    [
        (TIME_OF_DAY, "time_of_day:bedtime", "bedtime"),
        (TIME_OF_DAY, "Time_Of_Day:Morning", "morning"),
        (PACE, "pace:slow", "slow"),
        (PACE, "  pace:lively  ", "lively"),
        (VOICE, "voice:on", "on"),
        (VOICE, "voice:off", "off"),
    ],
)
def test_choice_fields_read_button_payloads(field: Field, payload: str, value: str) -> None:
    assert _ok(field.parse(payload)) == value


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        (TIME_OF_DAY, "time_of_day:noon"),  # a synonym, but not a value
        (TIME_OF_DAY, "time_of_day:"),
        (PACE, "pace:turbo"),
        (VOICE, "voice:maybe"),
        (TIME_OF_DAY, "pace:slow"),  # another field's payload
        (VOICE, "time_of_day:morning"),
    ],
)
def test_choice_fields_reject_unknown_payloads(field: Field, payload: str) -> None:
    _problem(field.parse(payload))


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (TIME_OF_DAY, "I am anxious"),  # "am" is not a time of day
        (TIME_OF_DAY, "banana"),
        (TIME_OF_DAY, "morning or evening"),  # ambiguous
        (TIME_OF_DAY, "nope"),
        (TIME_OF_DAY, ""),
        (PACE, "I am anxious"),
        (PACE, "slow or fast, you choose"),
        (PACE, "in the morning"),
        (VOICE, "banana"),
        (VOICE, "in the morning"),
    ],
)
def test_choice_fields_reject_ambiguous_or_unrelated_text(field: Field, text: str) -> None:
    problem = _problem(field.parse(text))
    assert problem.endswith("?")


@pytest.mark.parametrize(
    ("field", "hint_word"), [(TIME_OF_DAY, "Morning"), (PACE, "Slow"), (VOICE, "Audio")]
)
def test_choice_field_hints_name_the_choices(field: Field, hint_word: str) -> None:
    assert hint_word in _problem(field.parse("banana"))


@pytest.mark.parametrize("field", CHOICE_FIELDS, ids=lambda f: f.name)
def test_every_choice_button_payload_parses_to_its_value(field: Field) -> None:
    assert field.options
    for button in field.options:
        name, value = button.payload.split(":", 1)
        assert name == field.name
        assert value in SYNONYMS[field.name]
        assert _ok(field.parse(button.payload)) == value


CHOICE_BUTTONS = [(f, b) for f in CHOICE_FIELDS for b in f.options]


@pytest.mark.parametrize(
    ("field", "button"), CHOICE_BUTTONS, ids=[f"{f.name}-{b.label}" for f, b in CHOICE_BUTTONS]
)
def test_typing_a_button_label_means_the_button(field: Field, button: flow.Button) -> None:
    """A user who types the label they see instead of pressing it gets the same value.

    BUG: VOICE's "Audio and text" mentions both "audio" (on) and "text" (off), so typing
    it is rejected as ambiguous.
    """
    assert field.parse(button.label) == field.parse(button.payload)


SYNONYM_CASES = [
    (field, value, synonym)
    for field in CHOICE_FIELDS
    for value, synonyms in SYNONYMS[field.name].items()
    for synonym in synonyms
]


@pytest.mark.parametrize(
    ("field", "value", "synonym"),
    SYNONYM_CASES,
    ids=[f"{f.name}-{s}" for f, _, s in SYNONYM_CASES],
)
def test_every_listed_synonym_is_understood_on_its_own(
    field: Field, value: str, synonym: str
) -> None:
    """BUG: "after work" (evening) also contains "work" (midday) and "all day" (anytime)
    also contains "day" (midday), so both are always rejected as ambiguous."""
    assert field.parse(synonym) == Parsed(value)


def test_choice_displays() -> None:
    assert TIME_OF_DAY.display("anytime") == "any time"
    assert TIME_OF_DAY.display("morning") == "morning"
    assert VOICE.display("on") == "audio and text"
    assert VOICE.display("off") == "text only"
    assert PACE.display("slow") == "slow"


# --- free-text fields ------------------------------------------------------------------------


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("to sleep better", "to sleep better"),
        ("  I feel   tired\n today ", "I feel tired today"),
        ("ok", "ok"),
        ("anxious!", "anxious!"),
    ],
)
def test_free_text_fields_keep_the_users_words(field: Field, text: str, value: str) -> None:
    assert field.free_text
    assert _ok(field.parse(text)) == value


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS, ids=lambda f: f.name)
@pytest.mark.parametrize("text", ["", "   ", "a", "!!", "?!?", "...", "42", "12 34", " - "])
def test_free_text_fields_reject_empty_or_punctuation_only(field: Field, text: str) -> None:
    _problem(field.parse(text))


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS, ids=lambda f: f.name)
def test_free_text_fields_reject_overlong_answers(field: Field) -> None:
    assert _ok(field.parse("x" * 300)) == "x" * 300
    problem = _problem(field.parse("x" * 301))
    assert "300" in problem
    # whitespace is collapsed before measuring
    assert _ok(field.parse("ab " + " " * 400 + "cd")) == "ab cd"


@pytest.mark.parametrize("field", FREE_TEXT_FIELDS, ids=lambda f: f.name)
def test_free_text_button_payloads_become_words(field: Field) -> None:
    assert field.options
    for button in field.options:
        value = button.payload.split(":", 1)[1].replace("_", " ")
        assert _ok(field.parse(button.payload)) == value
    _problem(field.parse(f"{field.name}:"))


def test_purpose_button_payload_is_read_as_words() -> None:
    assert _ok(PURPOSE.parse("purpose:sleeping_better")) == "sleeping better"
    assert _ok(FEELING.parse("feeling:sad")) == "sad"


def test_a_typed_field_prefix_leaves_no_leading_space() -> None:
    """BUG: "Purpose: to sleep better" keeps the space after the colon (" to sleep better")."""
    assert _ok(PURPOSE.parse("Purpose: to sleep better")) == "to sleep better"


def test_choice_fields_are_not_free_text() -> None:
    for field in (TIME_OF_DAY, DURATION, PACE, VOICE):
        assert not field.free_text


# --- content types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ("I'd like a guided meditation", ContentType.MEDITATION),
        ("Meditation", ContentType.MEDITATION),
        ("something to help me relax", ContentType.MEDITATION),
        ("a breathing exercise", ContentType.MEDITATION),
        ("some AFFIRMATIONS please", ContentType.AFFIRMATIONS),
        ("a mantra", ContentType.AFFIRMATIONS),
        ("a morning routine", ContentType.RITUAL),
        ("a ritual", ContentType.RITUAL),
        ("hello there", None),
        ("", None),
        ("a breathing ritual", ContentType.RITUAL),  # a named type wins over a hint
        ("meditation or affirmations?", None),
    ],
)
def test_detect_content_type(text: str, content_type: ContentType | None) -> None:
    assert content_type_in(text) is content_type


def test_content_type_labels() -> None:
    assert ContentType.MEDITATION.label == "guided meditation"
    assert ContentType.AFFIRMATIONS.label == "set of affirmations"
    assert ContentType.RITUAL.label == "ritual"


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
def test_every_content_type_asks_for_the_essentials(content_type: ContentType) -> None:
    names = [f.name for f in all_fields(content_type)]
    assert {"purpose", "time_of_day", "feeling", "duration", "voice"} <= set(names)
    assert len(names) == len(set(names))
    assert set(STAGES[content_type]) == {Stage.CONTEXT, Stage.DETAILS}
    for field in all_fields(content_type):
        assert FIELDS[field.name] is field
        assert field.question
        assert field.label


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
def test_the_stages_split_context_from_details(content_type: ContentType) -> None:
    context = {f.name for f in STAGES[content_type][Stage.CONTEXT]}
    details = {f.name for f in STAGES[content_type][Stage.DETAILS]}
    assert context == {"purpose", "time_of_day", "feeling"}
    assert {"duration", "voice"} <= details <= {"duration", "pace", "voice"}


def test_all_fields_keeps_the_order_they_are_asked() -> None:
    assert [f.name for f in all_fields(ContentType.MEDITATION)] == [
        "purpose",
        "time_of_day",
        "feeling",
        "duration",
        "pace",
        "voice",
    ]
    assert [f.name for f in all_fields(ContentType.AFFIRMATIONS)] == [
        "purpose",
        "feeling",
        "time_of_day",
        "duration",
        "pace",
        "voice",
    ]
    assert [f.name for f in all_fields(ContentType.RITUAL)] == [
        "purpose",
        "time_of_day",
        "feeling",
        "duration",
        "voice",
    ]


@pytest.mark.parametrize(
    ("content_type", "field_name", "stage"),
    [
        (ContentType.MEDITATION, "purpose", Stage.CONTEXT),
        (ContentType.MEDITATION, "feeling", Stage.CONTEXT),
        (ContentType.MEDITATION, "duration", Stage.DETAILS),
        (ContentType.MEDITATION, "pace", Stage.DETAILS),
        (ContentType.AFFIRMATIONS, "time_of_day", Stage.CONTEXT),
        (ContentType.RITUAL, "voice", Stage.DETAILS),
        (ContentType.RITUAL, "pace", None),  # a ritual has no pace
        (ContentType.MEDITATION, "colour", None),
    ],
)
def test_stage_of(content_type: ContentType, field_name: str, stage: Stage | None) -> None:
    assert stage_of(content_type, field_name) is stage


def test_stages_are_named_after_their_conversation_states() -> None:
    from core.conversation.statemachine import State

    assert State(Stage.CONTEXT.value) is State.CONTEXT_GATHERING
    assert State(Stage.DETAILS.value) is State.PRACTICE_DETAILS


def test_summary_lines_in_asking_order_with_displayed_values() -> None:
    answers = {
        "voice": "on",
        "pace": "slow",
        "duration": 10,
        "feeling": "tired",
        "time_of_day": "anytime",
        "purpose": "sleep better",
    }
    assert summary_lines(ContentType.MEDITATION, answers) == [
        "• Purpose: sleep better",
        "• Time of day: any time",
        "• Feeling now: tired",
        "• Length: 10 minutes",
        "• Pace: slow",
        "• Voice: audio and text",
    ]


def test_summary_lines_skip_unanswered_and_foreign_fields() -> None:
    answers = {"purpose": "focus", "pace": "lively", "voice": "off", "colour": "blue"}
    assert summary_lines(ContentType.RITUAL, answers) == [
        "• Purpose: focus",
        "• Voice: text only",
    ]
    assert summary_lines(ContentType.MEDITATION, {}) == []
