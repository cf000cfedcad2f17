"""The kinds of personalised content Chorus makes.

Every layer names content by these values: prices are set per kind, the guided flow asks
the questions of a kind, language models and the composer write a kind's script.
"""

from __future__ import annotations

import enum


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
