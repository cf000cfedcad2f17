"""Dense vectors of a bot's chunks, computed after the chunks are stored.

A document is answerable by its words as soon as its chunks are stored
(:mod:`knowledge.base`); its vectors follow here, in a background job per bot, so a
creator never waits for the embedding model. Each chunk row records the model that
made its vector (``chunks.embedder``; NULL: none yet), which makes the work resumable
(a process that dies mid-way leaves NULL rows, and the next run embeds just those) and
makes a change of ``EMBEDDING_MODEL`` visible: chunks of another model are *stale*
until ``chorus reindex`` embeds them again. Texts are embedded in large batches while
the previous batch is being stored, so the job runs at nearly the embedder's own rate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, update

from core.storage.database import Database
from core.storage.models import Bot, Chunk
from knowledge.catalogue import ChunkCatalogue
from knowledge.chunking import indexed_text
from knowledge.documents import Progress, ProgressCallback, no_progress
from knowledge.embeddings import Embedder, Vectors
from knowledge.vectorstore import ChromaStore

log = logging.getLogger("chorus.indexing")

#: chunks embedded and stored together: enough that sorting by length pads little and
#: the costs per batch (a Chroma upsert, an UPDATE) hide behind the next batch's
#: embedding, few enough that an interrupted run loses little and progress shows
BATCH = 64
#: the background job that embeds a bot's pending chunks (its id is the bot's id)
KIND = "vectors"

Schedule = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class VectorState:
    """How far a bot's vectors are: chunks embedded by the configured model, waiting
    for a vector, and embedded by another model (stale, until reindexed)."""

    bot_id: str
    current: int
    pending: int
    stale: int
    stale_models: tuple[str, ...] = ()


class VectorIndexer:
    """Computes the missing vectors of a bot's chunks with the configured embedder."""

    def __init__(
        self, db: Database, store: ChromaStore, embedder: Embedder, catalogue: ChunkCatalogue
    ) -> None:
        self._db = db
        self._store = store
        self._embedder = embedder
        self._catalogue = catalogue
        self._locks: dict[str, asyncio.Lock] = {}
        self._watchers: dict[str, list[ProgressCallback]] = {}
        #: the bots with vectors of another model, as last found by :meth:`unfinished`
        self.stale: list[VectorState] = []

    @property
    def model(self) -> str:
        return self._embedder.name

    async def run(self, bot_id: str) -> None:
        """Embed the bot's chunks that have no vector yet (the background job)."""
        await self.index(bot_id)

    async def index(
        self,
        bot_id: str,
        *,
        reindex: bool = False,
        force: bool = False,
        progress: ProgressCallback = no_progress,
    ) -> int:
        """Embed what the bot lacks; how many chunks were embedded.

        Vectors of another model are left alone (and reported stale) unless ``reindex``:
        then the bot's collection is dropped and every chunk embedded again, as with
        ``force`` whatever the model. A second call for a bot already being indexed in
        this process waits for the first, its ``progress`` following the first's.
        """
        watchers = self._watchers.setdefault(bot_id, [])
        watchers.append(progress)
        try:
            async with self._locks.setdefault(bot_id, asyncio.Lock()):
                return await self._index(bot_id, reindex or force, force, watchers)
        finally:
            watchers.remove(progress)

    async def _index(
        self, bot_id: str, reindex: bool, force: bool, watchers: list[ProgressCallback]
    ) -> int:
        stored = await self._store.embedder_of(bot_id)
        if stored is not None and (force or (reindex and stored != self.model)):
            await self._store.drop(bot_id)
            stored = None
            await self._forget(bot_id, everything=True)
        elif reindex:
            await self._forget(bot_id, everything=False)  # another model's: embed anew
        if stored is not None and stored != self.model:
            pending = await self._pending(bot_id)
            await self._adopt(bot_id, stored, pending)
            log.warning(
                "bot %s has vectors of %s, not %s: its passages are found by their words "
                "only until `chorus reindex %s`",
                bot_id,
                stored,
                self.model,
                bot_id,
            )
            return 0
        embedded = 0
        while True:  # until no chunk waits: documents added meanwhile are taken too
            pending = await self._pending(bot_id)
            if stored == self.model:
                pending = await self._adopt(bot_id, self.model, pending)
            if not pending:
                break
            embedded += await self._embed_all(bot_id, pending, watchers)
            stored = self.model
        if reindex:
            self.stale = [s for s in self.stale if s.bot_id != bot_id]
        if embedded:
            self._catalogue.refresh_vectors(bot_id)
            log.info("bot %s: embedded %d passages with %s", bot_id, embedded, self.model)
        return embedded

    async def _embed_all(
        self, bot_id: str, pending: list[tuple[str, str]], watchers: list[ProgressCallback]
    ) -> int:
        """Embed and store ``pending`` batch by batch, the next batch embedding while
        the last one is stored; each stored batch is noted, so an interrupted run
        leaves only the rest to do."""
        total = len(pending)

        def report(done: int) -> None:
            message = f"Embedding passages: {done} of {total}…"
            for watcher in list(watchers):
                watcher(Progress("embedding", done, total, message))

        report(0)
        done = 0
        batches = [pending[i : i + BATCH] for i in range(0, total, BATCH)]
        embedding = asyncio.ensure_future(self._embed(batches[0]))
        try:
            for n, batch in enumerate(batches):
                vectors = await embedding
                if n + 1 < len(batches):
                    embedding = asyncio.ensure_future(self._embed(batches[n + 1]))
                await self._save(bot_id, batch, vectors)
                self._catalogue.refresh_vectors(bot_id)  # dense search widens at once
                done += len(batch)
                report(done)
        finally:
            if not embedding.done():
                embedding.cancel()
        return total

    async def state(self, bot_id: str) -> VectorState:
        """How far the bot's vectors are."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(Chunk.embedder, func.count())
                .where(Chunk.bot_id == bot_id)
                .group_by(Chunk.embedder)
            )
            counts: dict[str | None, int] = {}
            for model, n in rows:
                counts[model] = n
        stale = {m: n for m, n in counts.items() if m is not None and m != self.model}
        return VectorState(
            bot_id,
            counts.get(self.model, 0),
            counts.get(None, 0),
            sum(stale.values()),
            tuple(sorted(stale)),
        )

    async def unfinished(self) -> tuple[list[str], list[VectorState]]:
        """Bots with chunks waiting for a vector, and the states of bots with stale ones."""
        async with self._db.read() as session:
            waiting = list(
                await session.scalars(
                    select(Chunk.bot_id).where(Chunk.embedder.is_(None)).distinct()
                )
            )
            stale_bots = list(
                await session.scalars(
                    select(Chunk.bot_id)
                    .where(Chunk.embedder.is_not(None), Chunk.embedder != self.model)
                    .distinct()
                )
            )
        self.stale = [await self.state(b) for b in sorted(stale_bots)]
        return sorted(waiting), self.stale

    async def _pending(self, bot_id: str) -> list[tuple[str, str]]:
        """(id, indexed text) of the bot's chunks without a vector, in reading order."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(Chunk.id, Chunk.heading_path, Chunk.text)
                .where(Chunk.bot_id == bot_id, Chunk.embedder.is_(None))
                .order_by(Chunk.document_id, Chunk.position)
            )
            return [(i, indexed_text(section, text)) for i, section, text in rows]

    async def _adopt(
        self, bot_id: str, model: str, pending: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Record ``model`` on pending chunks whose vectors are in the collection already
        (stored before this column existed, or by a process that died before noting it);
        the chunks still pending."""
        present = await self._store.present(bot_id, model, [i for i, _ in pending])
        if present:
            await self._mark(bot_id, sorted(present), model)
        return [p for p in pending if p[0] not in present]

    async def _embed(self, batch: Sequence[tuple[str, str]]) -> Vectors:
        vectors = await self._embedder.embed_documents([text for _, text in batch])
        return np.asarray(vectors, dtype=np.float32)

    async def _save(self, bot_id: str, batch: Sequence[tuple[str, str]], vectors: Vectors) -> None:
        ids = [i for i, _ in batch]
        async with self._db.read() as session:  # chunks deleted meanwhile get no vector
            alive = set(await session.scalars(select(Chunk.id).where(Chunk.id.in_(ids))))
        keep = [n for n, i in enumerate(ids) if i in alive]
        if keep:
            await self._store.upsert(
                bot_id,
                self.model,
                [ids[n] for n in keep],
                vectors[keep],
                [{"bot_id": bot_id} for _ in keep],
            )
            await self._mark(bot_id, [ids[n] for n in keep], self.model)

    async def _mark(self, bot_id: str, ids: Sequence[str], model: str) -> None:
        async with self._db.transaction() as session:
            for start in range(0, len(ids), 500):
                await session.execute(
                    update(Chunk)
                    .where(Chunk.bot_id == bot_id, Chunk.id.in_(ids[start : start + 500]))
                    .values(embedder=model)
                )

    async def _forget(self, bot_id: str, *, everything: bool) -> None:
        """Mark the bot's chunks (all, or those of another model) as having no vector."""
        condition = Chunk.bot_id == bot_id
        async with self._db.transaction() as session:
            if everything:
                await session.execute(update(Chunk).where(condition).values(embedder=None))
            else:
                await session.execute(
                    update(Chunk)
                    .where(condition, Chunk.embedder != self.model)
                    .values(embedder=None)
                )
            await session.execute(
                update(Bot)
                .where(Bot.id == bot_id)
                .values(knowledge_version=Bot.knowledge_version + 1)
            )
        self._catalogue.invalidate(bot_id)
