"""A small stand-in for an Ollama server: ``POST /api/embed`` and ``GET /api/tags``.

It speaks the real wire format (JSON bodies, ``{"error": ...}`` on failure, 404 for a
model that is not pulled) and records what it was asked, so tests point the product at
it through ``OLLAMA_HOST`` / ``host=`` and check both sides of the exchange. Vectors are
deterministic hashed bags of words, deliberately not unit length.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

MODIFIED_AT = "2026-11-20T10:00:00.000000000Z"


@dataclass(slots=True)
class FakeOllama:
    """The server's state: pulled models (name -> vector length) and how to misbehave.

    ``fail_status`` answers every embed request with that status; ``malformed`` sends a
    body that is not the documented shape; ``wrong_count`` sends one vector too few;
    ``delay`` waits before answering (for timeouts).
    """

    models: dict[str, int] = field(default_factory=lambda: {"nomic-embed-text:latest": 768})
    fail_status: int | None = None
    malformed: bool = False
    wrong_count: bool = False
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        """An aiohttp application serving this fake."""
        app = web.Application()
        app.router.add_post("/api/embed", self.embed)
        app.router.add_get("/api/tags", self.tags)
        return app

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
                            "family": "nomic-bert",
                            "families": ["nomic-bert"],
                            "parameter_size": "137M",
                            "quantization_level": "F16",
                        },
                    }
                    for name in self.models
                ]
            }
        )

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


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
