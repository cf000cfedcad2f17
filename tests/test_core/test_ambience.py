"""Ambience under the recorded voice: real espeak-ng and Piper speech, real mixing and
encoding, the creator's choice through the ``chorus`` command line and their chat.

The voice must stay dominant: the bed is measured separately (mix minus voice) in the
speech and in the pauses of real recordings.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import FormData

from core.errors import UnusableMusic
from core.messages import AudioFormat, OutboundKind
from core.services import SERVICES, Services
from core.voice.ambience import AmbienceChoice, prepare_music
from core.voice.audio import Pcm, concatenate, silence
from core.voice.beds import FADE_IN_SECONDS, bed_samples, mix, speech_mask
from core.voice.engines import EspeakEngine
from core.voice.seams import Bed, VoiceSettings
from core.voice.speech import ScriptSpeaker
from tests.api import bearer, problem, register
from tests.chat import chat_with
from tests.cli import chorus
from tests.test_channels.telegram_app import Client

SPOKEN = "Breathe in slowly through your nose, and let the breath go all the way out."
SCRIPT = f"{SPOKEN}\n(pause 8 seconds)\n{SPOKEN}\n(pause 8 seconds)\n{SPOKEN}"
EN = VoiceSettings()


def db(x: float) -> float:
    return 20 * math.log10(x)


def rms(samples: npt.NDArray[np.floating]) -> float:
    return float(np.sqrt(np.mean(np.asarray(samples, dtype=np.float64) ** 2)))


@pytest.fixture(scope="module")
def voice() -> Pcm:
    """Real espeak-ng speech with 6 s of silence before, between and after."""
    engine = EspeakEngine()
    name = engine.voice_for(EN)
    said = engine.synthesize(SPOKEN, name, EN)
    gap = silence(6, said.rate)
    return concatenate([gap, said, gap, said, gap], said.rate)


def segments(voice: Pcm) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per sample: where the voice speaks, and where it is silent (away from the fades
    and from the edges of speech)."""
    floats = voice.samples.astype(np.float32) / np.float32(32768)
    mask = np.repeat(speech_mask(floats, voice.rate), round(0.02 * voice.rate))
    mask = mask[: len(voice.samples)]
    pauses = ~np.convolve(mask, np.ones(voice.rate), mode="same").astype(bool)
    edge = int(FADE_IN_SECONDS * 1.5 * voice.rate)
    pauses[:edge] = pauses[-edge:] = False
    return mask, pauses


@pytest.mark.parametrize("kind", ["rain", "pad"])
def test_the_voice_stays_dominant_and_the_bed_rises_in_the_pauses(voice: Pcm, kind: str) -> None:
    bed = bed_samples(kind, voice.duration, voice.rate, seed=1)
    mixed = mix(voice, bed, level_db=-22)
    assert len(mixed.samples) == len(voice.samples)
    assert mixed.rate == voice.rate
    speech, pauses = segments(voice)
    assert speech.sum() > voice.rate
    assert pauses.sum() > voice.rate
    clean = voice.samples.astype(np.float64) / 32768
    out = mixed.samples.astype(np.float64) / 32768
    under = out - clean
    voice_level = rms(clean[speech])
    bed_in_speech, bed_in_pauses = rms(under[speech]), rms(under[pauses])
    # about 22 dB under the voice while it speaks (the bed itself swells a little)
    assert -25 <= db(bed_in_speech / voice_level) <= -19, db(bed_in_speech / voice_level)
    # and 6 dB higher in the pauses: the gain applied to the bed, whatever its own swell
    lift = db(bed_in_pauses / rms(bed[pauses])) - db(bed_in_speech / rms(bed[speech]))
    assert 5 <= lift <= 6.5, lift
    # never as loud as the voice: the pauses stay well under the speech
    assert db(rms(out[pauses]) / rms(out[speech])) <= -8
    assert db(rms(out[speech]) / voice_level) < 0.5  # the speech is barely changed


def test_the_level_moves_the_bed_and_is_held_in_range(voice: Pcm) -> None:
    bed = bed_samples("rain", voice.duration, voice.rate, seed=2)
    speech, _ = segments(voice)
    clean = voice.samples.astype(np.float64) / 32768

    def under(level: float) -> float:
        return rms(mix(voice, bed, level_db=level).samples[speech] / 32768 - clean[speech])

    assert 8 <= db(under(-20) / under(-30)) <= 12
    assert under(0) == pytest.approx(under(-12), rel=0.01)  # capped at -12 dB


