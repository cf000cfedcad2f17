"""Dense vectors in ChromaDB: one collection per bot, so bots never see each other's chunks.

The embedded ``PersistentClient`` under ``DATA_DIR`` is the default; ``CHROMA_URL`` points
at a Chroma server instead, which several processes can share. Chroma's client is
synchronous, so every call runs in a worker thread. Vectors are always computed by our
own embedder and passed in: Chroma's default embedding function would try to download a
model. chromadb itself is imported on the first call (in that worker thread), as it
takes a good part of a second: a process that never searches never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

MAX_BATCH = 5000  # below Chroma's limit of 5,461 records per call


class EmbedderMismatch(KnowledgeError):
    """A bot's vectors were made by another embedding model than the one configured."""

    def __init__(self, bot_id: str, stored: str, configured: str) -> None:
        super().__init__(
            f"bot {bot_id!r} was indexed with {stored!r} but {configured!r} is configured: "
            "delete and re-ingest its documents"
        )
        self.bot_id = bot_id


def collection_name(bot_id: str) -> str:
    """The Chroma collection of a bot (names must be 3–512 characters)."""
    return f"bot-{bot_id}"


class ChromaStore:
    """The per-bot vector collections."""

    def __init__(self, *, path: Path | None = None, url: str | None = None) -> None:
        if (path is None) == (url is None):
            raise ValueError("give either a path (embedded) or a url (server)")
        self._path = path
        self._url = url
        self._client: ClientAPI | None = None
        self._lock = threading.Lock()
        self._collections: dict[str, Collection] = {}

    @property
    def location(self) -> str:
        return self._url or str(self._path)

    def _connect(self) -> ClientAPI:
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
                if self._url:
                    parts = urlsplit(self._url)
                    self._client = chromadb.HttpClient(
                        host=parts.hostname or "localhost",
                        port=parts.port or (443 if parts.scheme == "https" else 8000),
                        ssl=parts.scheme == "https",
                        settings=settings,
                    )
                else:
                    assert self._path is not None
                    self._path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=self._path, settings=settings)
            return self._client

    def _collection(self, bot_id: str, embedder: str) -> Collection:
        name = collection_name(bot_id)
        collection = self._collections.get(name)
        if collection is None:
            collection = self._connect().get_or_create_collection(
                name,
                embedding_function=None,
                metadata={"embedder": embedder},
                configuration={"hnsw": {"space": "cosine"}},
            )
            self._collections[name] = collection
        stored = (collection.metadata or {}).get("embedder", embedder)
        if stored != embedder:
            raise EmbedderMismatch(bot_id, str(stored), embedder)
        return collection

    async def upsert(
        self,
        bot_id: str,
        embedder: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Add or replace vectors by chunk id."""

        def run() -> None:
            collection = self._collection(bot_id, embedder)
            for start in range(0, len(ids), MAX_BATCH):
                end = start + MAX_BATCH
                collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end],
                    metadatas=list(metadatas[start:end]),
                )

        await asyncio.to_thread(run)

    async def query(
        self, bot_id: str, embedder: str, vector: np.ndarray, k: int
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest chunk ids with cosine similarity, best first.

        ``k`` must not exceed the number of vectors stored: the caller knows how many
        chunks the bot has, and counting the collection on every search costs more than
        the search itself at 100k chunks.
        """
        (nearest,) = await self.query_many(bot_id, embedder, vector.reshape(1, -1), k)
        return nearest

    async def query_many(
        self, bot_id: str, embedder: str, vectors: np.ndarray, k: int
    ) -> list[list[tuple[str, float]]]:
        """:meth:`query` for each row of ``vectors``, in one call (a tenth of the cost
        per query with 32 at once on a small collection)."""

        return [hits for hits, _ in await self.nearest(bot_id, embedder, vectors, k)]

    async def nearest(
        self, bot_id: str, embedder: str, vectors: np.ndarray, k: int
    ) -> list[tuple[list[tuple[str, float]], np.ndarray]]:
        """:meth:`query_many` with the vectors of the chunks found (a row each, in the
        same order), for scoring them further."""

        def run() -> list[tuple[list[tuple[str, float]], np.ndarray]]:
            collection = self._collection(bot_id, embedder)
            result = collection.query(
                query_embeddings=list(vectors), n_results=k, include=["distances", "embeddings"]
            )
            found = []
            for ids, distances, embeddings in zip(
                result["ids"], result["distances"] or [], result["embeddings"] or [], strict=True
            ):
                hits = [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]
                found.append((hits, np.asarray(embeddings, dtype=np.float32)))
            return found

        if k <= 0:
            return [([], np.zeros((0, vectors.shape[1]), dtype=np.float32)) for _ in vectors]
        return await asyncio.to_thread(run)

    async def delete(self, bot_id: str, embedder: str, ids: Sequence[str]) -> None:
        """Remove vectors by chunk id (ids that are not there are ignored)."""

        def run() -> None:
            collection = self._collection(bot_id, embedder)
            for start in range(0, len(ids), MAX_BATCH):
                collection.delete(ids=list(ids[start : start + MAX_BATCH]))

        if ids:
            await asyncio.to_thread(run)

    async def embedder_of(self, bot_id: str) -> str | None:
        """The model whose vectors the bot's collection holds; None without a collection."""

        def run() -> str | None:
            name = collection_name(bot_id)
            collection = self._collections.get(name)
            if collection is None:
                from chromadb.errors import NotFoundError

                try:
                    collection = self._connect().get_collection(name)
                except (NotFoundError, ValueError):
                    return None
            stored = (collection.metadata or {}).get("embedder")
            return None if stored is None else str(stored)

        return await asyncio.to_thread(run)

    async def present(self, bot_id: str, embedder: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` have a vector in the bot's collection."""

        def run() -> set[str]:
            collection = self._collection(bot_id, embedder)
            found: set[str] = set()
            for start in range(0, len(ids), MAX_BATCH):
                found.update(
                    collection.get(ids=list(ids[start : start + MAX_BATCH]), include=[])["ids"]
                )
            return found

        return await asyncio.to_thread(run) if ids else set()

    async def drop(self, bot_id: str) -> None:
        """Remove the bot's collection and all its vectors (before embedding it anew)."""

        def run() -> None:
            from chromadb.errors import NotFoundError

            name = collection_name(bot_id)
            self._collections.pop(name, None)
            with contextlib.suppress(NotFoundError, ValueError):
                self._connect().delete_collection(name)

        await asyncio.to_thread(run)

    async def count(self, bot_id: str, embedder: str) -> int:
        return await asyncio.to_thread(lambda: self._collection(bot_id, embedder).count())

    async def ping(self) -> None:
        """Raise unless the store answers."""
        await asyncio.to_thread(lambda: self._connect().heartbeat())
