"""What a search of a bot's material returns, and the seam the conversation searches by.

A :class:`Retriever` finds the :class:`Passage` objects that bear on a question (the
hybrid retriever in :mod:`knowledge.retrieval`, or :class:`EmptyKnowledge` on a server
without a knowledge base); the conversation cites them as numbered sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.messages import Source


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of a creator's material that matched a question, with where it came from."""

    text: str
    title: str
    score: float
    document_id: str | None = None
    page: int | None = None
    section: str | None = None
    url: str | None = None

    def as_source(self, number: int) -> Source:
        """This passage as citation ``[number]``."""
        return Source(
            number=number,
            title=self.title,
            document_id=self.document_id,
            page=self.page,
            section=self.section,
            url=self.url,
            excerpt=self.text[:200],
        )


class Retriever(Protocol):
    """Finds the passages of a bot's material that bear on a question."""

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]: ...


class EmptyKnowledge:
    """The retriever for a server without a knowledge base: it never finds anything.

    The engine then tells the user honestly that the bot's material does not cover the
    question, rather than making an answer up.
    """

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        return []
