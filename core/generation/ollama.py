"""Answers and scripts from a language model on an Ollama server (``POST /api/chat``).

Every exchange streams, so that separate clocks can watch it: the HTTP client's connect
timeout bounds each connection attempt; a first-token deadline, counted from the start
of the call, bounds connecting, retrying, loading the model and the first chunk; a stall
timeout bounds each silence between chunks; and a total deadline bounds the whole. Only a
failure to connect is retried (exponential backoff, and only while the first-token
deadline leaves room): once the server has the request nothing is retried, so no text is
ever produced twice. A circuit breaker sheds calls while the server keeps failing, and
every failure is ``GeneratorUnavailable`` for :class:`~core.generation.fallback.FallbackGenerator`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from core.errors import GeneratorUnavailable
from core.generation.chatmodel import SCRIPT_TOKENS, ChatModelGenerator
from core.generation.prompt import ChatMessage, PromptBuilder
from core.runtime.breaker import BreakerState, CircuitBreaker
from knowledge.embeddings.ollama import describe_failure, safe_host

if TYPE_CHECKING:
    from ollama import AsyncClient, ChatResponse

log = logging.getLogger("chorus.generation")

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MODEL = "llama3.2"


class OllamaGenerator(ChatModelGenerator):
    """A :class:`~core.generation.seams.TextGenerator` backed by an Ollama chat model.

    ``stall_timeout`` defaults to ``first_token_timeout``. Call ``aclose`` when done: the
    HTTP client is opened on first use, in the running event loop.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        model: str = DEFAULT_MODEL,
        connect_timeout: float = 2.0,
        first_token_timeout: float = 4.0,
        stall_timeout: float | None = None,
        total_timeout: float = 60.0,
        retries: int = 1,
        backoff: float = 0.2,
        temperature: float = 0.3,
        prompts: PromptBuilder | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        timeouts = (connect_timeout, first_token_timeout, stall_timeout or 1, total_timeout)
        if min(timeouts) <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff cannot be negative")
        self.name = f"ollama/{model.removesuffix(':latest')}"
        self.breaker = breaker or CircuitBreaker()
        self._host = host
        self._where = safe_host(host)
        self._model = model
        self._connect = connect_timeout
        self._first_token = first_token_timeout
        self._stall = stall_timeout or first_token_timeout
        self._total = total_timeout
        self._retries = retries
        self._backoff = backoff
        self._temperature = temperature
        super().__init__(prompts)
        # one context size for every request: Ollama reloads the model when it changes
        self._num_ctx = max(4096, math.ceil((self._prompts.budget + SCRIPT_TOKENS) / 1024) * 1024)
        self._client: AsyncClient | None = None

    async def check(self) -> str | None:
        """None when the server answers ``/api/tags`` with the model pulled, else why not."""
        try:
            async with asyncio.timeout(self._connect + self._first_token):
                listing = await self._open().list()
        except TimeoutError:
            return f"{self._where} did not answer within {self._connect + self._first_token:g} s"
        except _transport_errors() as exc:
            return self._failure(exc).reason
        names = {m.model for m in listing.models if m.model}
        if self._model not in names and f"{self._model}:latest" not in names:
            return f"model {self._model} is not pulled on {self._where} (ollama pull {self._model})"
        if self.breaker.state is not BreakerState.CLOSED:
            return (
                f"circuit {self.breaker.state} after {self.breaker.failures} failures, "
                f"next probe in {self.breaker.retry_after:.0f} s"
            )
        return None

    async def aclose(self) -> None:
        """Close the HTTP client, if one was opened."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]

    def _open(self) -> AsyncClient:
        if self._client is None:
            import httpx
            from ollama import AsyncClient

            # The host is always passed so the package never reads OLLAMA_HOST itself.
            timeout = httpx.Timeout(self._total, connect=self._connect)
            self._client = AsyncClient(host=self._host, timeout=timeout)
        return self._client

    async def _deltas(self, messages: Sequence[ChatMessage], max_tokens: int) -> AsyncIterator[str]:
        """The exchange's text deltas, with the breaker told how it ended."""
        if not self.breaker.allow():
            raise GeneratorUnavailable(
                self.name,
                f"circuit open after {self.breaker.failures} failures, "
                f"next try in {self.breaker.retry_after:.0f} s",
            )
        try:
            async for delta in self._exchange(messages, max_tokens):
                yield delta
        except GeneratorUnavailable:
            self.breaker.record_failure()
            raise
        except Exception as exc:
            self.breaker.record_failure()
            raise GeneratorUnavailable(self.name, f"unexpected {type(exc).__name__}") from exc
        except BaseException:  # cancelled, or the consumer stopped reading: no verdict
            self.breaker.release()
            raise
        self.breaker.record_success()

    async def _exchange(
        self, messages: Sequence[ChatMessage], max_tokens: int
    ) -> AsyncIterator[str]:
        # No asyncio.timeout spans a ``yield`` here: it would cancel whatever the consumer
        # awaits between deltas. Each wait for the server gets its own deadline instead.
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_due, total_due = start + self._first_token, start + self._total
        payload = [{"role": m.role, "content": m.content} for m in messages]
        options = {
            "temperature": self._temperature,
            "num_predict": max_tokens,
            "num_ctx": self._num_ctx,
        }
        attempt = 0
        while True:
            stream = await self._open().chat(
                model=self._model, messages=payload, stream=True, options=options
            )
            try:
                chunk = await self._next(stream, first_due, total_due, first=True)
                break
            except _connect_errors() as exc:
                delay = self._backoff * 2**attempt
                if attempt >= self._retries or loop.time() + delay >= first_due:
                    raise self._failure(exc) from exc
                attempt += 1
                log.info("cannot connect to %s; retry %s in %.2f s", self._where, attempt, delay)
                await asyncio.sleep(delay)
            except _transport_errors() as exc:
                raise self._failure(exc) from exc
        try:
            while chunk is not None:
                if chunk.message.content:
                    yield chunk.message.content
                if chunk.done:
                    log.debug(
                        "%s wrote %s tokens in %.2f s (%s)",
                        self.name,
                        chunk.eval_count,
                        loop.time() - start,
                        chunk.done_reason,
                    )
                    return
                chunk = await self._next(stream, loop.time() + self._stall, total_due)
        except _transport_errors() as exc:
            raise self._failure(exc) from exc
        finally:
            await _close(stream)
        raise GeneratorUnavailable(self.name, "the stream ended before the model finished")

    async def _next(
        self,
        stream: AsyncIterator[ChatResponse],
        due: float,
        total_due: float,
        *,
        first: bool = False,
    ) -> ChatResponse | None:
        """The next chunk, None at the end; ``GeneratorUnavailable`` when a deadline passes."""
        try:
            async with asyncio.timeout_at(min(due, total_due)):
                return await anext(stream)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            await _close(stream)
            if total_due <= due:
                reason = f"{self._where} did not finish within {self._total:g} s"
            elif first:
                reason = f"no first token from {self._where} within {self._first_token:g} s"
            else:
                reason = f"{self._where} went silent mid-answer for {self._stall:g} s"
            raise GeneratorUnavailable(self.name, reason) from None

    def _failure(self, exc: BaseException) -> GeneratorUnavailable:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"cannot connect to {self._where} within {self._connect:g} s"
        else:
            reason = describe_failure(exc, self._where, self._model, what="stream")
        return GeneratorUnavailable(self.name, reason)


def _connect_errors() -> tuple[type[BaseException], ...]:
    """Failures that mean the request never reached the server, so a retry is safe."""
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError)


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a failed exchange raises: the client's own errors, httpx's, or a bad body.

    ``ValueError`` covers a line that is not JSON or a chunk that does not match the
    schema. Imported on demand so that processes without an LLM never load httpx.
    """
    import httpx
    import ollama

    return (ollama.ResponseError, httpx.HTTPError, OSError, ValueError)


async def _close(stream: object) -> None:
    """Close a response stream that is no longer read, so its connection is released."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
