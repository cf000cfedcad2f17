"""The shape of one language's words for the guided flow.

A :class:`Lexicon` holds what a language says for each answer the flow reads: number words
num2words does not write, fractions of an hour, units, times of day, feelings, paces, yes
and no to audio, navigation (confirm, back, cancel), the content types and the verbs that
ask for one. Terms are written as people type them; :mod:`core.conversation.reading`
folds them (case, accents, Turkish dotless i) the same way it folds a message. A term
ending in ``*`` is a stem and matches any word it begins ("minut*": minute, minutos,
минуты is "минут*"); any other term matches whole words only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.content import ContentType

Terms = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's words for the answers the guided flow reads, by canonical value."""

    language: str  # ISO 639-1, as num2words and TurnInput.language name it
    # number words beyond num2words' own (feminine and case forms, "a couple")
    numbers: Mapping[str, int]
    # phrases that are a length by themselves, in minutes ("half an hour": 30)
    fractions: Mapping[str, int]
    minute_units: Terms
    hour_units: Terms
    # canonical value -> terms, for the choice fields and the feeling
    times: Mapping[str, Terms]
    feelings: Mapping[str, Terms]
    paces: Mapping[str, Terms]
    voice: Mapping[str, Terms]
    # whole-message navigation: the message is nothing but these phrases (and polite ones)
    confirm: Terms
    back: Terms
    cancel: Terms
    polite: Terms
    # the content types' own names, and looser hints that count while choosing one
    content_names: Mapping[ContentType, Terms]
    content_hints: Mapping[ContentType, Terms]
    # asking for something ("make me…", "quiero…") and asking a question ("what…")
    create_verbs: Terms
    question_words: Terms
    # words that name a field in "change the length", and the verbs of such a change
    field_words: Mapping[str, Terms] = field(default_factory=dict)
    edit_verbs: Terms = ()
