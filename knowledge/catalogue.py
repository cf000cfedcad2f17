"""The chunks of each bot, held in memory with their BM25 index.

Retrieval needs a chunk's text and provenance for every hit, and BM25 needs all of a
bot's chunk texts; both are loaded from the relational store once and rebuilt when the
bot's ``knowledge_version`` changes. Changes made in this process take effect at once;
changes made by another process are noticed within ``refresh_seconds``. While some of a
bot's chunks have no vector of the configured model yet, the count of those that do is
read again at each refresh (without reloading the chunks), so dense search widens as
the background job goes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select

from core.storage.database import Database
from core.storage.models import Bot, Chunk, Document
from knowledge.chunking import indexed_text
from knowledge.lexical import LexicalIndex


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """What retrieval returns about a chunk."""

    id: str
    document_id: str
    title: str
    text: str
    page: int | None
    section: str

    def indexed_text(self) -> str:
        return indexed_text(self.section, self.text)


@dataclass(frozen=True, slots=True)
class BotIndex:
    """One bot's chunks by id and their lexical index, at one knowledge version."""

    version: int
    chunks: dict[str, ChunkInfo]
    lexical: LexicalIndex
    vectors: int = 0  # chunks with a vector of the configured model
    checked_at: float = field(default_factory=time.monotonic)


class ChunkCatalogue:
    """Per-bot chunk catalogues, loaded lazily and refreshed when the knowledge changes."""

    def __init__(
        self, db: Database, refresh_seconds: float = 2.0, *, embedder: str | None = None
    ) -> None:
        """``embedder`` names the model whose vectors dense search uses (None: count
        every chunk as having one)."""
        self._db = db
        self._embedder = embedder
        self._refresh = refresh_seconds
        self._indexes: dict[str, BotIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._marks: dict[str, int] = {}  # vectors added, per bot (see refresh_vectors)

    async def get(self, bot_id: str) -> BotIndex:
        """The bot's current index (an empty one for a bot without documents)."""
        current = self._indexes.get(bot_id)
        if current and time.monotonic() - current.checked_at < self._refresh:
            return current
        async with self._locks.setdefault(bot_id, asyncio.Lock()):
            current = self._indexes.get(bot_id)
            mark = self._marks.get(bot_id, 0)
            async with self._db.read() as session:
                version = await session.scalar(
                    select(Bot.knowledge_version).where(Bot.id == bot_id)
                )
            version = version or 0
            if current and current.version == version:
                vectors = current.vectors
                if vectors < len(current.chunks):
                    vectors = await self._count_vectors(bot_id)
                current = BotIndex(current.version, current.chunks, current.lexical, vectors)
            else:
                current = await self._load(bot_id, version)
            if self._marks.get(bot_id, 0) != mark:  # vectors were added while counting
                current = BotIndex(
                    current.version, current.chunks, current.lexical, current.vectors, 0.0
                )
            self._indexes[bot_id] = current
            return current

    def invalidate(self, bot_id: str) -> None:
        """Forget a bot's index so the next search reloads it."""
        self._indexes.pop(bot_id, None)

    def refresh_vectors(self, bot_id: str) -> None:
        """Have the next search count the bot's vectors again (more were added)."""
        self._marks[bot_id] = self._marks.get(bot_id, 0) + 1
        current = self._indexes.get(bot_id)
        if current is not None:
            self._indexes[bot_id] = BotIndex(
                current.version, current.chunks, current.lexical, current.vectors, 0.0
            )

    async def _count_vectors(self, bot_id: str) -> int:
        condition = Chunk.bot_id == bot_id
        if self._embedder is not None:
            condition = condition & (Chunk.embedder == self._embedder)
        async with self._db.read() as session:
            return int(await session.scalar(select(func.count()).where(condition)) or 0)

    async def _load(self, bot_id: str, version: int) -> BotIndex:
        async with self._db.read() as session:
            rows = await session.execute(
                select(
                    Chunk.id,
                    Chunk.document_id,
                    Document.title,
                    Chunk.text,
                    Chunk.page,
                    Chunk.heading_path,
                    Chunk.embedder,
                )
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.bot_id == bot_id)
                .order_by(Chunk.document_id, Chunk.position)
            )
            chunks: dict[str, ChunkInfo] = {}
            vectors = 0
            for chunk_id, document_id, title, text, page, section, embedder in rows:
                chunks[chunk_id] = ChunkInfo(chunk_id, document_id, title, text, page, section)
                vectors += self._embedder is None or embedder == self._embedder
        lexical = await asyncio.to_thread(
            LexicalIndex, list(chunks), [c.indexed_text() for c in chunks.values()]
        )
        return BotIndex(version, chunks, lexical, vectors)
