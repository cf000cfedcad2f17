"""What every chat-model generator shares: prompts in, deltas out, citations and scripts
checked. Subclasses only say how to stream a reply (Ollama over HTTP, llama.cpp
in-process)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence

from core.errors import GeneratorUnavailable
from core.generation.citations import cite
from core.generation.prompt import MOST_WORDS, ChatMessage, PromptBuilder, read_script, script_words
from core.generation.scripts import brief
from core.generation.seams import (
    Answer,
    AnswerRequest,
    ContentRequest,
    GeneratedContent,
)

#: Most tokens the model may write for an answer, and for the longest script.
ANSWER_TOKENS = 512
SCRIPT_TOKENS = 4096
#: Tokens a script may take per word of its budget (words, spaces, punctuation, and the
#: pause lines), and for its title.
TOKENS_PER_WORD = 2.0
TITLE_TOKENS = 64


class ChatModelGenerator(abc.ABC):
    """A :class:`~core.generation.seams.TextGenerator` on a chat model; ``name`` names the
    model in errors and logs."""

    uses_history = True  # recent turns and a summary of older ones go into the prompt
    name: str

    def __init__(self, prompts: PromptBuilder | None = None) -> None:
        self._prompts = prompts or PromptBuilder()

    async def answer(self, request: AnswerRequest) -> Answer:
        """The model's answer from the request's passages, with the sources it cites."""
        prompt = self._prompts.answer(request)
        text = "".join([d async for d in self._deltas(prompt.messages, ANSWER_TOKENS)])
        text, sources = cite(text, prompt.passages)
        if not text:
            raise GeneratorUnavailable(self.name, "the model wrote an empty answer")
        return Answer(text=text, sources=sources)

    async def stream_answer(self, request: AnswerRequest) -> AsyncIterator[str]:
        """The model's answer as it is written, delta by delta, citations unchecked."""
        prompt = self._prompts.answer(request)
        async for delta in self._deltas(prompt.messages, ANSWER_TOKENS):
            yield delta

    async def compose(self, request: ContentRequest) -> GeneratedContent:
        """A script written by the model, checked to follow the ``(pause N seconds)`` form."""
        messages = self._prompts.content(request)
        most = script_words(brief(request)) * MOST_WORDS * TOKENS_PER_WORD + TITLE_TOKENS
        tokens = min(SCRIPT_TOKENS, round(most))
        text = "".join([d async for d in self._deltas(messages, tokens)])
        try:
            return read_script(text, request)
        except ValueError as exc:
            raise GeneratorUnavailable(self.name, f"unusable script: {exc}") from exc

    @abc.abstractmethod
    def _deltas(self, messages: Sequence[ChatMessage], max_tokens: int) -> AsyncIterator[str]:
        """The model's reply to ``messages`` as text deltas; GeneratorUnavailable on failure."""
