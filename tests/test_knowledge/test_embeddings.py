"""The embedders: the two real local models, and the Ollama client against a fake server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from pytest_aiohttp import AiohttpServer

from knowledge.embeddings import (
    E5Embedder,
    Embedder,
    MiniLMEmbedder,
    OllamaEmbedder,
    create_embedder,
    normalise,
)
from knowledge.errors import EmbeddingFailed, EmbeddingModelUnavailable
from tests.fakes.ollama import FakeOllama, bag_of_words

LOCAL = {"minilm": MiniLMEmbedder, "e5": E5Embedder}
MIXED = [
    "",
    "Bread",
    "The cat sat on the mat.",
    "Кошка сидела на коврике у двери.",
    "猫坐在门口的垫子上。",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen. " * 12,
    "How many points did the Panthers defense surrender during the 2015 season?",
    "tab\tand\nnewline, a NUL\x00byte and a lone surrogate \ud800 from a broken PDF",
]


@pytest.fixture(scope="module", params=sorted(LOCAL))
def local(request: pytest.FixtureRequest) -> Embedder:
    """One loaded-on-demand instance of each local model, shared by the module."""
    embedder: Embedder = LOCAL[request.param]()
    return embedder


async def test_vectors_are_normalised_float32_of_the_right_shape(local: Embedder) -> None:
    documents = await local.embed_documents(["first passage", "second passage", "third"])
    query = await local.embed_query("a question?")

    assert documents.shape == (3, local.dimensions)
    assert documents.dtype == np.float32
    assert query.shape == (local.dimensions,)
    assert query.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-5)


async def test_an_empty_list_gives_no_rows(local: Embedder) -> None:
    vectors = await local.embed_documents([])

    assert vectors.shape == (0, local.dimensions)
    assert vectors.dtype == np.float32


async def test_a_bare_string_is_refused(local: Embedder) -> None:
    with pytest.raises(TypeError):
        await local.embed_documents("one text, not a list")


async def test_related_texts_score_higher_than_unrelated_ones(local: Embedder) -> None:
    query = await local.embed_query("How do I bake bread at home?")
    related, unrelated = await local.embed_documents(
        ["A simple recipe for baking homemade bread in your oven.", "Stock markets fell sharply."]
    )

    assert float(related @ query) > float(unrelated @ query) + 0.1


@pytest.mark.parametrize("name", sorted(LOCAL))
async def test_batching_gives_the_same_vectors_as_one_by_one(name: str) -> None:
    batched = await LOCAL[name](batch_size=3).embed_documents(MIXED)
    single = LOCAL[name](batch_size=1)
    one_by_one = np.stack([(await single.embed_documents([text]))[0] for text in MIXED])

    assert batched.shape == (len(MIXED), single.dimensions)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5, rtol=0)


async def test_queries_embedded_together_equal_one_by_one(local: Embedder) -> None:
    together = await local.embed_queries(MIXED)
    one_by_one = np.stack([await local.embed_query(text) for text in MIXED])

    assert together.shape == (len(MIXED), local.dimensions)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(LOCAL))
async def test_embedding_leaves_the_event_loop_free(name: str) -> None:
    embedder = LOCAL[name](batch_size=64)
    await embedder.embed_query("load the model first")
    texts = [f"Passage {i} on rivers, mountains and the weather in spring. " * 2 for i in range(64)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    await embedder.embed_documents(texts)  # one batch: one call into the model
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ticks >= 5


async def test_e5_finds_an_english_passage_from_a_russian_question() -> None:
    e5 = E5Embedder()
    query = await e5.embed_query("Как испечь хлеб дома?")
    related, unrelated = await e5.embed_documents(
        ["A simple recipe for baking homemade bread.", "The stock market fell sharply."]
    )

    assert float(related @ query) > float(unrelated @ query) + 0.05


async def test_e5_embeds_queries_and_passages_with_their_own_prefixes() -> None:
    e5 = E5Embedder()
    as_query = await e5.embed_query("protein per day")
    (as_passage,) = await e5.embed_documents(["protein per day"])

    assert float(as_query @ as_passage) < 0.999


async def test_e5_thread_count_does_not_move_the_vector_space() -> None:
    texts = MIXED[1:6]

    capped = await E5Embedder(threads=1).embed_documents(texts)
    every_core = await E5Embedder(threads=None).embed_documents(texts)

    np.testing.assert_allclose(capped, every_core, atol=1e-5, rtol=0)


async def test_a_model_file_that_differs_from_the_pinned_one_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "model.onnx"
    altered.write_bytes(b"not the model")

    with pytest.raises(EmbeddingModelUnavailable, match="sha256"):
        await MiniLMEmbedder(model_path=altered).embed_query("hello")


def test_create_embedder_chooses_by_name() -> None:
    assert isinstance(create_embedder("minilm"), MiniLMEmbedder)
    assert isinstance(create_embedder(" E5 "), E5Embedder)
    ollama = create_embedder("ollama", ollama_host="http://10.0.0.5:11434", ollama_model="bge-m3")
    assert isinstance(ollama, OllamaEmbedder)
    assert (ollama.name, ollama.dimensions) == ("ollama/bge-m3", 1024)
    with pytest.raises(ValueError, match="minilm, e5, ollama"):
        create_embedder("word2vec")


# --- Ollama, against tests/fakes/ollama.py ------------------------------------------------


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama(models={"nomic-embed-text:latest": 768, "custom-embed:latest": 16})


@pytest.fixture
async def ollama_host(fake: FakeOllama, aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def ollama(ollama_host: str) -> AsyncIterator[OllamaEmbedder]:
    embedder = OllamaEmbedder(host=ollama_host, model="nomic-embed-text", batch_size=2)
    yield embedder
    await embedder.aclose()


async def test_ollama_vectors_are_normalised_and_sent_in_batches(
    ollama: OllamaEmbedder, fake: FakeOllama
) -> None:
    texts = ["one", "two words", "three more words", "four", "five"]

    vectors = await ollama.embed_documents(texts)

    prefixed = [f"search_document: {text}" for text in texts]
    assert [r["input"] for r in fake.requests] == [prefixed[0:2], prefixed[2:4], prefixed[4:]]
    assert {r["model"] for r in fake.requests} == {"nomic-embed-text"}
    assert vectors.shape == (5, 768)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(
        vectors, normalise([bag_of_words(t, 768) for t in prefixed]), atol=1e-6
    )


async def test_ollama_query_carries_the_models_query_prefix(
    ollama: OllamaEmbedder, fake: FakeOllama
) -> None:
    vector = await ollama.embed_query("how do I relax?")

    assert fake.requests == [
        {"model": "nomic-embed-text", "input": ["search_query: how do I relax?"]}
    ]
    assert vector.shape == (768,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


async def test_ollama_queries_together_carry_the_query_prefix(
    ollama: OllamaEmbedder, fake: FakeOllama
) -> None:
    vectors = await ollama.embed_queries(["how do I relax?", "why sigh?", "when?"])

    assert [r["input"] for r in fake.requests] == [
        ["search_query: how do I relax?", "search_query: why sigh?"],
        ["search_query: when?"],
    ]
    assert vectors.shape == (3, 768)


async def test_ollama_server_error_is_an_embedding_failure(
    ollama: OllamaEmbedder, fake: FakeOllama
) -> None:
    fake.fail_status = 500

    with pytest.raises(EmbeddingFailed, match="answered 500: llama runner") as caught:
        await ollama.embed_documents(["hello"])
    assert caught.value.model == "ollama/nomic-embed-text"


@pytest.mark.parametrize("defect", ["malformed", "wrong_count"])
async def test_ollama_malformed_answer_is_an_embedding_failure(
    ollama: OllamaEmbedder, fake: FakeOllama, defect: str
) -> None:
    setattr(fake, defect, True)

    with pytest.raises(EmbeddingFailed):
        await ollama.embed_documents(["hello", "world"])


async def test_ollama_model_not_pulled_says_how_to_pull_it(ollama_host: str) -> None:
    embedder = OllamaEmbedder(host=ollama_host, model="mxbai-embed-large")
    try:
        with pytest.raises(EmbeddingFailed, match="ollama pull mxbai-embed-large"):
            await embedder.embed_query("hello")
        with pytest.raises(EmbeddingFailed, match="not pulled"):
            await embedder.check()
    finally:
        await embedder.aclose()


async def test_ollama_check_passes_when_the_model_is_pulled(ollama: OllamaEmbedder) -> None:
    await ollama.check()


async def test_ollama_absent_server_is_an_embedding_failure() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = OllamaEmbedder(host=f"http://user:secret@127.0.0.1:{port}", timeout=5)
    try:
        with pytest.raises(EmbeddingFailed, match="cannot connect") as caught:
            await embedder.embed_documents(["hello"])
        assert "secret" not in str(caught.value)
        with pytest.raises(EmbeddingFailed, match="cannot connect"):
            await embedder.check()
    finally:
        await embedder.aclose()


async def test_ollama_slow_server_is_an_embedding_failure(
    ollama_host: str, fake: FakeOllama
) -> None:
    fake.delay = 1.0
    embedder = OllamaEmbedder(host=ollama_host, timeout=0.1)
    try:
        with pytest.raises(EmbeddingFailed, match=r"did not answer within 0\.1 s"):
            await embedder.embed_query("hello")
    finally:
        await embedder.aclose()


async def test_ollama_unknown_model_learns_its_length_from_the_first_answer(
    ollama_host: str,
) -> None:
    embedder = OllamaEmbedder(host=ollama_host, model="custom-embed:latest")
    try:
        with pytest.raises(EmbeddingFailed, match="dimensions="):
            _ = embedder.dimensions
        vectors = await embedder.embed_documents(["a", "b"])
        assert embedder.name == "ollama/custom-embed"
        assert vectors.shape == (2, 16)
        assert embedder.dimensions == 16
    finally:
        await embedder.aclose()