def test_the_bed_fades_in_and_out(voice: Pcm) -> None:
    bed = bed_samples("pad", voice.duration, voice.rate, seed=3)
    out = mix(voice, bed).samples.astype(np.float64) / 32768
    rate = voice.rate
    window = rate // 10

    def gain(at: float) -> float:  # where the voice is silent, the mix is the bed alone
        start = int(at * rate)
        return rms(out[start : start + window]) / rms(bed[start : start + window])

    # the recording opens and closes on 6 s of silent voice: the bed rises over 4 s
    assert gain(0) < 0.02 * gain(4)
    assert gain(0) < gain(1) < gain(2) < gain(3) < gain(4)
    assert gain(4.2) == pytest.approx(gain(4), rel=0.02)  # faded in: steady in the pause
    end = voice.duration - 0.1
    assert gain(end) < 0.02 * gain(end - 6)
    assert gain(end - 4) > gain(end - 3) > gain(end - 2) > gain(end - 1) > gain(end)


def test_rain_is_broad_noise_and_the_pad_low_tones() -> None:
    rate = 22050

    def spectrum(kind: str) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]:
        bed = bed_samples(kind, 20, rate, seed=4)
        assert rms(bed) == pytest.approx(1, rel=1e-3)
        power = np.abs(np.fft.rfft(bed)) ** 2
        return np.fft.rfftfreq(len(bed), 1 / rate), power

    freqs, pad = spectrum("pad")
    assert pad[freqs < 400].sum() / pad.sum() > 0.99
    assert abs(freqs[np.argmax(pad)] - 110) < 1
    freqs, rain = spectrum("rain")
    mid = rain[(freqs > 300) & (freqs < 3000)].sum() / rain.sum()
    assert 0.05 < mid < 0.9  # spread over the band, not one tone
    assert rain[freqs > 6000].sum() / rain.sum() < 0.01  # soft: no hiss


def tone_file(seconds: float, codec: str = "pcm_s16le", fmt: str = "wav") -> bytes:
    """An encoded file of two mixed tones (music enough for a bed)."""
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    samples = (wave * 32767).astype(np.int16).reshape(1, -1)
    return written(samples, rate, codec, fmt)


