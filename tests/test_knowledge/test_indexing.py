"""Vectors computed after a document is stored, and the relevance gate around them.

A new document answers by its words at once; its vectors follow from a background job
(held back here by queueing it on Redis with no worker to run it), which a later
process finishes. A change of embedding model is noticed and ``reindex`` repairs it.
The gate answers covered questions in other languages and declines off-topic ones.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.services import Services, build_services, close, prepare, resume_vectors
from core.settings import Settings
from knowledge.indexing import VectorIndexer
from knowledge.lexical import LexicalIndex
from knowledge.relevance import Evidence, RelevanceGate, dense_evidence
from tests.servers import REDIS_URL
from tests.test_channels.telegram_app import services_ready, start

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"
COOKBOOK = DOCS / "md_ocrmypdf_cookbook.md"
TEA = b"""# Tea guide

## Green tea

Green tea is brewed at 80 degrees for two minutes. Boiling water makes it bitter.

## Black tea

Black tea is brewed with boiling water for four minutes.
"""


@pytest.fixture
def base(tmp_path: Path, app_database: dict[str, str]) -> Settings:
    """Settings of a data directory and database of this test alone (several processes'
    worth of services open them in turn)."""
    return Settings(data_dir=tmp_path / "data", speech_enabled=False, **app_database)


@pytest.fixture
async def opened() -> AsyncIterator[list[Services]]:
    """Services the test opens, closed at its end."""
    built: list[Services] = []
    yield built
    for services in built:
        await close(services)


async def open_services(settings: Settings, opened: list[Services]) -> Services:
    services = build_services(settings)
    opened.append(services)
    await prepare(services)
    return services


def indexer(services: Services) -> VectorIndexer:
    assert services.indexer is not None
    return services.indexer


async def test_a_new_document_answers_by_its_words_before_its_vectors_exist(
    base: Settings, opened: list[Services]
) -> None:
    # the vectors job goes to a Redis queue no worker reads: it stays undone
    queued = base.model_copy(
        update={"redis_url": REDIS_URL, "redis_prefix": f"test-{uuid.uuid4().hex[:10]}"}
    )
    services = await open_services(queued, opened)
    bot = await services.bots.create("Tea Shop")
    await services.knowledge.ingest_bytes(bot.id, TEA, "tea.md")
    state = await indexer(services).state(bot.id)
    assert (state.current, state.pending, state.stale) == (0, 2, 0)

    found = await services.retriever.search(bot.id, "Is black tea brewed with boiling water?")
    assert found[0].section == "Black tea"
    assert await services.retriever.search(bot.id, "How do I reset my router?") == []
    await close(services)
    opened.remove(services)

    # the next process (here without Redis) finds the chunks waiting and embeds them
    later = await open_services(base, opened)
    await later.jobs.idle()
    state = await indexer(later).state(bot.id)
    assert (state.current, state.pending) == (2, 0)
    assert await later.vectors.count(bot.id, indexer(later).model) == 2
    scored = await later.retriever.explain(bot.id, "How long is black tea brewed?")
    assert scored[0].chunk.section.endswith("Black tea")
    assert scored[0].dense is not None  # found by its vector now


async def test_a_changed_embedding_model_is_noticed_and_reindexed(
    base: Settings, opened: list[Services]
) -> None:
    minilm = await open_services(base.model_copy(update={"embedding_model": "minilm"}), opened)
    bot = await minilm.bots.create("Tea Shop")
    await minilm.knowledge.ingest_bytes(bot.id, TEA, "tea.md")
    await minilm.jobs.idle()
    assert (await indexer(minilm).state(bot.id)).current == 2
    await close(minilm)
    opened.remove(minilm)

    services = await open_services(base, opened)  # e5, the default
    await services.jobs.idle()
    state = await indexer(services).state(bot.id)
    assert (state.current, state.pending, state.stale) == (0, 0, 2)
    assert state.stale_models == ("all-MiniLM-L6-v2-int8",)
    # (the demo bot's notes were embedded by MiniLM too)
    assert [s.bot_id for s in await resume_vectors(services, quiet=True)] == ["demo", bot.id]
    assert [s.bot_id for s in indexer(services).stale] == ["demo", bot.id]
    # the stale vectors are not searched; the words still are
    found = await services.retriever.search(bot.id, "Is black tea brewed with boiling water?")
    assert found[0].section == "Black tea"
    assert await indexer(services).index(bot.id) == 0  # a plain run leaves them alone

    assert await indexer(services).index(bot.id, reindex=True) == 2
    state = await indexer(services).state(bot.id)
    assert (state.current, state.pending, state.stale) == (2, 0, 0)
    assert [s.bot_id for s in indexer(services).stale] == ["demo"]
    assert await services.vectors.count(bot.id, indexer(services).model) == 2
    assert await indexer(services).index(bot.id, reindex=True) == 0  # nothing left to do
    assert await indexer(services).index(bot.id, force=True) == 2  # everything again
    assert await services.vectors.count(bot.id, indexer(services).model) == 2


async def test_ready_names_the_bots_whose_vectors_another_model_made(
    base: Settings, opened: list[Services]
) -> None:
    minilm = await open_services(base.model_copy(update={"embedding_model": "minilm"}), opened)
    await minilm.jobs.idle()  # the demo bot's notes, embedded by MiniLM
    await close(minilm)
    opened.remove(minilm)
    client = await start(base)  # e5, the default
    try:
        await services_ready(client)
        response = await client.get("/ready")
        assert response.status == 200  # answers still come, by words
        body = await response.json()
        assert body["status"] == "ready"
        assert body["checks"]["vectors"].startswith("stale: demo has ")
        assert (
            "embedded by all-MiniLM-L6-v2-int8, run `chorus reindex demo`"
            in (body["checks"]["vectors"])
        )
    finally:
        await client.close()


async def test_questions_in_other_languages_are_answered_and_off_topic_ones_declined(
    services: Services,
) -> None:
    bot = await services.bots.create("OCR Help")
    await services.knowledge.ingest_path(bot.id, COOKBOOK)
    await services.jobs.idle()
    covered = {
        "Как исправить поворот страниц?": "Correct page rotation",
        "如何只处理某些页面？": "Process only certain pages",
        "Deskew?": "skew",  # one content word
        "How do I remove the OCR text layer from my PDF?": "Remove the OCR text layer",
    }
    for question, section in covered.items():
        found = await services.retriever.search(bot.id, question)
        assert found, question
        assert any(section in (p.section or "") for p in found[:3]), (question, found[:3])
    off_topic = (
        "How do I remove a red wine stain?",  # "remove" is all over the cookbook
        "Как вывести пятно от красного вина?",
        "What's a good pasta recipe for dinner?",
        "明天会下雨吗？",
    )
    for question in off_topic:
        assert await services.retriever.search(bot.id, question) == [], question


def test_coverage_weighs_the_words_a_question_shares_with_a_passage() -> None:
    texts = [
        "Remove the OCR text layer from a PDF with ocrmypdf.",
        "Remove pages you do not need before running OCR.",
        "Deskew crooked scans before OCR so the text is found.",
        "Optimise images to remove what makes a PDF large.",
    ]
    index = LexicalIndex(["layer", "pages", "deskew", "images"], texts)
    ids = ["layer", "pages", "deskew", "images"]
    assert index.coverage("How do I remove a red wine stain?", ids) < 0.2
    assert index.coverage("Deskew?", ids) == 1.0
    assert index.coverage("How do I remove the OCR text layer?", ids) > 0.9
    assert index.coverage("", ids) == index.coverage("Deskew?", []) == 0.0
    assert index.unfamiliar("How do I remove a red wine stain?") > 0.6
    assert index.unfamiliar("How do I deskew crooked scans?") == 0.0
    assert index.unfamiliar("Как исправить поворот страниц?") == 0.0  # not in its script
    assert index.unfamiliar("如何把PDF的OCR层去掉？") == 0.0
    # a word every passage has still counts when a bot is all about it
    one_topic = LexicalIndex(["a", "b"], ["Oolong is rolled.", "Oolong is oxidised."])
    assert one_topic.coverage("How is oolong made?", ["a", "b"]) == pytest.approx(0.5)


def test_the_gate_weighs_similarity_margin_and_words() -> None:
    gate = RelevanceGate(
        similarity=0.86, floor=0.75, weight=8.0, lifted=1.13, supported=0.4, lexical=0.5
    )
    assert gate.covers(Evidence(0.87, None, 0.0))  # similar enough alone
    assert not gate.covers(Evidence(0.80, None, 0.0))  # a few chunks: no margin to help
    assert gate.covers(Evidence(0.80, 0.05, 0.0))  # 0.80 + 8 * 0.05 stands out
    assert not gate.covers(Evidence(0.80, 0.02, 0.0))  # close to everything
    assert gate.covers(Evidence(0.80, 0.02, 0.4))  # the words back it
    assert not gate.covers(Evidence(0.70, 0.2, 0.4))  # below the floor nothing lifts it
    assert gate.covers(Evidence(None, None, 0.6))  # no vectors yet: the words alone
    assert not gate.covers(Evidence(None, None, 0.3))
    assert gate.with_floor(0.9).covers(Evidence(0.87, None, 0.0)) is False
    # a question mostly about things the documents never mention: the vectors alone
    # do not make it covered (a stain is not the OCR layer one removes)
    strict = RelevanceGate(0.86, 0.75, 8.0, 1.11, 0.4, 0.5, unfamiliar=0.6)
    assert strict.covers(Evidence(0.82, 0.04, 0.1, unfamiliar=0.0))
    assert not strict.covers(Evidence(0.82, 0.04, 0.1, unfamiliar=0.8))
    with pytest.raises(ValueError, match="floor"):
        RelevanceGate(similarity=0.7, floor=0.8, weight=1, lifted=1, supported=0.4, lexical=0.5)
    assert dense_evidence([]) == (None, None)
    assert dense_evidence([0.9, 0.8]) == (0.9, None)
    assert dense_evidence([0.9, 0.8, 0.7, 0.6]) == pytest.approx((0.9, 0.2))
