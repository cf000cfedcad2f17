"""Speech out: :class:`EspeakSpeaker` speaks composer scripts with espeak-ng, offline.

A script is plain text; a line such as ``(pause 20 seconds)`` is a silence. Speech lines
are synthesised in pieces of a few sentences on one dedicated thread (espeak-ng has one
global state per process), with progress reported after each piece; the pauses are then
scaled so that the whole lasts ``target_seconds``, and every requested format is
encoded from the same samples on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from core.errors import SpeechFailed
from core.messages import Audio, AudioFormat
from core.voice.audio import Pcm, concatenate, encode, silence
from core.voice.espeak import espeak
from core.voice.seams import SpeechProgress, VoiceSettings

log = logging.getLogger("chorus.speech")

DEFAULT_VOICE = "en"
#: A pause never gets shorter than a calm breath, whatever the target.
MIN_PAUSE_SECONDS = 1.5
#: Characters per espeak call: about 20 s of speech, so progress moves in small steps.
PIECE_CHARS = 300
#: Share of the progress bar for synthesis; encoding takes the rest: espeak-ng is fast
#: (0.1 s for a minute of speech), Opus and MP3 encoding take about 95% of the time.
SYNTHESIS_SHARE = 0.1
_PAUSE = re.compile(
    r"^[(\[]\s*pause(?:\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)?)?\s*[)\]]$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
DEFAULT_PAUSE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Pause:
    """A silence the script asks for, in seconds (before scaling to a target)."""

    seconds: float


def parse_script(script: str, *, piece_chars: int = PIECE_CHARS) -> list[str | Pause]:
    """Split a script into speech pieces (consecutive lines joined, at most about
    ``piece_chars`` characters, cut between sentences) and :class:`Pause` items.

    Blank lines are dropped; a line that ends without punctuation gets a full stop, so
    each line is spoken as a sentence, as it reads.
    """
    items: list[str | Pause] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            items.append(" ".join(pending))
            pending.clear()

    for raw in script.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        pause = _PAUSE.match(line)
        if pause:
            flush()
            items.append(Pause(float(pause.group(1) or DEFAULT_PAUSE_SECONDS)))
            continue
        if line[-1].isalnum():
            line += "."
        for sentence in _SENTENCE_END.split(line):
            if pending and len(" ".join(pending)) + 1 + len(sentence) > piece_chars:
                flush()
            pending.append(sentence)
    flush()
    return items


def fit_pauses(nominal: Sequence[float], available: float, minimum: float) -> list[float]:
    """Scale pauses in proportion to ``nominal`` so that they add up to ``available``
    seconds, none shorter than ``minimum`` (all at ``minimum`` if even that is too long).
    """
    count = len(nominal)
    if count == 0:
        return []
    if available <= minimum * count:
        return [minimum] * count
    weights = [max(n, 1e-3) for n in nominal]
    clamped: set[int] = set()
    while True:  # pauses too short to scale are held at the minimum; the rest share
        free = [i for i in range(count) if i not in clamped]
        scale = (available - minimum * len(clamped)) / sum(weights[i] for i in free)
        short = {i for i in free if weights[i] * scale < minimum}
        if not short:
            return [minimum if i in clamped else weights[i] * scale for i in range(count)]
        clamped |= short


class EspeakSpeaker:
    """The offline :class:`~core.voice.seams.AudioGenerator`: espeak-ng through ctypes.

    One dedicated thread, created on first use, makes every espeak call, so the event
    loop never blocks and two scripts never interleave in the library. An unknown voice
    falls back to ``en`` with a warning; the rate is clamped to 80-450 words per minute
    and the pitch to 0-100. Call :meth:`close` at shutdown.
    """

    def __init__(
        self, *, min_pause_seconds: float = MIN_PAUSE_SECONDS, piece_chars: int = PIECE_CHARS
    ) -> None:
        if min_pause_seconds < 0 or piece_chars < 1:
            raise ValueError("min_pause_seconds must be >= 0 and piece_chars >= 1")
        self._min_pause = min_pause_seconds
        self._piece_chars = piece_chars
        self._thread: ThreadPoolExecutor | None = None

    async def speak(
        self,
        script: str,
        voice: VoiceSettings,
        formats: Sequence[AudioFormat],
        *,
        target_seconds: float | None = None,
        progress: SpeechProgress | None = None,
    ) -> dict[AudioFormat, Audio]:
        """Speak ``script`` once and encode it in each of ``formats``."""
        wanted = list(dict.fromkeys(formats))
        if not wanted:
            raise ValueError("no audio format requested")
        if target_seconds is not None and target_seconds <= 0:
            raise ValueError(f"target_seconds must be positive, not {target_seconds}")
        items = parse_script(script, piece_chars=self._piece_chars)
        pieces = [item for item in items if isinstance(item, str)]
        if not pieces:
            raise SpeechFailed("the script has nothing to say")
        report = progress or (lambda _fraction: None)
        loop = asyncio.get_running_loop()
        executor = self._executor()
        name = await loop.run_in_executor(executor, _resolve, voice.voice)
        spoken: list[Pcm] = []
        for done, piece in enumerate(pieces, 1):
            spoken.append(await loop.run_in_executor(executor, _synthesize, piece, name, voice))
            report(SYNTHESIS_SHARE * done / len(pieces))
        pcm = await asyncio.to_thread(self._assemble, items, spoken, target_seconds)
        encoded = 0

        async def encode_one(audio_format: AudioFormat) -> Audio:
            nonlocal encoded
            result = await asyncio.to_thread(encode, pcm, audio_format)
            encoded += 1
            report(SYNTHESIS_SHARE + (1 - SYNTHESIS_SHARE) * encoded / len(wanted))
            return result

        # the formats are encoded side by side, each on a worker thread
        results = await asyncio.gather(*(encode_one(f) for f in wanted))
        audio = dict(zip(wanted, results, strict=True))
        log.info(
            "spoke %d pieces, %.1f s, voice %s at %d wpm, %s",
            len(pieces),
            pcm.duration,
            name,
            voice.words_per_minute,
            ", ".join(f"{f.value} {len(a.data)} B" for f, a in audio.items()),
        )
        return audio

    async def close(self) -> None:
        """Stop the worker thread once the call in progress, if any, returns."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.shutdown, wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak")
        return self._thread

    def _assemble(self, items: list[str | Pause], spoken: list[Pcm], target: float | None) -> Pcm:
        """Speech and silences in script order, the pauses fitted to ``target``."""
        rate = spoken[0].rate
        nominal = [item.seconds for item in items if isinstance(item, Pause)]
        speech = sum(pcm.duration for pcm in spoken)
        tail = 0.0
        if target is not None and nominal:
            nominal = fit_pauses(nominal, target - speech, self._min_pause)
        elif target is not None:  # nowhere to breathe: the silence goes at the end
            tail = max(0.0, target - speech)
        speech_parts, pauses = iter(spoken), iter(nominal)
        parts = [
            silence(next(pauses), rate) if isinstance(item, Pause) else next(speech_parts)
            for item in items
        ]
        return concatenate([*parts, silence(tail, rate)], rate)


def _resolve(voice: str) -> str:
    """The espeak-ng voice for ``voice``, or ``en`` (logged) when it is not installed."""
    engine = espeak()
    name = engine.resolve(voice)
    if name is None:
        log.warning("espeak-ng has no voice %r; speaking with %r", voice, DEFAULT_VOICE)
        name = engine.resolve(DEFAULT_VOICE) or DEFAULT_VOICE
    return name


def _synthesize(text: str, voice_name: str, settings: VoiceSettings) -> Pcm:
    engine = espeak()  # clamps the rate and the pitch to what it accepts
    samples = engine.synthesize(
        text, voice=voice_name, rate=settings.words_per_minute, pitch=settings.pitch
    )
    return Pcm(samples, engine.sample_rate)
