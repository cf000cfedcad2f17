"""A soft bed under a recorded voice: rain-like noise, a pad of low tones, or music.

:func:`bed_samples` makes the bed for a recording (generated sounds are seeded, so one
recording always gets the same bed); :func:`mix` puts it under the voice. The bed is
ducked: in speech it sits ``level`` dB under the voice's speech level, and in the pauses
it rises by :data:`PAUSE_LIFT_DB`, never above :data:`MAX_PAUSE_DB` under the voice, so
the voice is always the loudest thing heard. It fades in at the start and out at the
end, and its level moves smoothly, never in steps. Everything here blocks (numpy on
minutes of samples): call it from a worker thread.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.voice.audio import Pcm

Samples = npt.NDArray[np.float32]

#: the bed's level under speech, relative to the voice's speech level (dB)
DEFAULT_LEVEL_DB = -22.0
MIN_LEVEL_DB, MAX_LEVEL_DB = -40.0, -12.0
#: how much the bed rises in the pauses, and its ceiling there (dB under the voice)
PAUSE_LIFT_DB = 6.0
MAX_PAUSE_DB = -8.0
FADE_IN_SECONDS = 4.0
FADE_OUT_SECONDS = 6.0
#: frames for telling speech from pauses; gaps between words shorter than the hold
#: count as speech, so the bed does not pump between them
FRAME_SECONDS = 0.02
SPEECH_HOLD_SECONDS = 0.5
#: a frame is speech when its level is within this of the voice's loud frames (dB)
SPEECH_THRESHOLD_DB = -30.0
#: the bed's level glides over this long between speech and pause
GLIDE_SECONDS = 0.8
#: generated noise is made as a loop of this length (seamless: made by FFT)
NOISE_LOOP_SECONDS = 47.0
PAD_LOOP_SECONDS = 120.0
#: the pad: an open A chord in low octaves (Hz, weight), each tone with a slow swell
PAD_TONES = ((110.0, 1.0), (164.81, 0.7), (220.0, 0.5), (277.18, 0.3), (329.63, 0.2))
MUSIC_CROSSFADE_SECONDS = 2.0
PEAK = 0.98
GENERATED = ("rain", "pad")


def speech_mask(voice: Samples, rate: int) -> npt.NDArray[np.bool_]:
    """Per frame of :data:`FRAME_SECONDS`, whether the voice is speaking (held over short
    gaps between words)."""
    frame = max(1, round(FRAME_SECONDS * rate))
    count = len(voice) // frame + (1 if len(voice) % frame else 0)
    padded = np.zeros(count * frame, dtype=np.float32)
    padded[: len(voice)] = voice
    rms = np.sqrt(np.mean(padded.reshape(count, frame) ** 2, axis=1))
    if count == 0 or not np.any(rms > 0):
        return np.zeros(count, dtype=bool)
    loud = float(np.percentile(rms[rms > 0], 95))
    active = rms > loud * 10 ** (SPEECH_THRESHOLD_DB / 20)
    hold = max(1, round(SPEECH_HOLD_SECONDS / FRAME_SECONDS))
    held = np.convolve(active.astype(np.float32), np.ones(2 * hold + 1), mode="same") > 0
    return np.asarray(held, dtype=bool)


def bed_samples(
    kind: str, seconds: float, rate: int, *, seed: int = 0, music: Samples | None = None
) -> Samples:
    """``seconds`` of bed at ``rate``, at unit RMS: ``rain``, ``pad``, or ``music`` (the
    creator's decoded music at ``rate``, looped with a crossfade to fill the time)."""
    length = max(0, round(seconds * rate))
    if kind == "rain":
        bed = _rain(length, rate, np.random.default_rng(seed))
    elif kind == "pad":
        bed = _pad(length, rate, np.random.default_rng(seed))
    elif kind == "music":
        if music is None or not len(music):
            raise ValueError("a music bed needs the music's samples")
        bed = _loop(music.astype(np.float32), length, round(MUSIC_CROSSFADE_SECONDS * rate))
    else:
        raise ValueError(f"no bed called {kind!r}")
    rms = float(np.sqrt(np.mean(bed**2))) if len(bed) else 0.0
    return (bed / rms).astype(np.float32) if rms > 0 else bed.astype(np.float32)


def mix(voice: Pcm, bed: Samples, *, level_db: float = DEFAULT_LEVEL_DB) -> Pcm:
    """The voice with ``bed`` (unit RMS, at least as long) under it: ducked in speech,
    a little higher in the pauses, faded in and out, the whole kept from clipping."""
    level_db = min(MAX_LEVEL_DB, max(MIN_LEVEL_DB, level_db))
    rate = voice.rate
    samples = voice.samples.astype(np.float32) / np.float32(32768)
    if not len(samples):
        return voice
    mask = speech_mask(samples, rate)
    frame = max(1, round(FRAME_SECONDS * rate))
    spoken = np.repeat(mask, frame)[: len(samples)]
    reference = float(np.sqrt(np.mean(samples[spoken] ** 2))) if spoken.any() else 0.0
    if reference == 0.0:  # nothing is said: nothing to sit under
        return voice
    speech_gain = reference * 10 ** (level_db / 20)
    pause_gain = reference * 10 ** (min(level_db + PAUSE_LIFT_DB, MAX_PAUSE_DB) / 20)
    glide = max(1, round(GLIDE_SECONDS / FRAME_SECONDS))
    # the bed starts falling before the voice comes in and rises only after it stops:
    # the ducked stretch is widened by half a glide on each side before smoothing
    ducked = np.convolve(mask.astype(np.float32), np.ones(glide | 1), mode="same") > 0
    per_frame = np.where(ducked, speech_gain, pause_gain).astype(np.float32)
    padded = np.pad(per_frame, glide, mode="edge")
    smooth = np.convolve(padded, np.ones(glide) / glide, mode="same")[glide:-glide]
    centres = (np.arange(len(smooth)) + 0.5) * frame
    gain = np.interp(np.arange(len(samples)), centres, smooth).astype(np.float32)
    gain *= fade(len(samples), rate)
    out = samples + bed[: len(samples)] * gain
    peak = float(np.max(np.abs(out)))
    if peak > PEAK:
        out *= PEAK / peak
    return Pcm(np.round(out * 32767).astype(np.int16), rate)


def fade(length: int, rate: int) -> Samples:
    """A gain curve of ``length`` samples rising from 0 over the first seconds and back
    to 0 over the last (raised cosines; shorter on a very short recording)."""
    curve = np.ones(length, dtype=np.float32)
    rise = min(round(FADE_IN_SECONDS * rate), length // 3)
    fall = min(round(FADE_OUT_SECONDS * rate), length // 3)
    if rise:
        curve[:rise] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, rise, dtype=np.float32))
    if fall:
        curve[length - fall :] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fall, dtype=np.float32))
    return curve


