"""Builds the objects a Chorus process runs on, in one place, and closes them in reverse.

The web server (``create_app``) and the terminal commands both open their services here,
so a conversation behaves the same whichever way it reaches the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bots.commands import CreatorCommands
from bots.demo import DEMO_BOT, DEMO_KNOWLEDGE
from bots.registry import BotDirectory
from channels.media import MediaReader, read_local_file
from core.composer import GroundedComposer
from core.dialogue import Dialogue
from core.engine import ConversationEngine
from core.generation import TextGenerator
from core.metrics import Metrics
from core.settings import Settings
from core.storage.database import Database
from knowledge.base import KnowledgeBase
from knowledge.catalogue import ChunkCatalogue
from knowledge.documents import Limits
from knowledge.embeddings import create_embedder
from knowledge.retrieval import HybridRetriever, default_min_similarity
from knowledge.vectorstore import ChromaStore


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a running process shares."""

    settings: Settings
    db: Database
    bots: BotDirectory
    engine: ConversationEngine
    metrics: Metrics
    knowledge: KnowledgeBase
    retriever: HybridRetriever
    generator: TextGenerator
    vectors: ChromaStore


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Construct (without connecting) storage, knowledge base, generators and engine."""
    metrics = metrics or Metrics()
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    bots = BotDirectory(db)
    embedder = create_embedder(
        settings.embedding_model,
        ollama_host=settings.ollama_host,
        ollama_model=settings.ollama_embedding_model,
    )
    vectors = (
        ChromaStore(url=settings.chroma_url)
        if settings.chroma_url
        else ChromaStore(path=settings.data_dir / "chroma")
    )
    catalogue = ChunkCatalogue(db)
    limits = Limits(max_bytes=settings.max_document_mb * 1024 * 1024)
    knowledge = KnowledgeBase(
        db,
        vectors,
        embedder,
        catalogue,
        limits=limits,
        allow_private_urls=settings.allow_private_urls,
    )
    retriever = HybridRetriever(
        catalogue,
        vectors,
        embedder,
        min_similarity=settings.knowledge_min_similarity or default_min_similarity(embedder),
    )
    media = MediaReader(limits.max_bytes)
    media.register("file", read_local_file)
    tools = CreatorCommands(knowledge, retriever, media.read)
    generator = GroundedComposer()
    dialogue = Dialogue(retriever, generator)
    engine = ConversationEngine(db, bots, dialogue, metrics, creator_tools=tools)
    return Services(settings, db, bots, engine, metrics, knowledge, retriever, generator, vectors)


async def prepare(services: Services) -> None:
    """Migrate the schema and give a fresh installation the demo bot and its knowledge."""
    await services.db.migrate()
    if await services.bots.ensure_demo():
        for path in sorted(DEMO_KNOWLEDGE.glob("*.md")):
            await services.knowledge.ingest_path(DEMO_BOT.id, path)


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build, prepare and finally close the services (for CLI commands)."""
    services = build_services(settings)
    try:
        await prepare(services)
        yield services
    finally:
        await close(services)


async def close(services: Services) -> None:
    """Stop the engine's writer, then close the knowledge base and the database."""
    await services.engine.close()
    await services.knowledge.close()
    await services.db.close()
