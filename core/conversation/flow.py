"""What the guided creation flow asks for, and how free-text answers are understood.

Each content type (guided meditation, affirmations, ritual) lists the fields it needs in
two stages: context (purpose, time of day, feeling) and practice details (duration, pace,
voice). A field knows its question, its quick-reply buttons and how to read an answer
typed in the user's own words, so "ten minutes", "10 min" and pressing "10 minutes" all
mean the same thing, in any shipped language ("diez minutos", "перед сном"): the words
are in :mod:`core.conversation.words` and :mod:`core.conversation.reading` reads them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.content import ContentType
from core.conversation import reading
from core.conversation.reading import Vocabulary, fold
from core.messages import Button

MIN_MINUTES = 3
MAX_MINUTES = 20


class Stage(enum.StrEnum):
    """The two question stages of the flow, named after their conversation states."""

    CONTEXT = "context_gathering"
    DETAILS = "practice_details"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The result of reading an answer: a value, or a reason it could not be used."""

    value: Any = None
    problem: str | None = None


class Reader(Protocol):
    """Reads one answer; ``language`` (the user's, when known) settles words that mean
    different things in different languages."""

    def __call__(self, text: str, language: str | None = None) -> Parsed: ...


@dataclass(frozen=True, slots=True)
class Field:
    """One thing the flow asks for."""

    name: str
    label: str
    question: str
    parse: Reader
    display: Callable[[Any], str]
    options: tuple[Button, ...] = ()
    free_text: bool = False  # any words are a valid answer, so never guess it from a remark


def _choice(name: str, vocabulary: Vocabulary, hint: str) -> Reader:
    def parse(text: str, language: str | None = None) -> Parsed:
        lowered = text.strip().lower()
        if lowered.startswith(f"{name}:"):
            value = lowered.split(":", 1)[1]
            return Parsed(value) if value in vocabulary.canonical else Parsed(problem=hint)
        # the longest phrase mentioned wins: "audio and text" is "on", not "text" (off)
        chosen = vocabulary.choose(fold(text), language)
        return Parsed(chosen) if chosen is not None else Parsed(problem=hint)

    return parse


def _free_text(name: str, hint: str, max_length: int = 300) -> Reader:
    def parse(text: str, language: str | None = None) -> Parsed:
        cleaned = " ".join(text.split())
        if cleaned.lower().startswith(f"{name}:"):
            cleaned = cleaned.split(":", 1)[1].replace("_", " ").strip()
        if len(cleaned) < 2 or not any(c.isalpha() for c in cleaned):
            return Parsed(problem=hint)
        if len(cleaned) > max_length:
            return Parsed(problem=f"Please keep it under {max_length} characters.")
        return Parsed(cleaned)

    return parse


def _feeling(hint: str) -> Reader:
    words = _free_text("feeling", hint)

    def parse(text: str, language: str | None = None) -> Parsed:
        parsed = words(text)
        if parsed.problem is not None or text.strip().lower().startswith("feeling:"):
            return parsed
        # "me siento ansioso" is stored as "anxious", which every layer reads
        return Parsed(reading.read_feeling(text, language) or parsed.value)

    return parse


_DURATION_HINT = f"How many minutes, between {MIN_MINUTES} and {MAX_MINUTES}? For example: 10."


def parse_duration(text: str, language: str | None = None) -> Parsed:
    """Read a duration in minutes: "10", "10 min", "ten minutes", "a quarter of an hour",
    "diez minutos", "пять минут", "yarım saat"."""
    minutes = reading.read_minutes(text.strip().lower().removeprefix("duration:"), language)
    if minutes is None:
        return Parsed(problem=_DURATION_HINT)
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        return Parsed(
            problem=f"{minutes:g} minutes is outside what I can make: "
            f"choose between {MIN_MINUTES} and {MAX_MINUTES} minutes."
        )
    return Parsed(round(minutes))


def _options(name: str, values: Mapping[str, str]) -> tuple[Button, ...]:
    return tuple(Button(label, f"{name}:{value}") for value, label in values.items())