def _rain(length: int, rate: int, rng: np.random.Generator) -> Samples:
    """Soft rain: pink and brown noise, rolled off above 3 kHz and below 60 Hz, with a
    slow swell. Made as a seamless loop in the frequency domain, then tiled."""
    loop = min(length, round(NOISE_LOOP_SECONDS * rate)) or 1
    spectrum = rng.normal(size=loop // 2 + 1) + 1j * rng.normal(size=loop // 2 + 1)
    freqs = np.fft.rfftfreq(loop, 1 / rate)
    safe = np.maximum(freqs, 1.0)
    shape = 0.6 / np.sqrt(safe) + 0.4 * 30 / safe  # pink, then brown
    shape *= 1 / (1 + (freqs / 3000) ** 4) * (freqs > 60)
    noise = np.fft.irfft(spectrum * shape, n=loop)
    noise *= 0.85 + 0.15 * np.sin(_looped(0.07, loop, rate) + rng.uniform(0, 6))
    return np.resize(noise.astype(np.float32), length)


def _pad(length: int, rate: int, rng: np.random.Generator) -> Samples:
    """A soft pad: low sine tones, each doubled a fraction of a hertz apart (a slow
    beating) and swelling at its own slow rate. Every frequency is a whole number of
    cycles per loop of :data:`PAD_LOOP_SECONDS`, so the loop is tiled without a seam."""
    loop = min(length, round(PAD_LOOP_SECONDS * rate)) or 1
    bed = np.zeros(loop, dtype=np.float64)
    for frequency, weight in PAD_TONES:
        swell = 0.7 + 0.3 * np.sin(_looped(rng.uniform(0.03, 0.12), loop, rate) + rng.uniform(0, 6))
        for detune in (0.0, rng.uniform(0.2, 0.5)):
            bed += (
                weight * swell * np.sin(_looped(frequency + detune, loop, rate) + rng.uniform(0, 6))
            )
    return np.resize(bed.astype(np.float32), length)


def _looped(frequency: float, loop: int, rate: int) -> npt.NDArray[np.float64]:
    """The phase of a sine near ``frequency`` that completes whole cycles in ``loop``
    samples (at least one)."""
    cycles = max(1, round(frequency * loop / rate))
    return 2 * np.pi * cycles * np.arange(loop, dtype=np.float64) / loop


def _loop(music: Samples, length: int, crossfade: int) -> Samples:
    """``music`` repeated to ``length`` samples, each repeat crossfaded into the last."""
    if len(music) >= length:
        return music[:length].copy()
    crossfade = min(crossfade, len(music) // 4)
    out = music.copy()
    ramp = np.linspace(0, 1, crossfade, dtype=np.float32)
    while len(out) < length:
        if crossfade:
            joined = out[-crossfade:] * (1 - ramp) + music[:crossfade] * ramp
            out = np.concatenate([out[:-crossfade], joined, music[crossfade:]])
        else:
            out = np.concatenate([out, music])
    return out[:length]
