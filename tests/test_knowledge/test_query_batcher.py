"""Query embeddings coalesced into batched model calls, and remembered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.embeddings import MiniLMEmbedder, QueryBatcher, Vectors, normalise
from knowledge.embeddings.batching import query_key
from knowledge.errors import EmbeddingFailed


class CountingEmbedder:
    """A deterministic embedder that records its model calls; ``gate`` holds them,
    ``called`` is set by the first and ``failures`` makes the next calls fail."""

    name = "counting"
    dimensions = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return await self.embed_queries(texts)

    async def embed_query(self, text: str) -> Vectors:
        return (await self.embed_queries([text])).reshape(-1)

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        self.called.set()
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise EmbeddingFailed(self.name, "the model fell over")
        return normalise([[len(t), sum(map(ord, t)) % 97, t.count(" ") + 1, 1.0] for t in texts])


QUESTIONS = [f"how do I breathe slowly, take {n}?" for n in range(10)]


async def test_concurrent_queries_share_one_model_call() -> None:
    embedder = CountingEmbedder()
    batcher = QueryBatcher(embedder)
    vectors = await asyncio.gather(*(batcher.embed_query(q) for q in QUESTIONS))
    assert embedder.calls == [QUESTIONS]
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        np.testing.assert_array_equal(vector, await embedder.embed_query(question))


async def test_queries_arriving_during_a_call_go_together_into_the_next() -> None:
    embedder = CountingEmbedder()
    embedder.gate.clear()
    batcher = QueryBatcher(embedder)
    first = asyncio.create_task(batcher.embed_query("the first question?"))
    await embedder.called.wait()
    later = [asyncio.create_task(batcher.embed_query(q)) for q in QUESTIONS]
    await asyncio.sleep(0.01)
    assert len(embedder.calls) == 1  # the others wait for the call in flight
    embedder.gate.set()
    await asyncio.gather(first, *later)
    assert embedder.calls == [["the first question?"], QUESTIONS]


async def test_batches_are_no_larger_than_max_batch() -> None:
    embedder = CountingEmbedder()
    batcher = QueryBatcher(embedder, max_batch=4)
    await asyncio.gather(*(batcher.embed_query(q) for q in QUESTIONS))
    assert [len(call) for call in embedder.calls] == [4, 4, 2]


async def test_a_repeated_query_comes_from_the_cache() -> None:
    embedder = CountingEmbedder()
    batcher = QueryBatcher(embedder)
    first = await batcher.embed_query("What is box breathing?")
    again = await batcher.embed_query("  What is\tbox   breathing? ")
    same_time = await asyncio.gather(*(batcher.embed_query("Why sigh?") for _ in range(3)))
    assert embedder.calls == [["What is box breathing?"], ["Why sigh?"]]
    assert again is first
    assert not first.flags.writeable  # shared: nobody may change it
    assert all(v is same_time[0] for v in same_time)


async def test_the_cache_keeps_the_most_recently_used() -> None:
    embedder = CountingEmbedder()
    batcher = QueryBatcher(embedder, cache_size=2)
    for question in ("a?", "b?", "a?", "c?", "a?", "b?"):
        await batcher.embed_query(question)
    assert embedder.calls == [["a?"], ["b?"], ["c?"], ["b?"]]


async def test_an_error_reaches_every_caller_of_the_batch_and_is_not_cached() -> None:
    embedder = CountingEmbedder()
    embedder.failures = 1
    batcher = QueryBatcher(embedder)
    results = await asyncio.gather(
        *(batcher.embed_query(q) for q in QUESTIONS[:3]), return_exceptions=True
    )
    assert all(isinstance(r, EmbeddingFailed) for r in results)
    vector = await batcher.embed_query(QUESTIONS[0])  # tried again, and it works now
    assert vector.shape == (4,)
    assert embedder.calls == [QUESTIONS[:3], QUESTIONS[:1]]


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    embedder = CountingEmbedder()
    embedder.gate.clear()
    batcher = QueryBatcher(embedder)
    impatient = asyncio.create_task(batcher.embed_query("shared?"))
    patient = asyncio.create_task(batcher.embed_query("shared?"))
    await embedder.called.wait()
    impatient.cancel()
    embedder.gate.set()
    assert (await patient).shape == (4,)
    assert impatient.cancelled()


async def test_a_bad_query_fails_alone() -> None:
    batcher = QueryBatcher(CountingEmbedder())
    with pytest.raises(TypeError):
        await batcher.embed_query(b"bytes")  # type: ignore[arg-type]


def test_the_key_keeps_what_the_models_read() -> None:
    assert query_key("  Box\u00a0breathing\n for  Anna ") == "Box breathing for Anna"
    assert query_key("cafe\u0301") == "café"  # NFC
    assert query_key("Paris") != query_key("paris")


async def test_batched_minilm_vectors_equal_one_by_one() -> None:
    embedder = MiniLMEmbedder()
    batcher = QueryBatcher(embedder)
    questions = [
        "What is box breathing?",
        "How long should I meditate as a beginner?",
        "Why does a long exhale calm me down when I feel anxious before an exam?",
        "sleep",
    ]
    batched = await asyncio.gather(*(batcher.embed_query(q) for q in questions))
    for question, vector in zip(questions, batched, strict=True):
        np.testing.assert_allclose(vector, await embedder.embed_query(question), atol=1e-5)
