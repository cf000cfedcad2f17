"""A small stand-in for an OpenAI-compatible server: ``/v1/chat/completions`` and
``/v1/models``.

It speaks the real wire format: a streamed reply is server-sent events, one
``chat.completion.chunk`` per ``data:`` line (the first carrying the role, the last an
empty delta and the ``finish_reason``), then ``data: [DONE]``; an unstreamed one is a
``chat.completion`` body; errors are ``{"error": {"message", "type", "param", "code"}}``
with OpenAI's statuses, a 429 with ``Retry-After``. It checks the bearer key when given
one and records what it was asked, so tests point the product at it through
``LLM_BASE_URL`` and check both sides of the exchange.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.stalling import Stalling

DEFAULT_MODEL = "qwen2.5-7b-instruct"
#: the key the ``openai_fake`` fixture expects
API_KEY = "sk-test-0123456789abcdef"
DEFAULT_REPLY = "Breathe in slowly through the nose [1]. Then let the breath go [2]."
CREATED = 1_765_000_000
FINGERPRINT = "fp_7f1a2b3c4d"
_MESSAGES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


@dataclass(slots=True)
class FakeOpenAIChat(Stalling):
    """The server's state: the models it serves and how to misbehave.

    ``api_key``, when set, must come as ``Authorization: Bearer`` on every request.
    ``reply`` is streamed a word (with its trailing space) per chunk, ``chunk_delay``
    apart, after ``chat_delay``; a chunk counts as a token against ``max_tokens``.
    ``hang`` goes silent after that many chunks (0: before answering) until shutdown.
    ``chat_fail_status`` answers every chat request with that status; ``script`` holds
    statuses for the next requests, one each, before normal answers resume;
    ``retry_after`` is the ``Retry-After`` header of a 429. ``malformed_stream`` sends a
    line that is not JSON after the second chunk; ``error_mid_stream`` an error event
    there; ``no_done`` ends without ``data: [DONE]``; ``cut_after`` ends the stream after
    that many chunks, unfinished; ``unstreamed`` answers a streamed request whole;
    ``echo_key`` quotes a refused key in full.
    """

    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    api_key: str | None = None
    reply: str = DEFAULT_REPLY
    chat_delay: float = 0.0
    chunk_delay: float = 0.0
    hang: int | None = None
    chat_fail_status: int | None = None
    script: list[int] = field(default_factory=list)
    retry_after: str | None = "1"
    malformed_stream: bool = False
    error_mid_stream: bool = False
    no_done: bool = False
    cut_after: int | None = None
    unstreamed: bool = False
    # quote a refused key in full, as some servers do, rather than masked as OpenAI does
    echo_key: bool = False
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    # the Authorization header of every request, None when absent
    authorizations: list[str | None] = field(default_factory=list)
    chunks_sent: int = 0
    _ids: int = 0

    def app(self) -> web.Application:
        """An aiohttp application serving this fake under ``/v1``."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.list_models)
        app.on_shutdown.append(self._release)
        return app

    def reply_chunks(self) -> list[str]:
        """The pieces ``reply`` is streamed in: each word with the spaces after it."""
        return re.findall(r"\S+\s*|\s+", self.reply)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``: SSE chunks, or one ``chat.completion``."""
        if (refused := self._unauthorised(request)) is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.")
        self.chat_requests.append(body)
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            return error(400, "'messages' is a required property")
        status = self.script.pop(0) if self.script else self.chat_fail_status
        if status is not None:
            return self._failure(status, model)
        if model not in self.models:
            return error(
                404, f"The model `{model}` does not exist or you do not have access to it."
            )
        if not await self._pause(self.chat_delay) or self.hang == 0:
            await self._released.wait()
            return error(500, "The server is shutting down.")
        self._ids += 1
        reply_id = f"chatcmpl-fake{self._ids:04d}"
        chunks, finish = self._written(body.get("max_tokens"))
        if not body.get("stream") or self.unstreamed:
            return web.json_response(completion(reply_id, model, "".join(chunks), finish))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        await _event(response, chunk(reply_id, model, {"role": "assistant", "content": ""}))
        for number, text in enumerate(chunks):
            paused = await self._pause(self.chunk_delay) if number else True
            if not paused or number == self.hang:
                await self._released.wait()
                return response
            if number == self.cut_after:
                await response.write_eof()
                return response
            if number == 2 and self.malformed_stream:
                await response.write(b"data: {this is not json\n\n")
            if number == 2 and self.error_mid_stream:
                failure = {"error": {"message": "upstream model crashed", "type": "server_error"}}
                await _event(response, failure)
            await _event(response, chunk(reply_id, model, {"content": text}))
            self.chunks_sent += 1
        await _event(response, chunk(reply_id, model, {}, finish))
        if not self.no_done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def list_models(self, request: web.Request) -> web.Response:
        """``GET /v1/models``: the models this server serves."""
        if (refused := self._unauthorised(request)) is not None:
            return refused
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}
                    for name in self.models
                ],
            }
        )

    def _written(self, max_tokens: object) -> tuple[list[str], str]:
        """The chunks the model writes within ``max_tokens``, and why it stopped."""
        chunks = self.reply_chunks()
        if isinstance(max_tokens, int) and len(chunks) > max_tokens:
            return chunks[:max_tokens], "length"
        return chunks, "stop"

    def _unauthorised(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        self.authorizations.append(header)
        if self.api_key is None or header == f"Bearer {self.api_key}":
            return None
        if header is None:
            return error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        given = header.removeprefix("Bearer ")
        masked = f"{given[:3]}*****{given[-4:]}" if len(given) > 8 else "*****"
        if self.echo_key:
            masked = given
        return error(401, f"Incorrect API key provided: {masked}.")

    def _failure(self, status: int, model: str) -> web.Response:
        if status == 429:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return error(
                429,
                f"Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
                "Requested 1.",
                headers=headers,
            )
        if status == 403:
            return error(403, "Country, region, or territory not supported")
        if status == 503:
            return error(503, "The engine is currently overloaded, please try again later")
        return error(
            status, "The server had an error while processing your request. Sorry about that!"
        )


def chunk(
    reply_id: str, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` as OpenAI streams it."""
    return {
        "id": reply_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def completion(reply_id: str, model: str, content: str, finish: str) -> dict[str, Any]:
    """A whole ``chat.completion``, as an unstreamed request gets it."""
    tokens = len(re.findall(r"\S+\s*|\s+", content))
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 26, "completion_tokens": tokens, "total_tokens": 26 + tokens},
    }


def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """An error in OpenAI's shape."""
    kind, code = _MESSAGES.get(status, ("server_error", None))
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


async def _event(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(data).encode() + b"\n\n")
