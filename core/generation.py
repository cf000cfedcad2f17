"""The two seams through which knowledge and text generation plug into the engine.

The engine only knows these protocols: a :class:`Retriever` finds passages of a bot's
material for a question, and a :class:`TextGenerator` writes an answer from them or
composes personalised content. Implementations (hybrid retrieval, Ollama, the grounded
composer) are chosen in ``create_app`` and handed to the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bots.profile import BotProfile
from core.flow import ContentType
from core.messages import Attachment, OutboundMessage, Source
from core.outbox import Address


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


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation, for context."""

    role: str  # "user" | "assistant"
    text: str


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """Everything a generator needs to answer a question grounded in passages."""

    bot: BotProfile
    question: str
    passages: Sequence[Passage]
    history: Sequence[Turn] = ()
    language: str | None = None
    # a rolling summary of the turns older than ``history``, kept by the caller
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer; its text cites ``sources`` as ``[n]``."""

    text: str
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class ContentRequest:
    """A confirmed request from the guided flow."""

    bot: BotProfile
    content_type: ContentType
    answers: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedContent:
    """Personalised content: a title and the script to read or listen to."""

    title: str
    text: str


class Retriever(Protocol):
    """Finds the passages of a bot's material that bear on a question."""

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]: ...


class TextGenerator(Protocol):
    """Writes answers from passages and composes personalised content.

    ``stream_answer`` yields the answer's text as it is written (deltas to concatenate),
    for channels that show or speak a reply while it grows; it carries no sources.
    ``uses_history`` says whether earlier turns improve its answers (a language model),
    so the engine loads them only for generators that read them.
    """

    @property
    def uses_history(self) -> bool: ...

    async def answer(self, request: AnswerRequest) -> Answer: ...

    def stream_answer(self, request: AnswerRequest) -> AsyncIterator[str]: ...

    async def compose(self, request: ContentRequest) -> GeneratedContent: ...


class CreatorTools(Protocol):
    """Commands only a bot's creator may use, and documents the creator sends."""

    names: frozenset[str]

    async def run(self, name: str, args: str, bot: BotProfile) -> list[OutboundMessage]: ...

    async def ingest(
        self, bot: BotProfile, attachment: Attachment, chat: Address
    ) -> list[OutboundMessage]:
        """Learn a document in the background, ``chat`` hearing how it goes; the replies
        to give now."""
        ...


class EmptyKnowledge:
    """The retriever for a server without a knowledge base: it never finds anything.

    The engine then tells the user honestly that the bot's material does not cover the
    question, rather than making an answer up.
    """

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        return []
