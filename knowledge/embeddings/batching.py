"""Query embeddings for many concurrent turns: coalesced into batched model calls, and
remembered.

Every question a bot answers is embedded before the search, and the model is the
slowest step of an answer. A local model embeds short questions much faster in batches
than one by one (MiniLM on two cores: about 400 questions/s against 230/s), so the
questions that arrive while one model call runs are embedded together in the next. A
lone question goes at once: nothing waits for a batch to fill. A question asked again
(the same words, whatever the spacing) comes from a bounded cache instead of the model.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections import OrderedDict

import numpy as np

from core.batching import Batcher
from knowledge.embeddings.base import QUERY_BATCH_SIZE, Embedder, Vectors

CACHE_SIZE = 4096  # queries remembered: 1.5 kB each at 384 dimensions


def query_key(text: str) -> str:
    """A query as it is embedded and remembered: NFC, whitespace runs made one space.

    Both leave the tokens the models see unchanged; case is kept (e5 reads it).
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


class QueryBatcher:
    """Embeds search queries through one embedder, in batches, with an LRU cache.

    Concurrent :meth:`embed_query` calls share model calls of up to ``max_batch``
    queries, one call at a time; each caller gets exactly the vector the embedder gives
    for its (normalised) query, or the error its batch raised. The same query asked
    again while it is being embedded waits for that call.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_batch: int = QUERY_BATCH_SIZE,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self.embedder = embedder
        self._batcher: Batcher[str, Vectors] = Batcher(
            self._embed, name="chorus-query-embedder", max_batch=max_batch
        )
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Vectors]] = {}

    async def embed_query(self, text: str) -> Vectors:
        """A ``(dimensions,)`` read-only vector for the query ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        key = query_key(text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._fetch(key))
            pending.add_done_callback(lambda done: self._settled(key, done))
        # shielded: a caller that gives up must not cancel the others' shared result
        return await asyncio.shield(pending)

    async def _fetch(self, key: str) -> Vectors:
        vector = await self._batcher.submit(key)
        if self._cache_size:
            self._cache[key] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def _settled(self, key: str, done: asyncio.Future[Vectors]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # seen, even if every caller went away

    async def _embed(self, keys: list[str]) -> list[Vectors]:
        rows = []
        for vector in await self.embedder.embed_queries(keys):
            row = np.array(vector, dtype=np.float32)  # a copy, not a view of the whole batch
            row.flags.writeable = False
            rows.append(row)
        return rows