def written(samples: npt.NDArray[np.int16], rate: int, codec: str, fmt: str) -> bytes:
    """``samples`` (1 x n, 16-bit) encoded with ``codec`` in the container ``fmt``."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def test_uploaded_music_is_checked_with_clear_reasons() -> None:
    kept, pcm = prepare_music(tone_file(12))
    assert kept.format is AudioFormat.OGG_OPUS
    assert abs(pcm.duration - 12) < 0.1
    for data, reason in (
        (b"", "empty"),
        (b"ID3\x03\x00not really an mp3 at all" * 50, "isn't audio that can be read"),
        (tone_file(12)[:60], "isn't audio that can be read"),
        (tone_file(3), "lasts 3.0 seconds; at least 10 are needed"),
        (b"\x00" * (26 * 1024 * 1024), "up to 25 MB"),
    ):
        with pytest.raises(UnusableMusic, match="can't be used under the voice") as refused:
            prepare_music(data)
        assert reason in str(refused.value), (reason, str(refused.value))
    silent = written(np.zeros((1, 8000 * 15), dtype=np.int16), 8000, "pcm_s16le", "wav")
    with pytest.raises(UnusableMusic, match="it is silent"):
        prepare_music(silent)


def decoded(data: bytes) -> tuple[npt.NDArray[np.float64], int]:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        parts = [f.to_ndarray().astype(np.float64).mean(axis=0) for f in container.decode(stream)]
        return np.concatenate(parts), stream.codec_context.sample_rate


@pytest.fixture
async def speaker() -> AsyncIterator[ScriptSpeaker]:
    speaker = ScriptSpeaker([EspeakEngine()])
    yield speaker
    await speaker.close()


async def test_a_music_bed_plays_under_a_spoken_script(speaker: ScriptSpeaker) -> None:
    plain = await speaker.speak(SCRIPT, EN, [AudioFormat.OGG_OPUS], target_seconds=40)
    music, _ = prepare_music(tone_file(15, "libmp3lame", "mp3"))
    bedded = await speaker.speak(
        SCRIPT, EN, [AudioFormat.OGG_OPUS], target_seconds=40, bed=Bed("music", -20, music.data)
    )
    dry, rate = decoded(plain[AudioFormat.OGG_OPUS].data)
    wet, _ = decoded(bedded[AudioFormat.OGG_OPUS].data)
    assert abs(len(wet) - len(dry)) < rate * 0.1  # the bed adds no time
    # in the middle of the first pause, the dry recording is silent and the bed is heard
    frame = rate // 50
    loud = np.sqrt((dry[: len(dry) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    quiet = np.flatnonzero(loud < 1e-4)
    middle = quiet[len(quiet) // 4] * frame  # within the first long pause
    assert rms(dry[middle : middle + frame * 10]) < 1e-4
    heard = rms(wet[middle : middle + frame * 10])
    assert heard > 1e-3
    spoken = loud > loud.max() * 0.1
    speech_level = rms(dry[: len(spoken) * frame].reshape(-1, frame)[spoken])
    assert db(heard / speech_level) < -8


def test_a_creator_sets_ambience_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    if database_url.startswith("postgresql"):
        env["DATABASE_URL"] = database_url
    shown = chorus("ambience", "demo", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert shown.stdout.decode().strip() == "Mira's recordings have no ambience: the voice alone."
    rain = chorus("ambience", "demo", "rain", "--level", "-26", env=env)
    assert rain.returncode == 0, rain.stderr.decode()
    said = "Under Mira's recorded voice: soft rain, 26 dB under the voice."
    assert rain.stdout.decode().strip() == said
    assert chorus("ambience", "demo", env=env).stdout.decode().strip() == said

    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x03\x00" + b"definitely not audio " * 100)
    refused = chorus("ambience", "demo", "music", str(broken), env=env)
    assert refused.returncode == 2
    assert refused.stderr.decode().startswith(
        "chorus: That music can't be used under the voice: it isn't audio that can be read"
    )
    short = tmp_path / "short.wav"
    short.write_bytes(tone_file(4))
    refused = chorus("ambience", "demo", "music", str(short), env=env)
    assert refused.returncode == 2
    assert "at least 10 are needed" in refused.stderr.decode()
    # nothing was kept: the rain still plays
    assert chorus("ambience", "demo", env=env).stdout.decode().strip() == said
    assert chorus("ambience", "demo", "music", env=env).returncode == 2  # none uploaded
    assert chorus("ambience", "demo", "rain", "--level", "-60", env=env).returncode == 2

    song = tmp_path / "Evening Song.wav"
    song.write_bytes(tone_file(20))
    uploaded = chorus("ambience", "demo", "music", str(song), env=env)
    assert uploaded.returncode == 0, uploaded.stderr.decode()
    assert "your music “Evening Song.wav” (0.3 min, looped), 26 dB under" in (
        uploaded.stdout.decode()
    )
    kept = list((tmp_path / "data" / "media").glob("*.ogg"))
    assert len(kept) == 1
    assert "soft pad" in chorus("ambience", "demo", "pad", env=env).stdout.decode()
    assert "Evening Song" in chorus("ambience", "demo", "music", env=env).stdout.decode()
    off = chorus("ambience", "demo", "off", env=env)
    assert "no ambience" in off.stdout.decode()
    assert not list((tmp_path / "data" / "media").glob("*.ogg"))  # the music is forgotten
    assert chorus("ambience", "nobody", "rain", env=env).returncode == 2


def pause_levels(path: Path) -> tuple[float, float]:
    """RMS of the quietest and loudest seconds of a recording (its pauses and speech)."""
    samples, rate = decoded(path.read_bytes())
    seconds = samples[: len(samples) // rate * rate].reshape(-1, rate)
    levels = np.sort(np.sqrt((seconds**2).mean(axis=1)))
    return float(np.median(levels[: len(levels) // 5])), float(levels[-len(levels) // 10])


MEDITATION = ("/create meditation", "calm", "anytime", "tense", "3", "slow", "audio and text")


async def test_a_creators_ambience_is_under_their_bots_meditations(services: Services) -> None:
    creator = chat_with(services, sender_id="creator-1")
    bot = await services.bots.create(
        "Rain Coach", creator=(creator.channel.value, creator.sender_id)
    )
    creator.bot_id = bot.id
    listener = chat_with(services, sender_id="listener-1", bot_id=bot.id)
    before = [await listener.say(step) for step in MEDITATION]
    assert before
    plain = next(r.audio for r in await listener.say("yes") if r.audio is not None)

    refused = await listener.say("/ambience rain")
    assert refused[-1].text == "/ambience is only for Rain Coach's creator."
    await creator.say("/start")
    assert "no ambience" in (await creator.say("/ambience"))[-1].text
    told = (await creator.say("/ambience rain -20"))[-1].text
    assert told.startswith("Under Rain Coach's recorded voice: soft rain, 20 dB under the voice.")
    assert "didn't work" in (await creator.say("/ambience thunder"))[-1].text
    choice = await services.ambience.current(bot.id)
    assert choice == AmbienceChoice("rain", -20.0)

    for step in MEDITATION:
        await listener.say(step)
    delivered = await listener.say("yes")
    assert OutboundKind.AUDIO in [r.kind for r in delivered]
    bedded = next(r.audio for r in delivered if r.audio is not None)
    plain_path, bedded_path = (services.media.path(a.reference) for a in (plain, bedded))
    assert plain_path is not None
    assert bedded_path is not None
    plain_quiet, plain_loud = pause_levels(plain_path)
    quiet, loud = pause_levels(bedded_path)
    assert plain_quiet < 1e-3  # the voice alone is silent in its pauses
    assert quiet > 3 * max(plain_quiet, 1e-4)  # the rain is heard there
    assert db(quiet / loud) < -10  # and stays far under the speech
    assert db(loud / plain_loud) < 1


def music_form(data: bytes, filename: str, content_type: str) -> FormData:
    form = FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def test_a_creator_sets_ambience_through_the_rest_api(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    other = bearer((await register(api))["access_token"])
    bot = await (await api.post("/api/v1/bots", json={"name": "Calm"}, headers=owner)).json()
    path = f"/api/v1/bots/{bot['id']}/ambience"
    assert await (await api.get(path, headers=owner)).json() == {
        "kind": "off",
        "level": None,
        "music_name": None,
        "music_seconds": None,
    }
    pad = await api.put(path, json={"kind": "pad", "level": -25}, headers=owner)
    assert pad.status == 200, await pad.text()
    assert (await pad.json())["kind"] == "pad"
    assert (await pad.json())["level"] == -25
    await problem(await api.put(path, json={"kind": "pad"}, headers=other), 404)
    await problem(await api.put(path, json={"kind": "thunder"}, headers=owner), 422)
    await problem(await api.put(path, json={"level": -80}, headers=owner), 422)
    told = await problem(await api.put(path, json={"kind": "music"}, headers=owner), 422)
    assert "no music has been uploaded yet" in told["detail"]

    broken = music_form(b"RIFF\x00\x00\x00\x00WAVEnot audio" * 30, "song.wav", "audio/wav")
    refused = await problem(await api.put(f"{path}/music", data=broken, headers=owner), 422)
    assert refused["detail"].startswith(
        "That music can't be used under the voice: it isn't audio that can be read"
    )
    assert (await (await api.get(path, headers=owner)).json())["kind"] == "pad"  # unchanged
    song = music_form(tone_file(14, "libmp3lame", "mp3"), "Dusk.mp3", "audio/mpeg")
    uploaded = await api.put(f"{path}/music", data=song, headers=owner)
    assert uploaded.status == 200, await uploaded.text()
    shown = await uploaded.json()
    assert shown["kind"] == "music"
    assert shown["level"] == -25
    assert shown["music_name"] == "Dusk.mp3"
    assert 13.5 < shown["music_seconds"] < 14.5
    choice = await api.app[SERVICES].ambience.current(bot["id"])
    assert choice is not None
    assert api.app[SERVICES].media.path(choice.music or "") is not None
    off = await api.put(path, json={"kind": "off"}, headers=owner)
    assert (await off.json())["kind"] == "off"
    assert api.app[SERVICES].media.path(choice.music or "") is None
