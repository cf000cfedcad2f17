"""Speech out: :class:`ScriptSpeaker` speaks composer scripts offline, with a neural Piper
voice where one is installed for the language and espeak-ng otherwise.

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
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from core.errors import SpeechFailed
from core.messages import Audio, AudioFormat
from core.voice.audio import Pcm, concatenate, decode, encode, silence
from core.voice.beds import bed_samples, mix
from core.voice.engines import EspeakEngine, SpeechEngine
from core.voice.seams import Bed, SpeechProgress, VoiceSettings

log = logging.getLogger("chorus.speech")

#: A pause never gets shorter than a calm breath, whatever the target.
MIN_PAUSE_SECONDS = 1.5
#: ...unless the speech leaves no room for that: then a pause may shrink to this
SHORTEST_PAUSE_SECONDS = 0.5
#: Characters per engine call: about 20 s of speech, so progress moves in small steps.
PIECE_CHARS = 300
_PAUSE = re.compile(
    r"^[(\[]\s*pause(?:\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)?)?\s*[)\]]$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
DEFAULT_PAUSE_SECONDS = 2.0
MAX_BED_MUSIC_SECONDS = 3 * 3600.0


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
    seconds, none shorter than ``minimum``. If even that is too long (the voice spoke
    slower than the script was written for), they share what there is equally, down to
    :data:`SHORTEST_PAUSE_SECONDS`: a piece keeps its length before its breaths.
    """
    count = len(nominal)
    if count == 0:
        return []
    if available <= minimum * count:
        return [max(min(minimum, available / count), SHORTEST_PAUSE_SECONDS)] * count
    weights = [max(n, 1e-3) for n in nominal]
    clamped: set[int] = set()
    while True:  # pauses too short to scale are held at the minimum; the rest share
        free = [i for i in range(count) if i not in clamped]
        scale = (available - minimum * len(clamped)) / sum(weights[i] for i in free)
        short = {i for i in free if weights[i] * scale < minimum}
        if not short:
            return [minimum if i in clamped else weights[i] * scale for i in range(count)]
        clamped |= short


class ScriptSpeaker:
    """The offline :class:`~core.voice.seams.AudioGenerator`: speech engines in order of
    preference (Piper, then espeak-ng, by default).

    The first engine with a voice for the user's settings speaks the whole script; if it
    fails (its model does not load, synthesis raises), the next engine speaks it again
    from the start, so one recording never mixes two voices. One dedicated thread,
    created on first use, makes every engine call, so the event loop never blocks and two
    scripts never interleave in a library with global state. Call :meth:`close` at
    shutdown.
    """

    def __init__(
        self,
        engines: Sequence[SpeechEngine],
        *,
        min_pause_seconds: float = MIN_PAUSE_SECONDS,
        piece_chars: int = PIECE_CHARS,
    ) -> None:
        if not engines:
            raise ValueError("at least one speech engine is needed")
        if min_pause_seconds < 0 or piece_chars < 1:
            raise ValueError("min_pause_seconds must be >= 0 and piece_chars >= 1")
        self.engines = tuple(engines)
        self._min_pause = min_pause_seconds
        self._piece_chars = piece_chars
        self._thread: ThreadPoolExecutor | None = None

    def heard_rate(self, voice: VoiceSettings) -> float:
        """The words a minute a listener will hear: those of the first engine with a
        voice for the settings (the one that will speak unless it fails)."""
        engine = next((e for e in self.engines if e.speaks(voice)), self.engines[-1])
        return engine.heard_rate(voice)

    async def speak(
        self,
        script: str,
        voice: VoiceSettings,
        formats: Sequence[AudioFormat],
        *,
        target_seconds: float | None = None,
        progress: SpeechProgress | None = None,
        bed: Bed | None = None,
    ) -> dict[AudioFormat, Audio]:
        """Speak ``script`` once (over ``bed``, if there is one) and encode it in each
        of ``formats``."""
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
        engine, name, spoken = await self._synthesize(pieces, voice, report)
        share = engine.synthesis_share
        pcm = await asyncio.to_thread(self._assemble, items, spoken, target_seconds)
        if bed is not None:
            pcm = await asyncio.to_thread(under, pcm, bed, zlib.crc32(script.encode()))
        speaker = f"{engine.name}:{name}"
        encoded = 0

        async def encode_one(audio_format: AudioFormat) -> Audio:
            nonlocal encoded
            result = await asyncio.to_thread(encode, pcm, audio_format)
            encoded += 1
            report(share + (1 - share) * encoded / len(wanted))
            return replace(result, voice=speaker)

        # the formats are encoded side by side, each on a worker thread
        results = await asyncio.gather(*(encode_one(f) for f in wanted))
        audio = dict(zip(wanted, results, strict=True))
        log.info(
            "spoke %d pieces, %.1f s, voice %s at %d wpm%s, %s",
            len(pieces),
            pcm.duration,
            speaker,
            voice.words_per_minute,
            " (calm)" if voice.calm else "",
            ", ".join(f"{f.value} {len(a.data)} B" for f, a in audio.items()),
        )
        return audio

    async def _synthesize(
        self, pieces: list[str], voice: VoiceSettings, report: SpeechProgress
    ) -> tuple[SpeechEngine, str, list[Pcm]]:
        """Every piece spoken by the first engine that has a voice and does not fail."""
        loop = asyncio.get_running_loop()
        executor = self._executor()
        for position, engine in enumerate(self.engines, 1):
            last = position == len(self.engines)
            try:
                name = await loop.run_in_executor(executor, engine.voice_for, voice)
                if name is None:
                    continue
                spoken: list[Pcm] = []
                for done, piece in enumerate(pieces, 1):
                    spoken.append(
                        await loop.run_in_executor(executor, engine.synthesize, piece, name, voice)
                    )
                    report(engine.synthesis_share * done / len(pieces))
            except SpeechFailed as exc:
                if last:
                    raise
                log.warning("%s cannot speak (%s); trying the next engine", engine.name, exc)
                continue
            return engine, name, spoken
        raise SpeechFailed(f"no speech engine has a voice for {voice.voice!r}")

    async def close(self) -> None:
        """Stop the worker thread once the call in progress, if any, returns."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(thread.shutdown, wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")
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


def under(voice: Pcm, bed: Bed, seed: int = 0) -> Pcm:
    """``voice`` with ``bed`` under it (a music bed decoded at the voice's rate)."""
    music = None
    if bed.music is not None:
        # the music was checked when it was uploaded; this only guards against a huge file
        music = decode(bed.music, max_seconds=MAX_BED_MUSIC_SECONDS, rate=voice.rate)
    samples = bed_samples(bed.kind, voice.duration, voice.rate, seed=seed, music=music)
    return mix(voice, samples, level_db=bed.level)


class EspeakSpeaker(ScriptSpeaker):
    """A :class:`ScriptSpeaker` with espeak-ng alone (``TTS_ENGINE=espeak``)."""

    def __init__(
        self, *, min_pause_seconds: float = MIN_PAUSE_SECONDS, piece_chars: int = PIECE_CHARS
    ) -> None:
        super().__init__(
            [EspeakEngine()], min_pause_seconds=min_pause_seconds, piece_chars=piece_chars
        )
