"""Two processes sharing one Chroma server (``CHROMA_URL``) and one database.

The server is chromadb's own ``chroma run``, started per test on a free port with its
data in the test's directory; each "process" is a separately built :class:`Services`
with its own Chroma client, database engine and chunk catalogue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import select

from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage.models import Chunk
from knowledge.vectorstore import collection_name
from tests.test_knowledge.test_knowledge_base import BIKES, TEA

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"
TUTORIAL = DOCS / "md_statemachine_tutorial.md"
COOKBOOK = DOCS / "md_ocrmypdf_cookbook.md"
EMBEDDER = "multilingual-e5-small-q4"
TEA_QUESTION = "Green tea is brewed at 80 degrees for two minutes"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, chroma_url: str) -> Settings:
    """Overrides conftest's: the ``services`` fixture is the first process."""
    return Settings(database_url=database_url, data_dir=tmp_path / "one", chroma_url=chroma_url)


@pytest.fixture
async def other(services: Services, settings: Settings, tmp_path: Path) -> AsyncIterator[Services]:
    """The second process: same database and Chroma server, its own everything else."""
    built = build_services(settings.model_copy(update={"data_dir": tmp_path / "two"}))
    await prepare(built)
    yield built
    await close(built)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait for another process's change to be noticed (catalogues refresh every 2 s)."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "the change was never noticed"
        await asyncio.sleep(0.2)


async def chunk_ids(services: Services, bot_id: str) -> set[str]:
    async with services.db.read() as session:
        return set(await session.scalars(select(Chunk.id).where(Chunk.bot_id == bot_id)))


async def vector_ids(url: str, bot_id: str) -> set[str]:
    """The ids in the bot's collection, read from the server by a third client."""

    def run() -> set[str]:
        host, port = url.removeprefix("http://").split(":")
        client = chromadb.HttpClient(
            host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False)
        )
        return set(client.get_collection(collection_name(bot_id)).get(include=[])["ids"])

    return await asyncio.to_thread(run)


async def test_a_document_ingested_by_one_process_is_found_by_the_other(
    services: Services, other: Services, chroma_url: str, tmp_path: Path
) -> None:
    assert services.vectors.location == other.vectors.location == chroma_url
    bot = await services.bots.create("Coffee Shop")
    result = await services.knowledge.ingest_path(bot.id, TUTORIAL)
    assert result.added
    await services.jobs.idle()  # its vectors, computed by the first process's job
    assert await other.vectors.count(bot.id, EMBEDDER) == result.document.chunk_count > 5
    hits = await other.retriever.search(bot.id, "How do I define states and transitions?")
    assert hits
    assert hits[0].document_id == result.document.id
    [best, *_] = await other.retriever.explain(bot.id, "coffee order state machine")
    assert best.dense is not None  # found through the server's vectors
    assert best.lexical is not None  # and through BM25 over the shared chunk rows
    # nothing went to an embedded store on disk
    assert not (tmp_path / "one" / "chroma").exists()
    assert not (tmp_path / "two" / "chroma").exists()


async def test_a_document_deleted_by_one_process_is_gone_for_the_other(
    services: Services, other: Services
) -> None:
    bot = await services.bots.create("Coffee Shop")
    result = await services.knowledge.ingest_path(bot.id, TUTORIAL)
    question = "coffee order state machine"
    assert await services.retriever.search(bot.id, question)  # the first process's cache is warm
    await other.knowledge.delete(bot.id, result.document.id)
    assert await services.vectors.count(bot.id, EMBEDDER) == 0  # the dense index, at once
    assert await services.knowledge.documents(bot.id) == []

    async def forgotten() -> bool:  # the lexical index, once the catalogue refreshes
        return await services.retriever.explain(bot.id, question, limit=50) == []

    await eventually(forgotten)
    assert await services.retriever.search(bot.id, question) == []


async def test_bots_never_see_each_others_chunks_on_the_server(
    services: Services, other: Services
) -> None:
    tea = await services.bots.create("Tea Shop")
    bikes = await other.bots.create("Bike Shop")
    await services.knowledge.ingest_bytes(tea.id, TEA, "tea.md")
    await other.knowledge.ingest_bytes(bikes.id, BIKES, "bikes.md")
    await asyncio.gather(services.jobs.idle(), other.jobs.idle())
    for process in (services, other):
        assert await process.vectors.count(tea.id, EMBEDDER) == 2
        assert await process.vectors.count(bikes.id, EMBEDDER) == 2
        assert await process.retriever.search(bikes.id, TEA_QUESTION) == []
        found = await process.retriever.explain(bikes.id, TEA_QUESTION, limit=10)
        assert found
        assert all(p.chunk.title == "Bicycle care" for p in found)
        assert (await process.retriever.search(tea.id, TEA_QUESTION))[0].title == "Tea guide"


async def test_concurrent_ingestion_from_both_processes_leaves_both_complete(
    services: Services, other: Services, chroma_url: str
) -> None:
    bot = await services.bots.create("Docs")  # no collection yet: both create it at once
    first, second = await asyncio.gather(
        services.knowledge.ingest_path(bot.id, TUTORIAL),
        other.knowledge.ingest_path(bot.id, COOKBOOK),
    )
    assert first.added
    assert second.added
    await asyncio.gather(services.jobs.idle(), other.jobs.idle())  # the vectors of both
    expected = {first.document.id, second.document.id}
    stored = await chunk_ids(services, bot.id)
    assert len(stored) == first.document.chunk_count + second.document.chunk_count
    assert await vector_ids(chroma_url, bot.id) == stored
    questions = {
        first.document.id: "How do I define states and transitions?",
        second.document.id: "How do I add an OCR layer and convert to PDF/A?",
    }
    for process in (services, other):
        assert {d.id for d in await process.knowledge.documents(bot.id)} == expected

        async def sees_both(process: Services = process) -> bool:
            for document_id, question in questions.items():
                hits = await process.retriever.search(bot.id, question)
                if not hits or hits[0].document_id != document_id:
                    return False
            return True

        await eventually(sees_both)
