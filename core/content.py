"""The kinds of personalised content Chorus makes, and which one a message asks for.

Every layer names content by these values: prices are set per kind, the guided flow asks
the questions of a kind, language models and the composer write a kind's script.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class ContentType(enum.StrEnum):
    """The kinds of personalised content the guided flow creates."""

    MEDITATION = "meditation"
    AFFIRMATIONS = "affirmations"
    RITUAL = "ritual"

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    ContentType.MEDITATION: "guided meditation",
    ContentType.AFFIRMATIONS: "set of affirmations",
    ContentType.RITUAL: "ritual",
}

# the names of the content types; while choosing one, looser hints count too
_TYPE_NAMES: Mapping[ContentType, tuple[str, ...]] = {
    ContentType.MEDITATION: ("meditat",),
    ContentType.AFFIRMATIONS: ("affirm", "mantra"),
    ContentType.RITUAL: ("ritual",),
}
_TYPE_HINTS: Mapping[ContentType, tuple[str, ...]] = {
    ContentType.MEDITATION: ("breath", "mindful", "relax", "calm"),
    ContentType.AFFIRMATIONS: ("self-talk", "positive statement", "positive words"),
    ContentType.RITUAL: ("routine", "ceremony", "habit"),
}


def detect_content_type(text: str, *, hints: bool = True) -> ContentType | None:
    """The content type a free-text message asks for, if it names exactly one.

    With ``hints`` false only the types' own names count ("meditation", "ritual"), so a
    question about breathing in chat is not mistaken for a request for a meditation.
    """
    lowered = text.lower()
    found = {t for t, words in _TYPE_NAMES.items() if any(w in lowered for w in words)}
    if hints and not found:
        found = {t for t, words in _TYPE_HINTS.items() if any(w in lowered for w in words)}
    return found.pop() if len(found) == 1 else None
