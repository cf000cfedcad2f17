"""The seam through which text generation plugs into the conversation.

The engine only knows this protocol: a :class:`TextGenerator` writes an answer from the
passages a :class:`~knowledge.passages.Retriever` found, or composes personalised
content. Implementations (a language model over Ollama, llama.cpp or an OpenAI-compatible
server, the grounded composer) are chosen in ``build_services`` and handed to the engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bots.profile import BotProfile
from core.content import ContentType
from core.messages import Source
from knowledge.passages import Passage


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
    # the earlier question a follow-up ("and how long?") continues, for generators that
    # read no history; empty when the question stands alone
    follows: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer; its text cites ``sources`` as ``[n]``."""

    text: str
    sources: tuple[Source, ...] = ()
    # True when the text quotes the passages word for word, and so is in their language
    # whatever the user's (the grounded composer); False when it is written for the
    # user, in their language (a language model)
    quoted: bool = False


class Quoted(str):
    """A delta of a streamed answer that quotes its passages word for word (the grounded
    composer's): how a stream says what :attr:`Answer.quoted` says of a whole answer."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ContentRequest:
    """A confirmed request from the guided flow."""

    bot: BotProfile
    content_type: ContentType
    answers: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    # what makes this request's piece its own when the answers are the same as another's
    # (the job's id): scripted content varies with it, and stays the same when remade
    variation: str = ""
    # how fast the voice will speak it, when it is to be recorded: scripts are timed by it
    words_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class GeneratedContent:
    """Personalised content: a title, the text to read, and what the voice says.

    ``spoken`` is the audio plan: the script with its silences as ``(pause N seconds)``
    lines; empty when the text itself is to be spoken as it is.
    """

    title: str
    text: str
    spoken: str = ""


class TextGenerator(Protocol):
    """Writes answers from passages and composes personalised content.

    ``stream_answer`` yields the answer's text as it is written (deltas to concatenate),
    for channels that show or speak a reply while it grows; it carries no sources, and
    its deltas are :class:`Quoted` when they quote the passages word for word.
    ``uses_history`` says whether earlier turns improve its answers (a language model),
    so the engine loads them only for generators that read them.
    """

    @property
    def uses_history(self) -> bool: ...

    async def answer(self, request: AnswerRequest) -> Answer: ...

    def stream_answer(self, request: AnswerRequest) -> AsyncIterator[str]: ...

    async def compose(self, request: ContentRequest) -> GeneratedContent: ...
