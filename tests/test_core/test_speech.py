"""EspeakSpeaker: real espeak-ng speech, encoded as OGG/Opus and MP3, read back with PyAV."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import time
from collections.abc import AsyncIterator

import av
import numpy as np
import numpy.typing as npt
import pytest

from bots.profile import BotProfile
from core.content import ContentType
from core.errors import SpeechFailed
from core.generation.composer import GroundedComposer
from core.generation.seams import ContentRequest
from core.messages import AudioFormat
from core.voice.espeak import espeak
from core.voice.seams import VoiceSettings
from core.voice.speech import EspeakSpeaker, Pause, fit_pauses, parse_script

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
EN = VoiceSettings()
BOTH = (AudioFormat.OGG_OPUS, AudioFormat.MP3)
#: espeak-ng's output varies by a few samples from call to call (see core.voice.espeak).
SAME = 0.02
MP3_FRAME = 1152 / 22050
PAUSED = "Welcome.\n(pause 10 seconds)\nBreathe in slowly.\n(pause 20 seconds)\nAnd out."


@pytest.fixture
async def speaker() -> AsyncIterator[EspeakSpeaker]:
    speaker = EspeakSpeaker()
    yield speaker
    await speaker.close()


def read(data: bytes) -> tuple[str, str, int, npt.NDArray[np.float64]]:
    """Container, codec, sample rate and samples of encoded audio, decoded with PyAV."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        samples = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        name = stream.codec_context.name
        return container.format.name, name, stream.rate, np.concatenate(samples).astype(float)


def pitch_hz(samples: npt.NDArray[np.float64], rate: int) -> float:
    """Median fundamental frequency of the loud 40 ms windows (autocorrelation peak)."""
    size, found = int(0.04 * rate), []
    for start in range(0, len(samples) - size, size):
        window = samples[start : start + size] - samples[start : start + size].mean()
        if np.sqrt((window**2).mean()) < 0.03 * np.abs(samples).max():
            continue
        correlation = np.correlate(window, window, "full")[size - 1 :]
        low, high = rate // 400, rate // 60
        found.append(rate / (low + int(np.argmax(correlation[low:high]))))
    return float(np.median(found))


async def test_ogg_opus_is_opus_in_ogg_at_48_khz_as_long_as_the_speech(
    speaker: EspeakSpeaker,
) -> None:
    pcm = await asyncio.to_thread(
        espeak().synthesize, SENTENCE, voice="en", rate=EN.words_per_minute, pitch=EN.pitch
    )
    speech_seconds = len(pcm) / espeak().sample_rate
    audio = (await speaker.speak(SENTENCE, EN, [AudioFormat.OGG_OPUS]))[AudioFormat.OGG_OPUS]
    container, codec, rate, samples = read(audio.data)
    assert (container, codec, rate) == ("ogg", "opus", 48_000)
    assert audio.data[:4] == b"OggS"
    assert audio.mime_type == "audio/ogg"
    assert speech_seconds > 3
    assert abs(len(samples) / rate - speech_seconds) < 0.1
    assert abs(audio.duration - speech_seconds) < 0.1
    assert np.abs(samples).max() > 0.1  # sound, not silence


async def test_mp3_decodes_to_the_same_duration(speaker: EspeakSpeaker) -> None:
    audio = await speaker.speak(SENTENCE, EN, BOTH)
    mp3 = audio[AudioFormat.MP3]
    container, codec, rate, samples = read(mp3.data)
    assert container == "mp3"
    assert codec.startswith("mp3")
    assert mp3.mime_type == "audio/mpeg"
    assert abs(len(samples) / rate - mp3.duration) < 0.1
    assert abs(mp3.duration - audio[AudioFormat.OGG_OPUS].duration) < 0.1


async def test_a_faster_rate_is_shorter_and_rates_are_clamped(speaker: EspeakSpeaker) -> None:
    durations = {}
    for wpm in (100, 250, 450, 1000):
        voice = VoiceSettings(words_per_minute=wpm)
        durations[wpm] = (await speaker.speak(SENTENCE, voice, [AudioFormat.MP3]))[
            AudioFormat.MP3
        ].duration
    assert durations[100] > 1.5 * durations[250] > 1.5 * durations[450]
    assert durations[1000] == pytest.approx(durations[450], abs=SAME)


