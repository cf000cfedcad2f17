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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.content import ContentType
from core.conversation import reading
from core.conversation.reading import Vocabulary, fold
from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Button

MIN_MINUTES = 3
MAX_MINUTES = 20


class Stage(enum.StrEnum):
    """The two question stages of the flow, named after their conversation states."""

    CONTEXT = "context_gathering"
    DETAILS = "practice_details"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The result of reading an answer: a value, or a reason it could not be used (in
    English; :meth:`explained` gives it in the user's language)."""

    value: Any = None
    problem: str | None = None
    # the problem's message before its placeholders were filled, and their values
    template: str | None = None
    params: Mapping[str, object] | None = None

    @classmethod
    def refused(cls, template: str, **params: object) -> Parsed:
        """A problem from a message with ``%(name)s`` placeholders."""
        return cls(problem=template % params, template=template, params=params)

    def explained(self, tr: Translator = ENGLISH) -> str | None:
        """The problem in ``tr``'s language."""
        if self.problem is None:
            return None
        if self.template is None:
            return tr.gettext(self.problem)
        return tr.gettext(self.template, **(self.params or {}))


class Display(Protocol):
    """How an answer is shown to the user (in the summary, "Now: ..."), in a language."""

    def __call__(self, value: Any, tr: Translator = ENGLISH, /) -> str: ...


class Reader(Protocol):
    """Reads one answer; ``language`` (the user's, when known) settles words that mean
    different things in different languages."""

    def __call__(self, text: str, language: str | None = None) -> Parsed: ...


@dataclass(frozen=True, slots=True)
class Field:
    """One thing the flow asks for; ``label``, ``question`` and the buttons' labels are
    English, translated where they are shown."""

    name: str
    label: str
    question: str
    parse: Reader
    display: Display
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
            return Parsed.refused(
                N_("Please keep it under %(limit)s characters."), limit=max_length
            )
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


_DURATION_HINT = N_("How many minutes, between %(low)s and %(high)s? For example: 10.")
_LIMITS = {"low": MIN_MINUTES, "high": MAX_MINUTES}


def parse_duration(text: str, language: str | None = None) -> Parsed:
    """Read a duration in minutes: "10", "10 min", "ten minutes", "a quarter of an hour",
    "diez minutos", "пять минут", "yarım saat"."""
    minutes = reading.read_minutes(text.strip().lower().removeprefix("duration:"), language)
    if minutes is None:
        return Parsed.refused(_DURATION_HINT, **_LIMITS)
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        return Parsed.refused(
            N_(
                "%(minutes)s minutes is outside what I can make: "
                "choose between %(low)s and %(high)s minutes."
            ),
            minutes=f"{minutes:g}",
            **_LIMITS,
        )
    return Parsed(round(minutes))


def _options(name: str, values: Mapping[str, str]) -> tuple[Button, ...]:
    return tuple(Button(label, f"{name}:{value}") for value, label in values.items())


def _words(known: Mapping[str, str]) -> Display:
    """Show an answer as the user gave it, translating the ones a button gave
    (``known``: stored value to its English words)."""

    def display(value: Any, tr: Translator = ENGLISH, /) -> str:
        text = str(value)
        return tr.gettext(known[text]) if text in known else text

    return display


PURPOSE = Field(
    name="purpose",
    label=N_("Purpose"),
    question=N_("What would you like it to help you with? Tell me in your own words or pick one."),
    parse=_free_text("purpose", N_("Tell me in a few words what you'd like it to help with.")),
    display=_words(
        {
            "sleeping better": N_("sleeping better"),
            "less stress": N_("less stress"),
            "focus": N_("focus"),
            "self-confidence": N_("self-confidence"),
        }
    ),
    free_text=True,
    options=_options(
        "purpose",
        {
            "sleeping_better": N_("Sleeping better"),
            "less_stress": N_("Less stress"),
            "focus": N_("Focus"),
            "self-confidence": N_("Self-confidence"),
        },
    ),
)

TIME_OF_DAY = Field(
    name="time_of_day",
    label=N_("Time of day"),
    question=N_("When will you use it?"),
    parse=_choice(
        "time_of_day", reading.TIMES, N_("Morning, midday, evening, bedtime, or any time?")
    ),
    display=_words(
        {
            "morning": N_("morning"),
            "midday": N_("midday"),
            "evening": N_("evening"),
            "bedtime": N_("bedtime"),
            "anytime": N_("any time"),
        }
    ),
    options=_options(
        "time_of_day",
        {
            "morning": N_("Morning"),
            "midday": N_("Midday"),
            "evening": N_("Evening"),
            "bedtime": N_("Bedtime"),
            "anytime": N_("Any time"),
        },
    ),
)

FEELING = Field(
    name="feeling",
    label=N_("Feeling now"),
    question=N_("How are you feeling at the moment?"),
    parse=_feeling(N_("A word or two is enough: for example anxious, tired or hopeful.")),
    display=_words(
        {
            "anxious": N_("anxious"),
            "stressed": N_("stressed"),
            "tired": N_("tired"),
            "restless": N_("restless"),
            "sad": N_("sad"),
            "angry": N_("angry"),
            "hopeful": N_("hopeful"),
            "calm": N_("calm"),
        }
    ),
    free_text=True,
    options=_options(
        "feeling",
        {
            "anxious": N_("Anxious"),
            "tired": N_("Tired"),
            "restless": N_("Restless"),
            "sad": N_("Low"),
            "hopeful": N_("Hopeful"),
            "calm": N_("Calm"),
        },
    ),
)


def _minutes(value: Any, tr: Translator = ENGLISH, /) -> str:
    return tr.ngettext("%(count)s minute", "%(count)s minutes", int(value))


DURATION = Field(
    name="duration",
    label=N_("Length"),
    # the numbers are MIN_MINUTES and MAX_MINUTES (tests hold them to it)
    question=N_("How long should it be? Anything from 3 to 20 minutes."),
    parse=parse_duration,
    display=_minutes,
    # whole labels, so that each number gets its own plural form
    options=(
        Button(N_("3 minutes"), "duration:3"),
        Button(N_("5 minutes"), "duration:5"),
        Button(N_("10 minutes"), "duration:10"),
        Button(N_("15 minutes"), "duration:15"),
        Button(N_("20 minutes"), "duration:20"),
    ),
)

PACE = Field(
    name="pace",
    label=N_("Pace"),
    question=N_("What pace suits you?"),
    parse=_choice("pace", reading.PACES, N_("Slow, moderate or lively?")),
    display=_words({"slow": N_("slow"), "moderate": N_("moderate"), "lively": N_("lively")}),
    options=_options(
        "pace", {"slow": N_("Slow"), "moderate": N_("Moderate"), "lively": N_("Lively")}
    ),
)

VOICE = Field(
    name="voice",
    label=N_("Voice"),
    question=N_("Would you like it as audio as well as text?"),
    parse=_choice("voice", reading.VOICE, N_("Audio and text, or text only?")),
    display=_words({"on": N_("audio and text"), "off": N_("text only")}),
    options=_options("voice", {"on": N_("Audio and text"), "off": N_("Text only")}),
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


def summary_lines(
    content_type: ContentType, answers: Mapping[str, Any], tr: Translator = ENGLISH
) -> list[str]:
    """One "Label: value" line per answered field, for the confirmation summary."""
    return [
        tr.gettext(
            "• %(label)s: %(value)s",
            label=tr.gettext(f.label),
            value=f.display(answers[f.name], tr),
        )
        for f in all_fields(content_type)
        if f.name in answers
    ]
