"""Answers and scripts from any server speaking OpenAI's ``POST /v1/chat/completions``:
llama.cpp's server, vLLM, LM Studio, LocalAI, OpenRouter, OpenAI itself.

The reply streams as server-sent events (``data: {chunk}`` lines, ``data: [DONE]`` at
the end), each chunk carrying ``choices[0].delta.content`` and, last, a
``finish_reason``. The clocks, retries and circuit breaker are
:class:`~core.generation.remote.RemoteChatModel`'s. Besides a refused connection, a 429
is retried too, after the server's ``Retry-After`` when that fits the first-token
deadline; a 401 or 403 is a configuration error and never retried.

Written on aiohttp, already a dependency, rather than the ``openai`` package: that would
add its own retries and timeouts (to switch off so ours hold), and httpx, pydantic models
and a second HTTP stack to the process, for a wire format that takes a page to read.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Unpack
from urllib.parse import urlsplit

import aiohttp

from core.errors import GeneratorUnavailable
from core.generation.prompt import ChatMessage, PromptBuilder
from core.generation.remote import Clocks, Piece, RemoteChatModel
from core.generation.sse import read_events
from core.runtime.breaker import CircuitBreaker
from knowledge.embeddings.ollama import safe_host

log = logging.getLogger("chorus.generation")

DONE = "[DONE]"


class ServerRefused(Exception):
    """The server answered a request with an error status (``message`` from its body)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class StreamFailed(Exception):
    """The server reported an error in the middle of a stream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OpenAICompatGenerator(RemoteChatModel):
    """A :class:`~core.generation.seams.TextGenerator` on an OpenAI-compatible server.

    ``base_url`` is the API's base, as in ``http://host:8000/v1``; ``api_key``, when
    given, is sent as ``Authorization: Bearer`` and appears in no message or log line.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.3,
        prompts: PromptBuilder | None = None,
        breaker: CircuitBreaker | None = None,
        **clocks: Unpack[Clocks],
    ) -> None:
        if not model:
            raise ValueError("an OpenAI-compatible server needs a model name")
        self.name = f"openai-compat/{model}"
        super().__init__(where=safe_base(base_url), prompts=prompts, breaker=breaker, **clocks)
        self._base = base_url.rstrip("/")
        self._model = model
        self._temperature = temperature
        self._headers = {"Accept": "text/event-stream, application/json"}
        self._key = api_key
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        """Close the HTTP session, if one was opened."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _probe(self) -> str | None:
        """Whether ``GET {base}/models`` answers and lists the model (an empty list is
        taken as "whatever is loaded", as some single-model servers answer)."""
        async with self._open().get(f"{self._base}/models", headers=self._headers) as response:
            if response.status != 200:
                raise await refusal(response)
            listing = await response.json(content_type=None)
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            raise ValueError("the model list has no data array")
        served = [m.get("id") for m in data if isinstance(m, dict)]
        if served and self._model not in served:
            shown = ", ".join(str(m) for m in served[:5]) + (", …" if len(served) > 5 else "")
            return f"model {self._model} is not served by {self._where} (it serves {shown})"
        return None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            # no total timeout: the stream's own clocks bound the exchange
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self._connect, sock_connect=self._connect
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _stream(
        self, messages: Sequence[ChatMessage], max_tokens: int
    ) -> AsyncIterator[Piece]:
        body = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": self._temperature,
        }
        url = f"{self._base}/chat/completions"
        async with self._open().post(url, json=body, headers=self._headers) as response:
            if response.status != 200:
                raise await refusal(response)
            if response.content_type == "application/json":  # the server would not stream
                yield whole_reply(await response.json())
                return
            finish: str | None = None
            events = read_events(response.content.iter_any())
            async with contextlib.aclosing(events):
                async for event in events:
                    if event.data.strip() == DONE:
                        yield Piece("", done=True, reason=finish)
                        return
                    piece = read_chunk(event.data, event.event)
                    finish = piece.reason or finish
                    if piece.text:
                        yield piece
            if finish is not None:
                # finished but never said [DONE]: the answer is whole all the same
                log.debug("%s ended its stream without [DONE]", self._where)
                yield Piece("", done=True, reason=finish)

    def _retry_delay(self, exc: BaseException, attempt: int) -> float | None:
        if isinstance(exc, ServerRefused):
            if exc.status != 429:
                return None
            backoff = self._backoff * 2.0**attempt
            return backoff if exc.retry_after is None else max(exc.retry_after, backoff)
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return self._backoff * 2.0**attempt
        return super()._retry_delay(exc, attempt)

    def _errors(self) -> tuple[type[Exception], ...]:
        """A refusal, a reported error, aiohttp's errors, or a body that is not JSON or
        not a chunk (``ValueError``)."""
        return (ServerRefused, StreamFailed, aiohttp.ClientError, OSError, ValueError)

    def _failure(self, exc: BaseException) -> GeneratorUnavailable:
        reason = self._describe(exc)
        if self._key:  # some servers quote the key they refused in full
            reason = reason.replace(self._key, "[LLM_API_KEY]")
        return GeneratorUnavailable(self.name, reason)

    def _describe(self, exc: BaseException) -> str:
        where = self._where
        if isinstance(exc, ServerRefused):
            said = f"{where} answered {exc.status}: {exc.message}"
            if exc.status in (401, 403):
                return f"{said} (the API key was refused: check LLM_API_KEY)"
            if exc.status == 404:
                return (
                    f"{said} (is LLM_BASE_URL the API's base, such as …/v1, "
                    f"and is {self._model} served there?)"
                )
            if exc.status == 429 and exc.retry_after is not None:
                return f"{said} (asked to wait {exc.retry_after:g} s)"
            return said
        if isinstance(exc, StreamFailed):
            return f"{where} reported an error mid-stream: {exc.message}"
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return f"cannot connect to {where} within {self._connect:g} s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"cannot connect to an OpenAI-compatible server at {where}"
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
            return f"{where} broke off the stream ({type(exc).__name__})"
        if isinstance(exc, aiohttp.ClientError | OSError):
            return f"talking to {where} failed ({type(exc).__name__})"
        return f"{where} sent a malformed stream ({type(exc).__name__}: {exc})"


def read_chunk(data: str, event: str = "message") -> Piece:
    """One ``chat.completion.chunk``: its delta's text and finish reason.

    Chunks without choices (usage, content-filter notes) are empty pieces. Raises
    ``StreamFailed`` for an error the server reports in the stream, ``ValueError`` for
    anything that is not a chunk.
    """
    chunk = json.loads(data)
    if not isinstance(chunk, dict):
        raise ValueError("a chunk that is not a JSON object")
    if event == "error" or "error" in chunk:
        raise StreamFailed(error_message(chunk))
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise ValueError("a chunk without a choices array")
    if not choices:
        return Piece("")
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(delta, dict):
        raise ValueError("a choice without a delta object")
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError("a delta whose content is not text")
    reason = choice.get("finish_reason")
    return Piece(content or "", reason=reason if isinstance(reason, str) else None)


def whole_reply(body: Any) -> Piece:
    """A ``chat.completion`` sent whole, by a server that does not stream, as one piece."""
    if isinstance(body, dict) and "error" in body:
        raise StreamFailed(error_message(body))
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("a completion without choices[0].message.content") from exc
    if not isinstance(content, str):
        raise ValueError("a completion whose content is not text")
    usage = body.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    return Piece(content, done=True, reason=reason, tokens=tokens)


async def refusal(response: aiohttp.ClientResponse) -> ServerRefused:
    """The error a non-200 response stands for, with the message of its body and the
    delay its ``Retry-After`` (or ``retry-after-ms``) asks for."""
    text = await response.text(errors="replace")
    try:
        message = error_message(json.loads(text))
    except ValueError:
        message = " ".join(text.split()) or response.reason or "no reason given"
    return ServerRefused(response.status, message[:200], retry_after(response.headers))


def error_message(body: Any) -> str:
    """The message of an error body: OpenAI's ``{"error": {"message"}}``, or the shapes
    compatible servers use instead (``{"error": "..."}``, ``{"detail": ...}``)."""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:200]
    return json.dumps(body)[:200]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429 asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or
    an HTTP date; None when absent or unreadable. Whether the wait fits is the caller's
    to judge (a date in the past is no wait)."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "Retry-After" not in headers:
            return None
        value = headers["Retry-After"].strip()
        if value.replace(".", "", 1).isdigit():  # seconds (some servers send fractions)
            return float(value)
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def safe_base(url: str) -> str:
    """The API's base URL without credentials, query or fragment, fit for a log line."""
    path = urlsplit(url if "://" in url else f"http://{url}").path
    return safe_host(url) + path.rstrip("/")