async def test_pitch_raises_the_voice(speaker: EspeakSpeaker) -> None:
    heard = {}
    for pitch in (10, 90):
        audio = await speaker.speak(SENTENCE, VoiceSettings(pitch=pitch), [AudioFormat.MP3])
        _, _, rate, samples = read(audio[AudioFormat.MP3].data)
        heard[pitch] = pitch_hz(samples, rate)
    assert heard[90] > 1.5 * heard[10]


async def test_another_voice_sounds_different(speaker: EspeakSpeaker) -> None:
    british = await speaker.speak(SENTENCE, VoiceSettings(voice="en"), [AudioFormat.MP3])
    american = await speaker.speak(SENTENCE, VoiceSettings(voice="en-us"), [AudioFormat.MP3])
    french = await speaker.speak(SENTENCE, VoiceSettings(voice="FR"), [AudioFormat.MP3])
    decoded = [read(a[AudioFormat.MP3].data)[3] for a in (british, american, french)]
    for i, first in enumerate(decoded):
        for second in decoded[i + 1 :]:
            assert len(first) != len(second) or not np.array_equal(first, second)


async def test_an_unknown_voice_falls_back_to_english(
    speaker: EspeakSpeaker, caplog: pytest.LogCaptureFixture
) -> None:
    english = await speaker.speak(SENTENCE, VoiceSettings(voice="en"), BOTH)
    american = await speaker.speak(SENTENCE, VoiceSettings(voice="en-us"), BOTH)
    with caplog.at_level(logging.WARNING, logger="chorus.speech"):
        unknown = await speaker.speak(SENTENCE, VoiceSettings(voice="klingon-x"), BOTH)
        variant = await speaker.speak(SENTENCE, VoiceSettings(voice="en+nobody"), BOTH)
    for fallback in (unknown, variant):
        for audio_format in BOTH:
            duration = fallback[audio_format].duration
            assert duration == pytest.approx(english[audio_format].duration, abs=SAME)
            assert abs(duration - american[audio_format].duration) > 0.1
    assert "klingon-x" in caplog.text
    assert "en+nobody" in caplog.text


async def test_pauses_are_silences_in_the_audio(speaker: EspeakSpeaker) -> None:
    plain = await speaker.speak("Welcome.\nBreathe in slowly.\nAnd out.", EN, [AudioFormat.MP3])
    paused = await speaker.speak(PAUSED, EN, [AudioFormat.MP3])
    extra = paused[AudioFormat.MP3].duration - plain[AudioFormat.MP3].duration
    assert abs(extra - 30) < 0.5
    _, _, rate, samples = read(paused[AudioFormat.MP3].data)
    quiet = np.abs(samples) < 1e-3
    longest, run = 0, 0
    for silent in quiet:
        run = run + 1 if silent else 0
        longest = max(longest, run)
    assert longest / rate > 19


async def test_target_seconds_stretches_the_pauses(speaker: EspeakSpeaker) -> None:
    steps: list[float] = []
    audio = await speaker.speak(PAUSED, EN, BOTH, target_seconds=60, progress=steps.append)
    for encoded in audio.values():
        assert abs(encoded.duration - 60) < 0.5
        _, _, rate, samples = read(encoded.data)
        assert abs(len(samples) / rate - 60) < 0.5
    assert steps == sorted(steps)
    assert steps[-1] == 1.0
    assert len(steps) >= 3


async def test_a_composed_meditation_lasts_its_minutes(speaker: EspeakSpeaker) -> None:
    request = ContentRequest(
        bot=BotProfile(id="calm-coach", name="Calm Coach"),
        content_type=ContentType.MEDITATION,
        answers={"duration": 3, "purpose": "sleep better", "feeling": "tired"},
    )
    script = (await GroundedComposer().compose(request)).spoken
    assert "(pause" in script
    steps: list[float] = []
    audio = await speaker.speak(script, EN, BOTH, target_seconds=180, progress=steps.append)
    assert all(abs(a.duration - 180) < 18 for a in audio.values())
    assert len(steps) > len(BOTH) + 1
    assert steps[-1] == 1.0
    assert all(b > a for a, b in itertools.pairwise(steps))


