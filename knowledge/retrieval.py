"""Hybrid retrieval: dense vectors and BM25 over the same chunks, fused by rank.

Dense search finds passages that mean the same thing in other words (or another
language); BM25 finds the rare exact terms dense models blur (names, numbers, jargon).
Their rankings are fused with reciprocal rank fusion, near-duplicate passages are
dropped, and a relevance gate (:mod:`knowledge.relevance`) weighing the dense
similarity, how far the best passage stands out and how much of the question's wording
the passages contain decides whether the material covers the question at all: if not,
the engine says so instead of guessing. Chunks whose vectors are not computed yet (a
document just added) are found by their words alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from core.batching import Batcher
from knowledge.catalogue import ChunkCatalogue, ChunkInfo
from knowledge.embeddings import Embedder, QueryBatcher, Vectors
from knowledge.errors import KnowledgeError
from knowledge.hubness import REFERENCE, hubness, rescaled
from knowledge.passages import Passage
from knowledge.relevance import Evidence, RelevanceGate, dense_evidence
from knowledge.vectorstore import ChromaStore

_SHINGLE = re.compile(r"\w+", re.UNICODE)

#: The relevance gate of each model, fitted by ``python bench/gate.py`` on the fit half
#: (by a hash of the question id) of XQuAD's questions in English, Russian, Chinese and
#: Arabic against its 240 English paragraphs (covered), hand-written questions about the
#: demo notes, the OCRmyPDF cookbook and a bot holding all of ../shared/data/docs
#: (covered), and of 80 everyday questions in seven languages against each of those
#: corpora plus a tea note, and XQuAD's questions asked of the other bots (off-topic).
#: e5's similarities are corrected for hub passages (knowledge.hubness): without it a
#: two-line table row of a mixed bot was the nearest passage of every off-topic
#: question, and stood out. Its numbers were chosen on the grid's front by hand: on the
#: held-out half they answer 98.2 % of English, 73.5 % of Russian, 54 % of Chinese,
#: 56.8 % of Arabic XQuAD questions and every hand-written one, and decline 98 % of
#: everyday questions (97.1 % over both halves) and 97.9 % of XQuAD's questions asked
#: of the other bots; dense recall@5 is 0.99 (en), 0.94 (ru), 0.89 (zh), 0.85 (ar).
#: MiniLM is fitted on English questions only (it does not read the others): it
#: answers 99 % of English questions and declines 99.7 % and 96.7 %
#: (bench/results/gate.json).
GATES = {
    "multilingual-e5-small-q4": RelevanceGate(
        similarity=0.86,
        floor=0.75,
        weight=8.0,
        lifted=1.13,
        supported=0.5,
        lexical=0.6,
        unfamiliar=0.4,
        hubs=True,
        penalty=0.3,
    ),
    "all-MiniLM-L6-v2-int8": RelevanceGate(
        similarity=0.35,
        floor=0.24,
        weight=4.0,
        lifted=1.04,
        supported=0.4,
        lexical=0.7,
        unfamiliar=0.6,
    ),
}
#: for a model nobody measured (an Ollama model): cosine alone, as before the margin
FALLBACK_GATE = RelevanceGate(
    similarity=0.5, floor=0.5, weight=0.0, lifted=1.0, supported=0.7, lexical=0.9
)

log = logging.getLogger("chorus.retrieval")


def default_gate(embedder: Embedder) -> RelevanceGate:
    """The calibrated relevance gate for an embedding model."""
    return GATES.get(embedder.name, FALLBACK_GATE)


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
        gate: RelevanceGate,
        candidates: int = 30,
        rrf_k: int = 60,
        duplicate_overlap: float = 0.8,
        queries: QueryBatcher | None = None,
    ) -> None:
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
        self.gate = gate
        self._reference: np.ndarray | None = None  # REFERENCE, embedded (gate.hubs)
        self._reference_lock = asyncio.Lock()
        self._warned: set[str] = set()
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._duplicate_overlap = duplicate_overlap

    @property
    def min_similarity(self) -> float:
        """The least dense similarity the gate accepts (its floor)."""
        return self.gate.floor

    async def load(self) -> None:
        """Open the vector store and load the embedding model now, in worker threads,
        rather than when the first question comes (each takes a good part of a second)."""
        await self._store.ping()
        if self.gate.hubs:
            await self._reference_vectors()
        else:
            await self._embedder.embed_query("warm-up")

    async def _reference_vectors(self) -> np.ndarray:
        """The hubness reference questions, embedded once."""
        async with self._reference_lock:
            if self._reference is None:
                self._reference = await self._embedder.embed_queries(list(REFERENCE))
            return self._reference

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        """The relevant passages, best first; empty when the material does not cover it."""
        scored = await self.explain(bot_id, query, limit=limit)
        return [s.as_passage() for s in scored if s.relevant]

    async def explain(self, bot_id: str, query: str, *, limit: int = 5) -> list[ScoredPassage]:
        """The best passages with their dense, lexical and fused scores, relevant or not."""
        index = await self._catalogue.get(bot_id)
        if not index.chunks or not query.strip():
            return []
        dense, lexical = await asyncio.gather(
            self._dense_hits(bot_id, query, min(self._candidates, index.vectors)),
            asyncio.to_thread(index.lexical.search, query, self._candidates),
        )
        dense = [(i, s) for i, s in dense if i in index.chunks]  # deleted meanwhile: skip
        fused: dict[str, float] = {}
        for ranking in (dense, lexical):
            for rank, (chunk_id, _) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self._rrf_k + rank + 1)
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        similarity, margin = dense_evidence([s for _, s in dense])
        # what the best passages found either way say of the question's words
        near = [i for i, _ in lexical[:5]] + [i for i, _ in dense[:5]]
        coverage = index.lexical.coverage(query, near)
        unfamiliar = index.lexical.unfamiliar(query)
        evidence = Evidence(similarity, margin, coverage, unfamiliar)
        covered = self.gate.covers(evidence)
        log.debug("bot %s, %r: %s, covered: %s", bot_id, query, evidence, covered)
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
                    relevant=covered and self.gate.supports(similarity),
                )
            )
            if len(chosen) == limit:
                break
        return chosen

    async def _dense_hits(self, bot_id: str, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks with vectors of this model; none while a bot has no
        such vectors (they are being computed, or were made by another model): then the
        lexical evidence alone decides."""
        if k <= 0:
            return []
        vector = await self._queries.embed_query(query)
        try:
            return await self._dense.submit(_DenseSearch(bot_id, vector, k))
        except KnowledgeError as exc:
            if bot_id not in self._warned:
                self._warned.add(bot_id)
                log.warning("dense search of bot %s failed, words only: %s", bot_id, exc)
            return []

    async def _search_dense(self, searches: list[_DenseSearch]) -> list[list[tuple[str, float]]]:
        """One vector-store call per bot (and ``k``) for a batch of searches."""
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for n, search in enumerate(searches):
            groups[(search.bot_id, search.k)].append(n)
        found = await asyncio.gather(
            *(
                self._store.nearest(
                    bot_id, self._embedder.name, np.stack([searches[n].vector for n in rows]), k
                )
                for (bot_id, k), rows in groups.items()
            )
        )
        reference = await self._reference_vectors() if self.gate.hubs else None
        results: list[list[tuple[str, float]]] = [[] for _ in searches]
        for rows, nearest in zip(groups.values(), found, strict=True):
            for n, (hits, vectors) in zip(rows, nearest, strict=True):
                results[n] = hits if reference is None else _without_hubs(hits, vectors, reference)
        return results


def _without_hubs(
    hits: list[tuple[str, float]], vectors: np.ndarray, reference: np.ndarray
) -> list[tuple[str, float]]:
    """The hits with their similarities corrected for hubness (knowledge.hubness),
    best first again."""
    if len(hits) != len(vectors):
        return hits
    similarities = rescaled(np.array([s for _, s in hits]), hubness(vectors, reference))
    corrected = [(i, float(s)) for (i, _), s in zip(hits, similarities, strict=True)]
    return sorted(corrected, key=lambda hit: hit[1], reverse=True)


def _without_title(section: str, title: str) -> str:
    """The section path without a leading heading that only repeats the document title."""
    head, _, rest = section.partition(" › ")
    return rest if head == title else section


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
