"""What every chat model on a server shares: clocks, retries and a circuit breaker around
a streamed reply. Subclasses (Ollama, OpenAI-compatible servers) say how to send the
request, read its chunks and describe their failures.

Every exchange streams, so that separate clocks can watch it: the HTTP client's connect
timeout bounds each connection attempt; a first-token deadline, counted from the start
of the call, bounds connecting, retrying, loading the model and the first chunk; a stall
timeout bounds each silence between chunks; and a total deadline bounds the whole. Only a
failure the subclass calls retryable (a refused connection; a server asking to be called
again later) is retried, with exponential backoff and only while the first-token deadline
leaves room: once the server has started answering nothing is retried, so no text is
ever produced twice. A circuit breaker sheds calls while the server keeps failing, and
every failure is ``GeneratorUnavailable`` for :class:`~core.generation.fallback.FallbackGenerator`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

from core.errors import GeneratorUnavailable
from core.generation.chatmodel import ChatModelGenerator
from core.generation.prompt import ChatMessage, PromptBuilder
from core.runtime.breaker import BreakerState, CircuitBreaker

log = logging.getLogger("chorus.generation")


class Clocks(TypedDict, total=False):
    """The timeouts and retries of a server's chat model (see the module's docstring);
    ``stall_timeout`` defaults to ``first_token_timeout``."""

    connect_timeout: float
    first_token_timeout: float
    stall_timeout: float | None
    total_timeout: float
    retries: int
    backoff: float


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of a streamed reply: its text, and whether the model has finished."""

    text: str
    done: bool = False
    # why the model stopped ("stop", "length"...) and how many tokens it wrote, if told
    reason: str | None = None
    tokens: int | None = None


class RemoteChatModel(ChatModelGenerator):
    """A :class:`~core.generation.seams.TextGenerator` on a chat model behind HTTP.

    ``where`` names the server in messages and logs, without credentials. Call ``aclose``
    when done: subclasses open their HTTP client on first use, in the running event loop.
    """

    def __init__(
        self,
        *,
        where: str,
        prompts: PromptBuilder | None = None,
        breaker: CircuitBreaker | None = None,
        connect_timeout: float = 2.0,
        first_token_timeout: float = 4.0,
        stall_timeout: float | None = None,
        total_timeout: float = 60.0,
        retries: int = 1,
        backoff: float = 0.2,
    ) -> None:
        timeouts = (connect_timeout, first_token_timeout, stall_timeout or 1, total_timeout)
        if min(timeouts) <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff cannot be negative")
        super().__init__(prompts)
        self.breaker = breaker or CircuitBreaker()
        self._where = where
        self._connect = connect_timeout
        self._first_token = first_token_timeout
        self._stall = stall_timeout or first_token_timeout
        self._total = total_timeout
        self._retries = retries
        self._backoff = backoff

    async def check(self) -> str | None:
        """None when the server answers and serves the model, else why not."""
        budget = self._connect + self._first_token
        try:
            async with asyncio.timeout(budget):
                problem = await self._probe()
        except TimeoutError:
            return f"{self._where} did not answer within {budget:g} s"
        except self._errors() as exc:
            return self._failure(exc).reason
        if problem is not None:
            return problem
        if self.breaker.state is not BreakerState.CLOSED:
            return (
                f"circuit {self.breaker.state} after {self.breaker.failures} failures, "
                f"next probe in {self.breaker.retry_after:.0f} s"
            )
        return None

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the HTTP client, if one was opened."""

    @abc.abstractmethod
    async def _probe(self) -> str | None:
        """Ask the server whether it serves the model: None if so, else why not."""

    @abc.abstractmethod
    def _stream(self, messages: Sequence[ChatMessage], max_tokens: int) -> AsyncIterator[Piece]:
        """The reply's chunks; the request is sent when the first one is awaited."""

    @abc.abstractmethod
    def _errors(self) -> tuple[type[Exception], ...]:
        """What a failed request or stream raises (transport errors, bad bodies)."""

    @abc.abstractmethod
    def _failure(self, exc: BaseException) -> GeneratorUnavailable:
        """``exc`` described as the generator's failure, fit for a log line."""

    def _retry_delay(self, exc: BaseException, attempt: int) -> float | None:
        """How long to wait before trying again after ``exc``; None: not retryable.

        Only a failure to connect is retryable here: the request never reached the server.
        """
        if isinstance(exc, ConnectionError):
            return self._backoff * 2.0**attempt
        return None

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
        attempt = 0
        while True:
            stream = self._stream(messages, max_tokens)
            try:
                piece = await self._next(stream, first_due, total_due, first=True)
                break
            except self._errors() as exc:
                await close_stream(stream)
                delay = self._retry_delay(exc, attempt)
                if delay is None or attempt >= self._retries or loop.time() + delay >= first_due:
                    raise self._failure(exc) from exc
                attempt += 1
                reason = self._failure(exc).reason
                log.info("%s; retry %s in %.2f s", reason, attempt, delay)
                await asyncio.sleep(delay)
        deltas = 0
        try:
            while piece is not None:
                if piece.text:
                    deltas += 1
                    yield piece.text
                if piece.done:
                    log.debug(
                        "%s wrote %s tokens in %.2f s (%s)",
                        self.name,
                        piece.tokens if piece.tokens is not None else f"~{deltas}",
                        loop.time() - start,
                        piece.reason,
                    )
                    return
                piece = await self._next(stream, loop.time() + self._stall, total_due)
        except self._errors() as exc:
            raise self._failure(exc) from exc
        finally:
            await close_stream(stream)
        raise GeneratorUnavailable(self.name, "the stream ended before the model finished")

    async def _next(
        self,
        stream: AsyncIterator[Piece],
        due: float,
        total_due: float,
        *,
        first: bool = False,
    ) -> Piece | None:
        """The next chunk, None at the end; ``GeneratorUnavailable`` when a deadline passes."""
        try:
            async with asyncio.timeout_at(min(due, total_due)) as deadline:
                return await anext(stream)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            if not deadline.expired():
                raise  # the HTTP client's own timeout (connecting), not one of these clocks
            await close_stream(stream)
            if total_due <= due:
                reason = f"{self._where} did not finish within {self._total:g} s"
            elif first:
                reason = f"no first token from {self._where} within {self._first_token:g} s"
            else:
                reason = f"{self._where} went silent mid-answer for {self._stall:g} s"
            raise GeneratorUnavailable(self.name, reason) from None


async def close_stream(stream: object) -> None:
    """Close a response stream that is no longer read, so its connection is released."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
