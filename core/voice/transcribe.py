"""Speech in: :class:`WhisperTranscriber` reads voice notes with faster-whisper, offline.

Which model hears a note depends on the language its sender speaks, as far as it is known:

- English: Whisper tiny.en (CTranslate2), the lighter and faster; its transcripts say
  ``en`` with probability 1;
- another language: the multilingual Whisper base, told that language (Whisper's own
  detection is unreliable on a few seconds of speech, and a note heard as the wrong
  language comes back as a translation or nonsense);
- unknown (a first voice note on WhatsApp or the terminal): Whisper base, which detects
  the language from the first 30 seconds and reports its probability; the engine then
  finds the user's language in the transcript as in typed text.

Both models ship in PyPI wheels (:mod:`core.voice.whisper_models`) and load on first use,
each once. Whisper base comes in two halves: with a ``cache`` directory they are joined
into a file there once (checked every time it is loaded), which costs 145 MB of disk but
about 140 MB less memory than joining them in memory, as happens without one.
"""

from __future__ import annotations

import asyncio
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
from core.voice.whisper_models import (
    ENGLISH_SHA256,
    SplitModel,
    english_model_path,
    joined_directory,
    multilingual_model,
    read_joined,
    verify,
)

log = logging.getLogger("chorus.transcribe")

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_SECONDS = 300.0
#: Beam 2 spelled espeak's "brown fox" and "river bank" right where greedy decoding (1)
#: heard "roundfoc stump" and "river mike"; wider beams added nothing on our samples.
DEFAULT_BEAM_SIZE = 2
ENGLISH = "en"
MULTILINGUAL = "multilingual"


class WhisperTranscriber:
    """The offline :class:`~core.voice.seams.Transcriber`: faster-whisper on the CPU, int8.

    Voice notes above ``max_bytes`` or ``max_seconds`` are refused before any model work
    (:class:`AudioTooLarge`, :class:`AudioTooLong`); bytes that hold no audio raise
    :class:`UnreadableAudio`. ``model_path`` is the English model's directory (tiny.en
    by default), ``multilingual`` the model for other languages (Whisper base by
    default), ``cache`` where its halves are joined. Each model loads once, on first
    use, and every transcription runs on one dedicated thread: CTranslate2 already
    spreads one call over the cores (``cpu_threads``, 0 = its default), so notes are
    transcribed one at a time. ``vad_filter`` skips silences with the Silero VAD model
    bundled in faster-whisper (onnxruntime, offline), which also stops Whisper inventing
    words in them.
    """

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        multilingual: SplitModel | None = None,
        cache: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        beam_size: int = DEFAULT_BEAM_SIZE,
        vad_filter: bool = True,
        cpu_threads: int = 0,
    ) -> None:
        if max_bytes < 1 or max_seconds <= 0 or beam_size < 1 or cpu_threads < 0:
            raise ValueError("max_bytes, max_seconds, beam_size must be > 0, cpu_threads >= 0")
        self.model_path = model_path or english_model_path()
        if not (self.model_path / "model.bin").is_file():
            raise TranscriberUnavailable(self.model_path, "no model.bin in that directory")
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._multilingual = multilingual
        self._cache = cache
        self._beam_size = beam_size
        self._vad_filter = vad_filter
        self._cpu_threads = cpu_threads
        # faster_whisper.WhisperModel by ENGLISH or MULTILINGUAL, each loaded on first use
        self._models: dict[str, Any] = {}
        self._locks = {ENGLISH: threading.Lock(), MULTILINGUAL: threading.Lock()}
        self._thread: ThreadPoolExecutor | None = None

    async def transcribe(
        self, data: bytes, *, mime_type: str | None = None, language: str | None = None
    ) -> Transcript:
        """What the voice note in ``data`` says; ``mime_type`` helps only when FFmpeg
        cannot tell the container from the bytes; ``language`` is the language its
        sender speaks (``es``, ``pt-br``), None when unknown."""
        if len(data) > self.max_bytes:
            raise AudioTooLarge(len(data), self.max_bytes)
        samples = await asyncio.to_thread(
            decode, data, max_seconds=self.max_seconds, mime_type=mime_type
        )
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transcribe, samples, language)

    async def close(self) -> None:
        """Stop the worker thread once the transcription in progress, if any, ends."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.shutdown, wait=True)

    def _transcribe(self, samples: npt.NDArray[np.float32], language: str | None) -> Transcript:
        code = language.lower().split("-", 1)[0] if language else None
        if code == ENGLISH:
            model, code = self._load(ENGLISH), None  # tiny.en knows no other language
        else:
            model = self._load(MULTILINGUAL)
            if code not in model.supported_languages:
                code = None  # a language Whisper does not know: let it detect one
        start = time.perf_counter()
        segments, info = model.transcribe(
            samples, beam_size=self._beam_size, vad_filter=self._vad_filter, language=code
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()
        duration = len(samples) / TRANSCRIPTION_RATE
        log.info(
            "transcribed %.1f s in %.2f s (%s, p=%.2f, %s, %d chars)",
            duration,
            time.perf_counter() - start,
            info.language,
            info.language_probability,
            "told" if code else "detected",
            len(text),
        )
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            duration=duration,
        )

    def _load(self, which: str) -> Any:
        """The model, loaded once even if several threads ask at the same time."""
        with self._locks[which]:
            if which not in self._models:
                start = time.perf_counter()
                if which == ENGLISH:
                    self._models[which] = self._load_english()
                else:
                    self._models[which] = self._load_multilingual()
                elapsed = time.perf_counter() - start
                log.info("loaded the %s Whisper model in %.2f s", which, elapsed)
            return self._models[which]

    def _load_english(self) -> Any:
        if self.model_path == english_model_path():
            verify(self.model_path, ENGLISH_SHA256)
        return self._whisper(self.model_path, str(self.model_path))

    def _load_multilingual(self) -> Any:
        model = self._multilingual or multilingual_model()
        if self._cache is not None:
            directory = joined_directory(model, self._cache)
            return self._whisper(directory, str(directory))
        return self._whisper(model.directory, "whisper-base", files=read_joined(model))

    def _whisper(self, source: Path, path: str, **options: Any) -> Any:
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(
                path,
                device="cpu",
                compute_type="int8",
                cpu_threads=self._cpu_threads,
                local_files_only=True,
                **options,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise TranscriberUnavailable(source, str(exc)) from exc
