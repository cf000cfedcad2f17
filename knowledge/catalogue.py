"""The chunks of each bot, held in memory with their BM25 index.

Retrieval needs a chunk's text and provenance for every hit, and BM25 needs all of a
bot's chunk texts; both are loaded from the relational store once and rebuilt when the
bot's ``knowledge_version`` changes. Changes made in this process take effect at once;
changes made by another process are noticed within ``refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import select

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
    checked_at: float = field(default_factory=time.monotonic)


class ChunkCatalogue:
    """Per-bot chunk catalogues, loaded lazily and refreshed when the knowledge changes."""

    def __init__(self, db: Database, refresh_seconds: float = 2.0) -> None:
        self._db = db
        self._refresh = refresh_seconds
        self._indexes: dict[str, BotIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, bot_id: str) -> BotIndex:
        """The bot's current index (an empty one for a bot without documents)."""
        current = self._indexes.get(bot_id)
        if current and time.monotonic() - current.checked_at < self._refresh:
            return current
        async with self._locks.setdefault(bot_id, asyncio.Lock()):
            current = self._indexes.get(bot_id)
            async with self._db.read() as session:
                version = await session.scalar(
                    select(Bot.knowledge_version).where(Bot.id == bot_id)
                )
            version = version or 0
            if current and current.version == version:
                current = BotIndex(current.version, current.chunks, current.lexical)
            else:
                current = await self._load(bot_id, version)
            self._indexes[bot_id] = current
            return current

    def invalidate(self, bot_id: str) -> None:
        """Forget a bot's index so the next search reloads it."""
        self._indexes.pop(bot_id, None)

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
                )
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.bot_id == bot_id)
                .order_by(Chunk.document_id, Chunk.position)
            )
            chunks = {row[0]: ChunkInfo(*row) for row in rows}
        lexical = await asyncio.to_thread(
            LexicalIndex, list(chunks), [c.indexed_text() for c in chunks.values()]
        )
        return BotIndex(version, chunks, lexical)
