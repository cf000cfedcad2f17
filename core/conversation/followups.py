"""Follow-up questions, read against the question before them.

"And how long should I do it?" or "what about Russian?" says little on its own: the
retriever would find nothing, or the wrong thing. A follow-up is searched together with
the conversation's previous standalone question, which the dialogue keeps in the
conversation's context under :data:`TOPIC`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The context key holding the last standalone question the bot answered from knowledge.
TOPIC = "topic"
MAX_TOPIC_CHARS = 300
_MAX_FOLLOW_UP_WORDS = 9

_OPENING = re.compile(
    r"^(?:and|but|also|so|then|what about|how about|and what|and how|what if|what else|"
    r"same for|a |и |а |что насчёт|что насчет|как насчёт|как насчет|а если|"
    r"那|还有|那么|و|وماذا عن|ماذا عن)\b",
    re.I,
)
_REFERRING = re.compile(
    r"\b(?:it|its|that|this|these|those|they|them|there|one|ones|him|her|"
    r"его|её|ее|это|этот|эта|они|их|там)\b|它|这个|那个|他们|ذلك|هذا|هذه",
    re.I,
)
_ENDING = re.compile(r"(?:呢|吗)[?？]?$")


@dataclass(frozen=True, slots=True)
class ResolvedQuestion:
    """A question as searched: ``query`` for the retriever, and the earlier question a
    follow-up continues (``follows``, empty when it stands alone)."""

    question: str
    query: str
    follows: str = ""

    @property
    def topic(self) -> str:
        """What later follow-ups should be read against: the standalone question."""
        return self.follows or self.question


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on the one before it (short, and opening like a
    continuation or referring back with a pronoun)."""
    text = question.strip()
    words = text.split()
    if not words or len(words) > _MAX_FOLLOW_UP_WORDS:
        return bool(_OPENING.match(text)) and len(words) <= 2 * _MAX_FOLLOW_UP_WORDS
    return bool(_OPENING.match(text) or _REFERRING.search(text) or _ENDING.search(text))


def resolve(question: str, previous: str | None) -> ResolvedQuestion:
    """The question to search: a follow-up joined to the previous standalone question."""
    if previous and is_follow_up(question):
        return ResolvedQuestion(question, f"{previous} {question}", previous)
    return ResolvedQuestion(question, question)
