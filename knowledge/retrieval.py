"""Hybrid retrieval: dense vectors and BM25 over the same chunks, fused by rank.

Dense search finds passages that mean the same thing in other words (or another
language); BM25 finds the rare exact terms dense models blur (names, numbers, jargon).
Their rankings are fused with reciprocal rank fusion, near-duplicate passages are
dropped, and a relevance gate on the dense similarity decides whether the material
covers the question at all: below it the engine says so instead of guessing.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from core.batching import Batcher
from knowledge.catalogue import ChunkCatalogue, ChunkInfo
from knowledge.embeddings import Embedder, QueryBatcher, Vectors
from knowledge.passages import Passage
from knowledge.vectorstore import ChromaStore

_SHINGLE = re.compile(r"\w+", re.UNICODE)

# Calibrated with bench/retrieval.py: XQuAD questions against their corpus (answerable)
# and against the demo notes, plus everyday questions (off-topic). MiniLM at 0.31 keeps
# 98% of answerable English questions and turns away 99.8% of off-topic ones; e5's
# similarities are compressed into a narrow band, so its gate separates less well.
MIN_SIMILARITY = {"all-MiniLM-L6-v2-int8": 0.31, "multilingual-e5-small-q4": 0.82}
FALLBACK_MIN_SIMILARITY = 0.5


def default_min_similarity(embedder: Embedder) -> float:
    """The relevance gate for an embedding model."""
    return MIN_SIMILARITY.get(embedder.name, FALLBACK_MIN_SIMILARITY)


@dataclass(frozen=True, slots=True)
class ScoredPassage:
    """A retrieved chunk with every score that placed it, for tuning and tests."""

    chunk: ChunkInfo
    fused: float
    dense: float | None  # cosine similarity, if dense search found it
    lexical: float | None  # BM25 score, if lexical search found it
    relevant: bool

    def as_passage(self) -> Passage:
        return Passage(
            text=self.chunk.text,
            title=self.chunk.title,
            score=self.fused,
            document_id=self.chunk.document_id,
            page=self.chunk.page,
            section=_without_title(self.chunk.section, self.chunk.title) or None,
        )


@dataclass(frozen=True, slots=True)
class _DenseSearch:
    bot_id: str
    vector: Vectors
    k: int


class HybridRetriever:
    """Finds the passages of a bot's documents that answer a question.

    Concurrent searches share work: questions are embedded through a
    :class:`QueryBatcher` (given, or made around ``embedder``), which also remembers
    repeated ones, and the dense searches of a bot go to the vector store together.
    """

    def __init__(
        self,
        catalogue: ChunkCatalogue,
        store: ChromaStore,
        embedder: Embedder,
        *,
        min_similarity: float,
        candidates: int = 30,
        rrf_k: int = 60,
        duplicate_overlap: float = 0.8,
        queries: QueryBatcher | None = None,
    ) -> None:
        if not 0 < min_similarity < 1:
            raise ValueError("min_similarity must be between 0 and 1")
        if queries is not None and queries.embedder is not embedder:
            raise ValueError("queries must embed with the retriever's embedder")
        self._catalogue = catalogue
        self._store = store
        self._embedder = embedder
        self._queries = queries or QueryBatcher(embedder)
        # a failed search (another embedder's collection, say) must not fail other bots'
        self._dense: Batcher[_DenseSearch, list[tuple[str, float]]] = Batcher(
            self._search_dense, name="chorus-dense-search", max_batch=64, retry_alone=True
        )
        self.min_similarity = min_similarity
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._duplicate_overlap = duplicate_overlap

    async def load(self) -> None:
        """Open the vector store and load the embedding model now, in worker threads,
        rather than when the first question comes (each takes a good part of a second)."""
        await self._store.ping()
        await self._embedder.embed_query("warm-up")

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        """The relevant passages, best first; empty when the material does not cover it."""
        scored = await self.explain(bot_id, query, limit=limit)
        return [s.as_passage() for s in scored if s.relevant]

    async def explain(self, bot_id: str, query: str, *, limit: int = 5) -> list[ScoredPassage]:
        """The best passages with their dense, lexical and fused scores, relevant or not."""
        index = await self._catalogue.get(bot_id)
        if not index.chunks or not query.strip():
            return []
        vector = await self._queries.embed_query(query)
        dense, lexical = await asyncio.gather(
            self._dense.submit(
                _DenseSearch(bot_id, vector, min(self._candidates, len(index.chunks)))
            ),
            asyncio.to_thread(index.lexical.search, query, self._candidates),
        )
        dense = [(i, s) for i, s in dense if i in index.chunks]  # deleted meanwhile: skip
        fused: dict[str, float] = {}
        for ranking in (dense, lexical):
            for rank, (chunk_id, _) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self._rrf_k + rank + 1)
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        covered = bool(dense) and dense[0][1] >= self.min_similarity
        chosen: list[ScoredPassage] = []
        seen: list[set[str]] = []
        for chunk_id in sorted(fused, key=fused.__getitem__, reverse=True):
            chunk = index.chunks[chunk_id]
            words = set(_SHINGLE.findall(chunk.text.lower()))
            if any(_overlap(words, other) >= self._duplicate_overlap for other in seen):
                continue
            seen.append(words)
            similarity = dense_scores.get(chunk_id)
            chosen.append(
                ScoredPassage(
                    chunk=chunk,
                    fused=fused[chunk_id],
                    dense=similarity,
                    lexical=lexical_scores.get(chunk_id),
                    relevant=covered and self._supports(similarity),
                )
            )
            if len(chosen) == limit:
                break
        return chosen

    async def _search_dense(self, searches: list[_DenseSearch]) -> list[list[tuple[str, float]]]:
        """One vector-store call per bot (and ``k``) for a batch of searches."""
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for n, search in enumerate(searches):
            groups[(search.bot_id, search.k)].append(n)
        found = await asyncio.gather(
            *(
                self._store.query_many(
                    bot_id, self._embedder.name, np.stack([searches[n].vector for n in rows]), k
                )
                for (bot_id, k), rows in groups.items()
            )
        )
        results: list[list[tuple[str, float]]] = [[] for _ in searches]
        for rows, nearest in zip(groups.values(), found, strict=True):
            for n, hits in zip(rows, nearest, strict=True):
                results[n] = hits
        return results

    def _supports(self, similarity: float | None) -> bool:
        # a passage ranked only lexically still counts if the question as a whole is
        # covered; a dense hit must not be far below the gate
        return similarity is None or similarity >= self.min_similarity * 0.75


def _without_title(section: str, title: str) -> str:
    """The section path without a leading heading that only repeats the document title."""
    head, _, rest = section.partition(" › ")
    return rest if head == title else section


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
