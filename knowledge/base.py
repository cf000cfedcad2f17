"""A bot's knowledge base: ingest documents, list them, delete them.

Ingestion reads a document (in a worker thread), splits it into chunks and stores the
document and its chunks in the relational store, reporting progress all the way: from
then on its passages are found by their words. Their vectors are computed afterwards by
a background job (:mod:`knowledge.indexing`), which ``schedule`` starts, so nobody
waits for the embedding model. A document's id is a hash of the bot and its content, so
ingesting the same file again finds it and adds nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import UnknownBot
from core.storage.database import Database
from core.storage.models import Bot, Chunk, Document
from knowledge.catalogue import ChunkCatalogue
from knowledge.chunking import KnowledgeChunk, StructuredChunker
from knowledge.documents import Limits, LoadedDocument, Progress, ProgressCallback, no_progress
from knowledge.errors import DocumentTooLarge, UnknownDocument, UnreadableDocument
from knowledge.indexing import Schedule
from knowledge.loaders import load_bytes, load_url
from knowledge.netguard import public_session
from knowledge.vectorstore import ChromaStore


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A document of a bot's knowledge base, as listed to its creator."""

    id: str
    title: str
    source: str
    mime_type: str
    pages: int | None
    chunk_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The document and whether this ingestion added it (False: it was there already)."""

    document: DocumentInfo
    added: bool


class KnowledgeBase:
    """Ingests and removes documents of each bot's knowledge base."""

    def __init__(
        self,
        db: Database,
        store: ChromaStore,
        catalogue: ChunkCatalogue,
        *,
        schedule: Schedule | None = None,
        chunker: StructuredChunker | None = None,
        limits: Limits | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self._db = db
        self._store = store
        self._schedule = schedule
        self._catalogue = catalogue
        self._chunker = chunker or StructuredChunker()
        self.limits = limits or Limits()
        self._http: aiohttp.ClientSession | None = None
        self._allow_private_urls = allow_private_urls

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def ingest_path(
        self,
        bot_id: str,
        path: Path,
        *,
        progress: ProgressCallback = no_progress,
        vectors: bool = True,
    ) -> IngestResult:
        """Ingest a local file; ``vectors=False`` leaves its vectors to be made later
        (the next start queues the passages still without one, as ``chorus reindex``
        does), its words being searchable at once."""
        data = await asyncio.to_thread(_read_file, path, self.limits.max_bytes)
        return await self.ingest_bytes(bot_id, data, path.name, progress=progress, vectors=vectors)

    async def ingest_bytes(
        self,
        bot_id: str,
        data: bytes,
        name: str,
        *,
        mime_type: str | None = None,
        progress: ProgressCallback = no_progress,
        vectors: bool = True,
    ) -> IngestResult:
        """Ingest a document received as bytes (an upload, a file sent in chat); its
        vectors are queued unless ``vectors`` is False."""
        await self._require_bot(bot_id)
        content_hash = hashlib.sha256(data).hexdigest()
        known = await self._find(bot_id, content_hash)
        if known is not None:
            return IngestResult(known, added=False)
        document = await asyncio.to_thread(
            load_bytes, data, name, mime_type=mime_type, limits=self.limits, progress=progress
        )
        return await self._add(bot_id, document, content_hash, progress, vectors=vectors)

    async def ingest_url(
        self, bot_id: str, url: str, *, progress: ProgressCallback = no_progress
    ) -> IngestResult:
        """Fetch a web page or file and ingest it."""
        await self._require_bot(bot_id)
        if self._http is None:
            self._http = aiohttp.ClientSession() if self._allow_private_urls else public_session()
        document = await load_url(url, session=self._http, limits=self.limits, progress=progress)
        text = "\n".join(b.text for b in document.blocks)
        content_hash = hashlib.sha256(f"{url}\n{text}".encode()).hexdigest()
        known = await self._find(bot_id, content_hash)
        if known is not None:
            return IngestResult(known, added=False)
        return await self._add(bot_id, document, content_hash, progress)

    async def documents(self, bot_id: str) -> list[DocumentInfo]:
        """The bot's documents, oldest first."""
        await self._require_bot(bot_id)
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Document).where(Document.bot_id == bot_id).order_by(Document.created_at)
            )
            return [_info(d) for d in rows]

    async def delete(self, bot_id: str, document_id: str) -> DocumentInfo:
        """Delete a document (by id or unambiguous id prefix) and all of its chunks."""
        async with self._db.transaction() as session:
            matches = list(
                await session.scalars(
                    select(Document).where(
                        Document.bot_id == bot_id, Document.id.startswith(document_id.lower())
                    )
                )
            )
            if len(matches) != 1 or not document_id:
                raise UnknownDocument(bot_id, document_id)
            document = matches[0]
            chunk_ids = list(
                await session.scalars(select(Chunk.id).where(Chunk.document_id == document.id))
            )
            await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
            await session.delete(document)
            await _bump(session, bot_id)
        self._catalogue.invalidate(bot_id)
        if (model := await self._store.embedder_of(bot_id)) is not None:
            await self._store.delete(bot_id, model, chunk_ids)
        return _info(document)

    async def _require_bot(self, bot_id: str) -> None:
        async with self._db.read() as session:
            if await session.get(Bot, bot_id) is None:
                raise UnknownBot(bot_id)

    async def _find(self, bot_id: str, content_hash: str) -> DocumentInfo | None:
        async with self._db.read() as session:
            found = await session.scalar(
                select(Document).where(
                    Document.bot_id == bot_id, Document.content_hash == content_hash
                )
            )
            return _info(found) if found else None

    async def _add(
        self,
        bot_id: str,
        document: LoadedDocument,
        content_hash: str,
        progress: ProgressCallback,
        *,
        vectors: bool = True,
    ) -> IngestResult:
        document_id = hashlib.sha256(f"{bot_id}\0{content_hash}".encode()).hexdigest()[:32]
        chunks = self._chunker.split(document, document_id)
        if not chunks:
            raise UnreadableDocument(document.source, "it contains no text to learn from")
        progress(
            Progress(
                "chunking",
                len(chunks),
                len(chunks),
                f"Split “{document.title}” into {len(chunks)} passages…",
            )
        )
        progress(Progress("indexing", 0, len(chunks), "Indexing the passages…"))
        info = DocumentInfo(
            document_id,
            document.title[:500],
            document.source[:2000],
            document.mime_type,
            document.pages,
            len(chunks),
            datetime.now(UTC),
        )
        async with self._db.transaction() as session:
            session.add(
                Document(
                    id=info.id,
                    bot_id=bot_id,
                    title=info.title,
                    source=info.source,
                    mime_type=info.mime_type,
                    content_hash=content_hash,
                    pages=info.pages,
                    chunk_count=info.chunk_count,
                )
            )
            await session.flush()
            await session.execute(insert(Chunk), [_row(bot_id, c) for c in chunks])
            await _bump(session, bot_id)
        self._catalogue.invalidate(bot_id)
        if self._schedule is not None and vectors:
            await self._schedule(bot_id)  # the vectors, in the background
        progress(
            Progress(
                "done", len(chunks), len(chunks), f"Learned “{info.title}”: {len(chunks)} passages."
            )
        )
        return IngestResult(info, added=True)


def _read_file(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing before reading what is over the size limit."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise DocumentTooLarge(path.name, f"its size ({size:,} bytes)", f"{limit:,} bytes")
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise UnreadableDocument(path.name, "it is a folder, not a file") from exc
    except OSError as exc:
        raise UnreadableDocument(path.name, f"cannot be opened ({exc.strerror})") from exc


async def _bump(session: AsyncSession, bot_id: str) -> None:
    """Tell every process's catalogue that the bot's knowledge changed."""
    await session.execute(
        update(Bot).where(Bot.id == bot_id).values(knowledge_version=Bot.knowledge_version + 1)
    )


def _row(bot_id: str, chunk: KnowledgeChunk) -> dict[str, object]:
    return {
        "id": chunk.id,
        "bot_id": bot_id,
        "document_id": chunk.document_id,
        "position": chunk.position,
        "text": chunk.text,
        "page": chunk.page,
        "heading_path": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
    }


def _info(document: Document) -> DocumentInfo:
    return DocumentInfo(
        document.id,
        document.title,
        document.source,
        document.mime_type,
        document.pages,
        document.chunk_count,
        document.created_at,
    )
