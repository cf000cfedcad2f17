"""Answers and scripts from a language model on an Ollama server (``POST /api/chat``).

The clocks, retries and circuit breaker are :class:`~core.generation.remote.RemoteChatModel`'s;
this module sends the request through the ``ollama`` package and reads its NDJSON chunks.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Unpack

from core.errors import GeneratorUnavailable
from core.generation.chatmodel import SCRIPT_TOKENS
from core.generation.prompt import ChatMessage, PromptBuilder
from core.generation.remote import Clocks, Piece, RemoteChatModel, close_stream
from core.runtime.breaker import CircuitBreaker
from knowledge.embeddings.ollama import describe_failure, safe_host

if TYPE_CHECKING:
    from ollama import AsyncClient

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MODEL = "llama3.2"


class OllamaGenerator(RemoteChatModel):
    """A :class:`~core.generation.seams.TextGenerator` backed by an Ollama chat model."""

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        model: str = DEFAULT_MODEL,
        temperature: float = 0.3,
        prompts: PromptBuilder | None = None,
        breaker: CircuitBreaker | None = None,
        **clocks: Unpack[Clocks],
    ) -> None:
        self.name = f"ollama/{model.removesuffix(':latest')}"
        super().__init__(where=safe_host(host), prompts=prompts, breaker=breaker, **clocks)
        self._host = host
        self._model = model
        self._temperature = temperature
        # one context size for every request: Ollama reloads the model when it changes
        self._num_ctx = max(4096, math.ceil((self._prompts.budget + SCRIPT_TOKENS) / 1024) * 1024)
        self._client: AsyncClient | None = None

    async def aclose(self) -> None:
        """Close the HTTP client, if one was opened."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]

    async def _probe(self) -> str | None:
        """Whether ``/api/tags`` lists the model as pulled."""
        listing = await self._open().list()
        names = {m.model for m in listing.models if m.model}
        if self._model not in names and f"{self._model}:latest" not in names:
            return f"model {self._model} is not pulled on {self._where} (ollama pull {self._model})"
        return None

    def _open(self) -> AsyncClient:
        if self._client is None:
            import httpx
            from ollama import AsyncClient

            # The host is always passed so the package never reads OLLAMA_HOST itself.
            timeout = httpx.Timeout(self._total, connect=self._connect)
            self._client = AsyncClient(host=self._host, timeout=timeout)
        return self._client

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int
    ) -> AsyncIterator[Piece]:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        options = {
            "temperature": self._temperature,
            "num_predict": max_tokens,
            "num_ctx": self._num_ctx,
        }
        stream = await self._open().chat(
            model=self._model, messages=payload, stream=True, options=options
        )
        try:
            async for chunk in stream:
                yield Piece(
                    chunk.message.content or "",
                    done=bool(chunk.done),
                    reason=chunk.done_reason,
                    tokens=chunk.eval_count,
                )
        finally:
            await close_stream(stream)

    def _retry_delay(self, exc: BaseException, attempt: int) -> float | None:
        import httpx

        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return self._backoff * 2.0**attempt
        return super()._retry_delay(exc, attempt)

    def _errors(self) -> tuple[type[Exception], ...]:
        """What a failed exchange raises: the client's own errors, httpx's, or a bad body.

        ``ValueError`` covers a line that is not JSON or a chunk that does not match the
        schema. Imported on demand so that processes without an LLM never load httpx.
        """
        import httpx
        import ollama

        return (ollama.ResponseError, httpx.HTTPError, OSError, ValueError)

    def _failure(self, exc: BaseException) -> GeneratorUnavailable:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"cannot connect to {self._where} within {self._connect:g} s"
        else:
            reason = describe_failure(exc, self._where, self._model, what="stream")
        return GeneratorUnavailable(self.name, reason)
