"""WhisperTranscriber: espeak-ng speech read back by Whisper tiny.en (English notes), the
check of the multilingual model's halves, and the limits."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from core.errors import AudioTooLarge, AudioTooLong, TranscriberUnavailable, UnreadableAudio
from core.messages import Audio, AudioFormat
from core.voice.audio import decode
from core.voice.espeak import espeak
from core.voice.seams import VoiceSettings
from core.voice.speech import EspeakSpeaker
from core.voice.transcribe import WhisperTranscriber
from core.voice.whisper_models import SplitModel, joined_directory, multilingual_model, verify

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
KEYWORDS = ("fox", "dog", "river")
VOICE = VoiceSettings(voice="en-us", words_per_minute=150)


@pytest.fixture(scope="session")
def transcriber() -> Iterator[WhisperTranscriber]:
    """One transcriber, so tiny.en loads once per session."""
    transcriber = WhisperTranscriber()
    yield transcriber
    asyncio.run(transcriber.close())


@pytest.fixture
async def spoken() -> AsyncIterator[dict[AudioFormat, Audio]]:
    speaker = EspeakSpeaker()
    yield await speaker.speak(SENTENCE, VOICE, list(AudioFormat))
    await speaker.close()


async def speech_pcm(text: str = SENTENCE) -> tuple[npt.NDArray[np.int16], int]:
    engine = await asyncio.to_thread(espeak)
    samples = await asyncio.to_thread(engine.synthesize, text, voice="en-us", rate=150, pitch=50)
    return samples, engine.sample_rate


def wav_bytes(samples: npt.NDArray[np.int16], rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.tobytes())
    return buffer.getvalue()


def encoded(
    samples: npt.NDArray[np.int16],
    rate: int,
    *,
    muxer: str,
    encoder: str,
    bit_rate: int,
    options: dict[str, str] | None = None,
) -> bytes:
    """``samples`` in another container and codec, written with PyAV."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer, options=options) as container:
        stream = container.add_stream(encoder, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def assert_heard(text: str) -> None:
    words = text.lower()
    missing = [k for k in KEYWORDS if k not in words]
    assert not missing, f"{missing} not in {text!r}"


async def test_espeak_ogg_opus_round_trip(
    transcriber: WhisperTranscriber, spoken: dict[AudioFormat, Audio]
) -> None:
    ogg = spoken[AudioFormat.OGG_OPUS]
    transcript = await transcriber.transcribe(ogg.data, mime_type="audio/ogg", language="en")
    assert_heard(transcript.text)
    assert transcript.language == "en"
    assert transcript.language_probability == 1.0
    assert transcript.duration == pytest.approx(ogg.duration, abs=0.1)


async def test_mp3_transcribes(
    transcriber: WhisperTranscriber, spoken: dict[AudioFormat, Audio]
) -> None:
    transcript = await transcriber.transcribe(spoken[AudioFormat.MP3].data, language="en-US")
    assert_heard(transcript.text)


async def test_wav_transcribes(transcriber: WhisperTranscriber) -> None:
    samples, rate = await speech_pcm()
    transcript = await transcriber.transcribe(
        wav_bytes(samples, rate), mime_type="audio/wav", language="en"
    )
    assert_heard(transcript.text)
    assert transcript.duration == pytest.approx(len(samples) / rate, abs=0.05)


async def test_m4a_aac_transcribes(transcriber: WhisperTranscriber) -> None:
    samples, rate = await speech_pcm()
    m4a = encoded(samples, rate, muxer="ipod", encoder="aac", bit_rate=48_000)
    assert m4a[4:8] == b"ftyp"
    assert_heard((await transcriber.transcribe(m4a, language="en")).text)


async def test_silence_transcribes_to_nothing(transcriber: WhisperTranscriber) -> None:
    silence = wav_bytes(np.zeros(16_000 * 5, np.int16), 16_000)
    transcript = await transcriber.transcribe(silence, language="en")
    assert transcript.text == ""
    assert transcript.duration == pytest.approx(5.0)


async def test_concurrent_transcriptions(
    transcriber: WhisperTranscriber, spoken: dict[AudioFormat, Audio]
) -> None:
    notes = [spoken[AudioFormat.OGG_OPUS].data, spoken[AudioFormat.MP3].data] * 2
    for transcript in await asyncio.gather(
        *(transcriber.transcribe(n, language="en") for n in notes)
    ):
        assert_heard(transcript.text)


async def test_too_many_bytes_are_refused(spoken: dict[AudioFormat, Audio]) -> None:
    small = WhisperTranscriber(max_bytes=1_000)
    data = spoken[AudioFormat.MP3].data
    with pytest.raises(AudioTooLarge) as refused:
        await small.transcribe(data)
    assert (refused.value.size, refused.value.limit) == (len(data), 1_000)
    await small.close()


async def test_too_long_audio_is_refused(spoken: dict[AudioFormat, Audio]) -> None:
    short = WhisperTranscriber(max_seconds=2)
    for audio in spoken.values():
        with pytest.raises(AudioTooLong) as refused:
            await short.transcribe(audio.data)
        assert refused.value.duration == pytest.approx(audio.duration, abs=0.1)
        assert refused.value.limit == 2
    await short.close()


def test_decoding_stops_at_the_limit_when_the_header_says_less() -> None:
    """An MP3 without a Xing header whose first frames have a high bitrate: FFmpeg
    estimates 5 s from the file size, but it holds 62 s; decoding stops after 20."""
    rng = np.random.default_rng(0)
    no_header = {"write_xing": "0", "id3v2_version": "0"}
    loud = rng.normal(0, 3000, 16_000 * 2).astype(np.int16)
    first = encoded(
        loud, 16_000, muxer="mp3", encoder="libmp3lame", bit_rate=160_000, options=no_header
    )
    quiet = np.zeros(16_000 * 60, np.int16)
    rest = encoded(
        quiet, 16_000, muxer="mp3", encoder="libmp3lame", bit_rate=8_000, options=no_header
    )
    with av.open(io.BytesIO(first + rest), "r") as container:
        assert container.duration is not None
        assert container.duration / av.time_base < 10
    with pytest.raises(AudioTooLong) as refused:
        decode(first + rest, max_seconds=20)
    assert 20 < refused.value.duration < 21


async def test_garbage_empty_and_truncated_notes_are_unreadable(
    transcriber: WhisperTranscriber, spoken: dict[AudioFormat, Audio]
) -> None:
    ogg = spoken[AudioFormat.OGG_OPUS].data
    third_page = ogg.index(b"OggS", ogg.index(b"OggS", 4) + 4)  # after OpusHead, OpusTags
    rng = np.random.default_rng(0)
    for data in (
        b"",
        b"not audio at all " * 100,
        rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
        ogg[:40],  # cut inside the headers
        ogg[:third_page],  # the headers, no audio
        spoken[AudioFormat.MP3].data[:30],
    ):
        with pytest.raises(UnreadableAudio) as refused:
            await transcriber.transcribe(data)
        assert refused.value.detail
        assert "record it again" in refused.value.reason


async def test_a_note_cut_mid_audio_keeps_what_it_holds(
    spoken: dict[AudioFormat, Audio],
) -> None:
    ogg = spoken[AudioFormat.OGG_OPUS]
    samples = await asyncio.to_thread(decode, ogg.data[: len(ogg.data) // 2], max_seconds=60)
    assert 0.2 * ogg.duration < len(samples) / 16_000 < 0.8 * ogg.duration


def test_a_model_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TranscriberUnavailable) as refused:
        WhisperTranscriber(model_path=tmp_path)
    assert refused.value.model_path == tmp_path


async def test_the_multilingual_model_is_joined_only_from_untampered_halves(tmp_path: Path) -> None:
    """Whisper base's two halves are joined into the cache and checked; a changed byte
    in a half is refused and leaves nothing to load; a changed cached copy is replaced."""
    installed = multilingual_model()
    cache = tmp_path / "whisper-base"
    assert joined_directory(installed, cache) == cache
    verify(cache, installed.sha256)
    assert sorted(p.name for p in cache.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    with (cache / "model.bin").open("r+b") as file:
        file.seek(1000)
        file.write(b"\x00\x01")
    joined_directory(installed, cache)  # joined again from the halves
    verify(cache, installed.sha256)

    tampered = tmp_path / "model.bin.part2"
    data = bytearray(installed.parts[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(data)
    forged = SplitModel((installed.parts[0], tampered), installed.directory, installed.sha256)
    fresh = tmp_path / "fresh"
    with pytest.raises(TranscriberUnavailable) as refused:
        joined_directory(forged, fresh)
    assert f"expected {installed.sha256}" in refused.value.reason
    assert list(fresh.iterdir()) == []
    transcriber = WhisperTranscriber(multilingual=forged)  # joined in memory: refused too
    silence = wav_bytes(np.zeros(16_000, np.int16), 16_000)
    with pytest.raises(TranscriberUnavailable):
        await transcriber.transcribe(silence, language="es")
    await transcriber.close()
