"""Embeddings from an Ollama server (``POST /api/embed``), for deployments that run one.

Any failure (server absent, slow, answering an error or a malformed body) becomes
``EmbeddingFailed`` carrying the model and a plain reason, so ingestion can report it and
retrieval can fall back. Vectors are L2-normalised here: not every model returns unit
vectors, and the vector store compares by cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from knowledge.embeddings.base import Vectors, check_texts, normalise
from knowledge.errors import EmbeddingFailed

if TYPE_CHECKING:
    from ollama import AsyncClient

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MODEL = "nomic-embed-text"
DEFAULT_TIMEOUT = 30.0
#: Texts per request: the server batches internally, so fewer round trips win.
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True, slots=True)
class ModelConventions:
    """What a known embedding model needs: its vector length and its task prefixes."""

    dimensions: int
    query_prefix: str = ""
    document_prefix: str = ""


#: Models from the Ollama library whose conventions are published on their model cards.
KNOWN_MODELS: dict[str, ModelConventions] = {
    "nomic-embed-text": ModelConventions(768, "search_query: ", "search_document: "),
    "mxbai-embed-large": ModelConventions(
        1024, "Represent this sentence for searching relevant passages: "
    ),
    "all-minilm": ModelConventions(384),
    "bge-m3": ModelConventions(1024),
}


class OllamaEmbedder:
    """Vectors from an Ollama embedding model, over HTTP with a timeout per request.

    ``dimensions`` is known up front for the models in ``KNOWN_MODELS`` or when given;
    otherwise it is learnt from the first answer (asking before raises). Call ``aclose``
    when done: the HTTP client is opened on first use, in the running event loop.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        model: str = DEFAULT_MODEL,
        dimensions: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        conventions = KNOWN_MODELS.get(model.split(":", 1)[0], ModelConventions(0))
        # "x" and "x:latest" are the same weights, so they must name the same space.
        self.name = f"ollama/{model.removesuffix(':latest')}"
        self._host = host
        self._model = model
        self._dimensions = dimensions or conventions.dimensions or None
        self._conventions = conventions
        self._timeout = timeout
        self._batch_size = batch_size
        self._client: AsyncClient | None = None

    @property
    def dimensions(self) -> int:
        """The vector length (raises ``EmbeddingFailed`` while it is still unknown)."""
        if self._dimensions is None:
            raise EmbeddingFailed(
                self.name, "vector length unknown before the first answer; pass dimensions="
            )
        return self._dimensions

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), dimensions)``, one request per batch."""
        return await self._embed_all(texts, self._conventions.document_prefix)

    async def embed_query(self, text: str) -> Vectors:
        """A ``(dimensions,)`` vector for a search query."""
        cleaned = check_texts([text])
        vectors = await self._embed([self._conventions.query_prefix + cleaned[0]])
        return vectors.reshape(-1)

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), dimensions)`` for queries, one request per batch."""
        return await self._embed_all(texts, self._conventions.query_prefix)

    async def check(self) -> None:
        """Raise ``EmbeddingFailed`` unless the server answers and has the model pulled."""
        try:
            listing = await self._open().list()
        except _transport_errors() as exc:
            raise self._failure(exc) from exc
        names = {m.model for m in listing.models if m.model}
        if self._model not in names and f"{self._model}:latest" not in names:
            reason = f"not pulled on the server (ollama pull {self._model})"
            raise EmbeddingFailed(self.name, reason)

    async def aclose(self) -> None:
        """Close the HTTP client, if one was opened."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]

    def _open(self) -> AsyncClient:
        if self._client is None:
            from ollama import AsyncClient

            # The host is always passed so the package never reads OLLAMA_HOST itself.
            self._client = AsyncClient(host=self._host, timeout=self._timeout)
        return self._client

    async def _embed_all(self, texts: Sequence[str], prefix: str) -> Vectors:
        cleaned = [prefix + text for text in check_texts(texts)]
        if not cleaned:
            return np.zeros((0, self._dimensions or 0), dtype=np.float32)
        parts = [
            await self._embed(cleaned[start : start + self._batch_size])
            for start in range(0, len(cleaned), self._batch_size)
        ]
        return np.concatenate(parts)

    async def _embed(self, batch: list[str]) -> Vectors:
        try:
            answer = await self._open().embed(model=self._model, input=batch)
        except _transport_errors() as exc:
            raise self._failure(exc) from exc
        return self._checked(answer.embeddings, len(batch))

    def _checked(self, embeddings: Sequence[Sequence[float]], expected: int) -> Vectors:
        if len(embeddings) != expected:
            raise EmbeddingFailed(
                self.name, f"the server sent {len(embeddings)} vectors for {expected} texts"
            )
        try:
            vectors = np.asarray(embeddings, dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise EmbeddingFailed(self.name, "the server sent vectors of unequal length") from exc
        length = self._dimensions or vectors.shape[-1]
        if vectors.ndim != 2 or vectors.shape[1] != length or length == 0:
            raise EmbeddingFailed(
                self.name, f"the server sent {vectors.shape[-1]}-d vectors, expected {length}"
            )
        if not np.isfinite(vectors).all() or not np.linalg.norm(vectors, axis=1).all():
            raise EmbeddingFailed(self.name, "the server sent zero or non-finite vectors")
        self._dimensions = length
        return normalise(vectors)

    def _failure(self, exc: Exception) -> EmbeddingFailed:
        import httpx

        where = safe_host(self._host)
        if isinstance(exc, httpx.TimeoutException):
            reason = f"{where} did not answer within {self._timeout:g} s"
        else:
            reason = describe_failure(exc, where, self._model, what="answer")
        return EmbeddingFailed(self.name, reason)


def describe_failure(exc: BaseException, where: str, model: str, *, what: str) -> str:
    """Why a call to an Ollama server failed, in words fit for a log line or an error
    (``where`` is a host without credentials; ``what`` names the expected reply)."""
    import httpx
    import ollama

    if isinstance(exc, ollama.ResponseError):
        error = str(exc.error)[:200]
        if exc.status_code == 404:
            return f"model {model} not found on {where} (ollama pull {model}?): {error}"
        if exc.status_code == -1:
            return f"{where} reported an error mid-{what}: {error}"
        return f"{where} answered {exc.status_code}: {error}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} timed out ({type(exc).__name__})"
    if isinstance(exc, OSError | httpx.ConnectError):
        return f"cannot connect to an Ollama server at {where}"
    if isinstance(exc, httpx.HTTPError):
        return f"talking to {where} failed ({type(exc).__name__})"
    return f"{where} sent a malformed {what} ({type(exc).__name__})"


def safe_host(host: str) -> str:
    """The host without any credentials it may carry, fit for a message or a log."""
    parts = urlsplit(host if "://" in host else f"http://{host}")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '127.0.0.1'}{port}"


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a failed exchange raises: the client's own errors, httpx's, or a bad body.

    Imported on demand so that processes using a local embedder never load httpx.
    ``ValueError`` covers a body that is not JSON or does not match the schema.
    """
    import httpx
    import ollama

    return (ollama.ResponseError, httpx.HTTPError, OSError, ValueError)
