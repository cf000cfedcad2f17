"""A small stand-in for an Ollama server: ``/api/embed``, ``/api/chat`` and ``/api/tags``.

It speaks the real wire format (JSON bodies, ``{"error": ...}`` on failure, 404 for a
model that is not pulled, chat answers streamed as NDJSON lines ending with a ``done``
line) and records what it was asked, so tests point the product at it through
``OLLAMA_HOST`` / ``host=`` and check both sides of the exchange. Vectors are
deterministic hashed bags of words, deliberately not unit length.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

from tests.fakes.stalling import Stalling

MODIFIED_AT = "2026-11-20T10:00:00.000000000Z"
CREATED_AT = "2026-11-23T09:30:00.000000000Z"
DEFAULT_REPLY = "Breathe in slowly through the nose [1]. Then let the breath go [2]."


@dataclass(slots=True)
class FakeOllama(Stalling):
    """The server's state: pulled models (name -> vector length) and how to misbehave.

    ``fail_status`` answers every embed request with that status; ``malformed`` sends a
    body that is not the documented shape; ``wrong_count`` sends one vector too few;
    ``delay`` waits before answering (for timeouts).

    Chat: ``chat_models`` are the pulled chat models; ``reply`` is what the model writes,
    streamed a word (with its trailing space) per chunk, ``chunk_delay`` apart.
    ``chat_delay`` waits before the first chunk (a model loading); ``hang`` goes silent
    after that many chunks (0: before answering at all) until the server shuts down;
    ``chat_fail_status`` answers with that status and ``{"error"}``;
    ``malformed_stream`` sends a line that is not JSON after the second chunk.
    ``chat_requests`` holds every chat body received, ``chunks_sent`` the chunks written.
    """

    models: dict[str, int] = field(default_factory=lambda: {"nomic-embed-text:latest": 768})
    fail_status: int | None = None
    malformed: bool = False
    wrong_count: bool = False
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    chat_models: set[str] = field(default_factory=lambda: {"llama3.2:latest"})
    reply: str = DEFAULT_REPLY
    chat_delay: float = 0.0
    chunk_delay: float = 0.0
    hang: int | None = None
    chat_fail_status: int | None = None
    malformed_stream: bool = False
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    chunks_sent: int = 0
    # set when the first chat request arrives
    chatted: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def app(self) -> web.Application:
        """An aiohttp application serving this fake."""
        app = web.Application()
        app.router.add_post("/api/embed", self.embed)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/tags", self.tags)
        app.on_shutdown.append(self._release)
        return app

    def reply_chunks(self) -> list[str]:
        """The pieces ``reply`` is streamed in: each word with the spaces after it."""
        return re.findall(r"\S+\s*|\s+", self.reply)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/chat``: the reply as NDJSON chunks, or one JSON body unstreamed."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        self.chat_requests.append(body)
        self.chatted.set()
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list):
            return _error(400, "invalid request")
        if self.chat_fail_status is not None:
            return _error(
                self.chat_fail_status, "llama runner process has terminated: exit status 2"
            )
        if not self._is_chat_model(model):
            return _error(404, f'model "{model}" not found, try pulling it first')
        started = time.monotonic_ns()
        if not await self._pause(self.chat_delay) or self.hang == 0:
            await self._released.wait()
            return _error(500, "server shutting down")
        chunks = self.reply_chunks()
        if body.get("stream") is False:
            return web.json_response({**_chunk(model, self.reply), **_done(started, len(chunks))})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for number, text in enumerate(chunks):
            paused = await self._pause(self.chunk_delay) if number else True
            if not paused or number == self.hang:
                await self._released.wait()
                return response
            if self.malformed_stream and number == 2:
                await response.write(b"{this is not json\n")
            await response.write(json.dumps(_chunk(model, text)).encode() + b"\n")
            self.chunks_sent += 1
        final = {**_chunk(model, ""), **_done(started, len(chunks))}
        await response.write(json.dumps(final).encode() + b"\n")
        await response.write_eof()
        return response

    async def embed(self, request: web.Request) -> web.Response:
        """``POST /api/embed``: ``{"model", "input"}`` -> ``{"model", "embeddings"}``."""
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        self.requests.append(body)
        model, texts = body.get("model"), body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(model, str) or not isinstance(texts, list):
            return _error(400, "invalid input type")
        if self.fail_status is not None:
            return _error(self.fail_status, "llama runner process has terminated: exit status 2")
        dimensions = self._dimensions(model)
        if dimensions is None:
            return _error(404, f'model "{model}" not found, try pulling it first')
        if self.malformed:
            return web.json_response({"model": model, "embeddings": "not a list"})
        vectors = [bag_of_words(text, dimensions) for text in texts]
        if self.wrong_count:
            vectors = vectors[:-1]
        return web.json_response(
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            }
        )

    async def tags(self, request: web.Request) -> web.Response:
        """``GET /api/tags``: the models pulled on this server."""
        return web.json_response(
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "modified_at": MODIFIED_AT,
                        "size": 274_302_450,
                        "digest": hashlib.sha256(name.encode()).hexdigest(),
                        "details": {
                            "parent_model": "",
                            "format": "gguf",
                            "family": family,
                            "families": [family],
                            "parameter_size": "137M" if family == "nomic-bert" else "3.2B",
                            "quantization_level": "F16" if family == "nomic-bert" else "Q4_K_M",
                        },
                    }
                    for name, family in [
                        *((n, "nomic-bert") for n in self.models),
                        *((n, "llama") for n in sorted(self.chat_models)),
                    ]
                ]
            }
        )

    def _is_chat_model(self, model: str) -> bool:
        return model in self.chat_models or f"{model}:latest" in self.chat_models

    def _dimensions(self, model: str) -> int | None:
        for name in (model, f"{model}:latest"):
            if name in self.models:
                return self.models[name]
        return None


def bag_of_words(text: str, dimensions: int) -> list[float]:
    """A deterministic vector where texts sharing words point the same way (norm > 1)."""
    vector = np.zeros(dimensions)
    for word in text.lower().split():
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        vector += np.random.default_rng(seed).standard_normal(dimensions)
    if not vector.any():
        vector[0] = 1.0
    return [float(x) * 3.0 for x in vector]


def _chunk(model: str, content: str) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": content},
        "done": False,
    }


def _done(started_ns: int, tokens: int) -> dict[str, Any]:
    """The statistics of Ollama's last line (durations in nanoseconds)."""
    total = time.monotonic_ns() - started_ns
    return {
        "done": True,
        "done_reason": "stop",
        "total_duration": total,
        "load_duration": 1_019_500,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 130_000_000,
        "eval_count": tokens,
        "eval_duration": max(1, total - 131_019_500),
    }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