PURPOSE = Field(
    name="purpose",
    label="Purpose",
    question="What would you like it to help you with? Tell me in your own words or pick one.",
    parse=_free_text("purpose", "Tell me in a few words what you'd like it to help with."),
    display=str,
    free_text=True,
    options=_options(
        "purpose",
        {
            "sleeping_better": "Sleeping better",
            "less_stress": "Less stress",
            "focus": "Focus",
            "self-confidence": "Self-confidence",
        },
    ),
)

TIME_OF_DAY = Field(
    name="time_of_day",
    label="Time of day",
    question="When will you use it?",
    parse=_choice("time_of_day", reading.TIMES, "Morning, midday, evening, bedtime, or any time?"),
    display=lambda v: "any time" if v == "anytime" else str(v),
    options=_options(
        "time_of_day",
        {
            "morning": "Morning",
            "midday": "Midday",
            "evening": "Evening",
            "bedtime": "Bedtime",
            "anytime": "Any time",
        },
    ),
)

FEELING = Field(
    name="feeling",
    label="Feeling now",
    question="How are you feeling at the moment?",
    parse=_feeling("A word or two is enough: for example anxious, tired or hopeful."),
    display=str,
    free_text=True,
    options=_options(
        "feeling",
        {
            "anxious": "Anxious",
            "tired": "Tired",
            "restless": "Restless",
            "sad": "Low",
            "hopeful": "Hopeful",
            "calm": "Calm",
        },
    ),
)

DURATION = Field(
    name="duration",
    label="Length",
    question=f"How long should it be? Anything from {MIN_MINUTES} to {MAX_MINUTES} minutes.",
    parse=parse_duration,
    display=lambda v: f"{v} minutes",
    options=tuple(Button(f"{m} minutes", f"duration:{m}") for m in (3, 5, 10, 15, 20)),
)

PACE = Field(
    name="pace",
    label="Pace",
    question="What pace suits you?",
    parse=_choice("pace", reading.PACES, "Slow, moderate or lively?"),
    display=str,
    options=_options("pace", {"slow": "Slow", "moderate": "Moderate", "lively": "Lively"}),
)

VOICE = Field(
    name="voice",
    label="Voice",
    question="Would you like it as audio as well as text?",
    parse=_choice("voice", reading.VOICE, "Audio and text, or text only?"),
    display=lambda v: "audio and text" if v == "on" else "text only",
    options=_options("voice", {"on": "Audio and text", "off": "Text only"}),
)

FIELDS: Mapping[str, Field] = {
    f.name: f for f in (PURPOSE, TIME_OF_DAY, FEELING, DURATION, PACE, VOICE)
}

STAGES: Mapping[ContentType, Mapping[Stage, tuple[Field, ...]]] = {
    ContentType.MEDITATION: {
        Stage.CONTEXT: (PURPOSE, TIME_OF_DAY, FEELING),
        Stage.DETAILS: (DURATION, PACE, VOICE),
    },
    ContentType.AFFIRMATIONS: {
        Stage.CONTEXT: (PURPOSE, FEELING, TIME_OF_DAY),
        Stage.DETAILS: (DURATION, PACE, VOICE),
    },
    ContentType.RITUAL: {
        Stage.CONTEXT: (PURPOSE, TIME_OF_DAY, FEELING),
        Stage.DETAILS: (DURATION, VOICE),
    },
}


def stage_of(content_type: ContentType, field_name: str) -> Stage | None:
    """Which stage of ``content_type`` asks for ``field_name``."""
    for stage, fields in STAGES[content_type].items():
        if any(f.name == field_name for f in fields):
            return stage
    return None


def all_fields(content_type: ContentType) -> tuple[Field, ...]:
    """Every field of a content type, in the order they are asked."""
    return STAGES[content_type][Stage.CONTEXT] + STAGES[content_type][Stage.DETAILS]


def summary_lines(content_type: ContentType, answers: Mapping[str, Any]) -> list[str]:
    """One "Label: value" line per answered field, for the confirmation summary."""
    return [
        f"• {f.label}: {f.display(answers[f.name])}"
        for f in all_fields(content_type)
        if f.name in answers
    ]