async def test_speech_longer_than_the_target_keeps_the_shortest_pauses(
    speaker: EspeakSpeaker,
) -> None:
    short_pauses = PAUSED.replace("10 seconds", "0.5 seconds").replace("20 seconds", "0.5 s")
    squeezed = await speaker.speak(PAUSED, EN, [AudioFormat.MP3], target_seconds=2)
    minimal = await speaker.speak(short_pauses, EN, [AudioFormat.MP3])
    duration = squeezed[AudioFormat.MP3].duration
    # the two scripts differ in how the pauses are written, so their rounding to whole
    # samples and MP3 frames may differ by up to one frame (1,152 samples at 22.05 kHz)
    assert duration == pytest.approx(minimal[AudioFormat.MP3].duration, abs=MP3_FRAME)
    assert duration > 2 + 2 * 0.5


async def test_a_script_without_pauses_is_padded_to_the_target(speaker: EspeakSpeaker) -> None:
    audio = await speaker.speak(SENTENCE, EN, [AudioFormat.OGG_OPUS], target_seconds=12)
    assert abs(audio[AudioFormat.OGG_OPUS].duration - 12) < 0.05


async def test_nothing_to_say_fails(speaker: EspeakSpeaker) -> None:
    with pytest.raises(SpeechFailed) as failure:
        await speaker.speak("\n(pause 5 seconds)\n  \n", EN, BOTH)
    assert "nothing to say" in failure.value.reason


async def test_concurrent_calls_do_not_mix(speaker: EspeakSpeaker) -> None:
    calls = [
        ("One small step for a man.", VoiceSettings(voice="en-us", words_per_minute=120)),
        ("Bonjour tout le monde.", VoiceSettings(voice="fr", pitch=80)),
        (PAUSED, VoiceSettings(voice="en", words_per_minute=300)),
        ("A\n" + SENTENCE * 2, VoiceSettings(voice="de", pitch=20)),
    ]
    alone = [await speaker.speak(text, voice, BOTH) for text, voice in calls]
    together = await asyncio.gather(
        *(speaker.speak(text, voice, BOTH) for text, voice in calls * 2)
    )
    durations = sorted(a[AudioFormat.MP3].duration for a in alone)
    assert min(b - a for a, b in itertools.pairwise(durations)) > 0.5
    for expected, got in zip(alone * 2, together, strict=True):
        for audio_format in BOTH:
            # calls differ by more than 0.5 s; espeak-ng itself varies by a few samples
            assert got[audio_format].duration == pytest.approx(
                expected[audio_format].duration, abs=0.1
            )
        _, _, rate, samples = read(got[AudioFormat.MP3].data)
        _, _, _, reference = read(expected[AudioFormat.MP3].data)
        # espeak-ng varies a little from call to call; the voices here differ by > 20 %
        assert pitch_hz(samples, rate) == pytest.approx(pitch_hz(reference, rate), rel=0.12)


async def test_the_event_loop_keeps_running_while_speaking(speaker: EspeakSpeaker) -> None:
    script = "\n".join([SENTENCE] * 30)  # about 2 minutes of speech
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    start = time.perf_counter()
    await speaker.speak(script, EN, BOTH)
    elapsed = time.perf_counter() - start
    ticker.cancel()
    assert elapsed > 1.0  # long enough for a blocked loop to show
    assert max(gaps) < 0.5


def test_scripts_split_into_speech_pieces_and_pauses() -> None:
    long_line = " ".join(f"Sentence number {i}." for i in range(40))
    items = parse_script(f"Hello\n\n(pause 20 seconds)\n[PAUSE 2.5s]\n{long_line}\n(pause)")
    assert items[:3] == ["Hello.", Pause(20.0), Pause(2.5)]
    assert items[-1] == Pause(2.0)
    pieces = items[3:-1]
    assert len(pieces) > 1
    assert all(isinstance(p, str) and len(p) <= 300 for p in pieces)
    assert " ".join(str(p) for p in pieces) == long_line


def test_pauses_fit_the_time_left_in_proportion() -> None:
    assert fit_pauses([1, 2, 3], 30, 1.5) == pytest.approx([5, 10, 15])
    fitted = fit_pauses([1, 10, 100], 30, 1.5)
    assert fitted[0] == 1.5
    assert sum(fitted) == pytest.approx(30)
    assert fitted[2] == pytest.approx(10 * fitted[1])
    # speech that left too little room: the pauses share it, down to a short breath
    assert fit_pauses([5, 5], 2, 1.5) == [1.0, 1.0]
    assert fit_pauses([5, 5], 0.4, 1.5) == [0.5, 0.5]
    assert fit_pauses([5, 5], 3, 1.5) == [1.5, 1.5]
    assert fit_pauses([], 10, 1.5) == []
