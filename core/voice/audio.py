"""PCM in memory and the codecs around it, with numpy and PyAV (FFmpeg in the ``av`` wheel).

Speech out: espeak-ng's 16-bit mono samples are joined with silences, resampled with
FFmpeg's resampler and encoded as OGG/Opus (Telegram ``sendVoice``, WhatsApp) or MP3
(every browser). Speech in: a voice note in any container FFmpeg reads (OGG/Opus, MP3,
WAV, M4A/AAC, WebM...) becomes float32 16 kHz mono, the input Whisper expects, without
ever decoding more than the allowed duration. Everything here blocks: call it from a
worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt

from core.errors import AudioTooLong, SpeechFailed, UnreadableAudio
from core.messages import Audio, AudioFormat

#: What Whisper reads.
TRANSCRIPTION_RATE = 16_000
#: Opus encodes at 8/12/16/24/48 kHz only; 48 kHz is what every player expects.
OPUS_RATE = 48_000
MP3_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
#: Container hints for data FFmpeg cannot recognise by probing alone (raw ADTS, odd MP3s).
_DEMUXERS = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/aac": "aac",
    "audio/mp4": "mp4",
    "audio/m4a": "mp4",
    "audio/x-m4a": "mp4",
    "audio/webm": "webm",
}


@dataclass(frozen=True, slots=True, eq=False)
class Pcm:
    """Signed 16-bit mono samples at ``rate`` Hz."""

    samples: npt.NDArray[np.int16] = field(repr=False)
    rate: int

    @property
    def duration(self) -> float:
        """Length in seconds, counted from the samples."""
        return len(self.samples) / self.rate


@dataclass(frozen=True, slots=True)
class Codec:
    """How one :class:`AudioFormat` is written: FFmpeg muxer, encoder, bitrate, options."""

    muxer: str
    encoder: str
    bit_rate: int
    options: tuple[tuple[str, str], ...] = ()


#: Opus at 32 kbit/s, plenty for one voice; MP3 at 48 kbit/s (MPEG-2 at 22.05 kHz, mono).
#: Opus's "audio" mode, not "voip": on the long silences of a meditation "voip" made
#: files 8 times larger (1.8 kB/s against 0.2) and encoded 2 times slower.
CODECS = {
    AudioFormat.OGG_OPUS: Codec("ogg", "libopus", 32_000, (("application", "audio"),)),
    # LAME -q 5 instead of its default 3: 20% faster, the same size, fine for one voice
    AudioFormat.MP3: Codec("mp3", "libmp3lame", 48_000, (("compression_level", "5"),)),
}


def silence(seconds: float, rate: int) -> Pcm:
    """``seconds`` of silence (rounded to a whole sample, never negative)."""
    return Pcm(np.zeros(max(0, round(seconds * rate)), dtype=np.int16), rate)


def concatenate(parts: Sequence[Pcm], rate: int) -> Pcm:
    """``parts`` one after another; all must be at ``rate`` (resample them first)."""
    wrong = sorted({p.rate for p in parts if p.rate != rate})
    if wrong:
        raise ValueError(f"cannot join PCM at {wrong} Hz with PCM at {rate} Hz")
    if not parts:
        return Pcm(np.zeros(0, dtype=np.int16), rate)
    return Pcm(np.concatenate([p.samples for p in parts]), rate)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` at another sample rate, through FFmpeg's resampler (libswresample)."""
    if pcm.rate == rate or not len(pcm.samples):
        return Pcm(pcm.samples, rate)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frames = [*resampler.resample(_frame(pcm)), *resampler.resample(None)]
    return Pcm(np.concatenate([f.to_ndarray().reshape(-1) for f in frames]), rate)


def encode(pcm: Pcm, audio_format: AudioFormat) -> Audio:
    """Encode ``pcm`` in one container, resampled to a rate the codec takes; the duration
    is that of the encoded samples."""
    codec = CODECS[audio_format]
    if audio_format is AudioFormat.OGG_OPUS:
        rate = OPUS_RATE
    else:  # the nearest MP3 rate at or above the source, or 48 kHz
        rate = next((r for r in MP3_RATES if r >= pcm.rate), MP3_RATES[-1])
    source = resample(pcm, rate)
    buffer = io.BytesIO()
    try:
        with av.open(buffer, "w", format=codec.muxer) as container:
            stream = container.add_stream(
                codec.encoder, rate=rate, layout="mono", options=dict(codec.options)
            )
            if not isinstance(stream, av.AudioStream):
                raise ValueError(f"{codec.encoder} is not an audio encoder")
            stream.bit_rate = codec.bit_rate
            frames: list[av.AudioFrame | None] = [_frame(source)] if len(source.samples) else []
            for frame in [*frames, None]:  # None drains the encoder
                container.mux(stream.encode(frame))
    except (av.FFmpegError, ValueError) as exc:
        raise SpeechFailed(f"{codec.encoder} could not encode: {exc}") from exc
    return Audio(data=buffer.getvalue(), format=audio_format, duration=source.duration)


def decode(
    data: bytes,
    *,
    max_seconds: float,
    mime_type: str | None = None,
    rate: int = TRANSCRIPTION_RATE,
) -> npt.NDArray[np.float32]:
    """The first audio stream of ``data`` as float32 samples at ``rate`` (16 kHz, what
    Whisper reads, unless asked otherwise), mono.

    Raises :class:`AudioTooLong` as soon as the container declares, or the decoded
    samples reach, more than ``max_seconds`` (a 3-hour file is never decoded whole), and
    :class:`UnreadableAudio` for empty, garbage or truncated data with no audio in it.
    A file cut after some audio yields what it holds, as a player would play it.
    """
    if not data:
        raise UnreadableAudio("no bytes")
    limit = int(max_seconds * rate)
    parts: list[npt.NDArray[np.float32]] = []
    decoded = 0
    try:
        with _open(data, mime_type) as container:
            if not container.streams.audio:
                raise UnreadableAudio("no audio stream")
            stream = container.streams.audio[0]
            declared = _declared_seconds(container, stream)
            if declared is not None and declared > max_seconds:
                raise AudioTooLong(declared, max_seconds)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            for frame in _then_none(container.decode(stream)):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                    decoded += out.samples
                if decoded > limit:
                    raise AudioTooLong(decoded / rate, max_seconds)
    except (av.FFmpegError, ValueError, EOFError) as exc:
        raise UnreadableAudio(f"{type(exc).__name__}: {exc}") from exc
    if not decoded:
        raise UnreadableAudio("no audio samples")
    return np.concatenate(parts)


def _open(data: bytes, mime_type: str | None) -> av.container.InputContainer:
    """Open ``data`` by probing it; if that fails, with the muxer its MIME type names."""
    try:
        return av.open(io.BytesIO(data), "r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, EOFError):
        hint = _DEMUXERS.get((mime_type or "").split(";")[0].strip().lower())
        if hint is None:
            raise
        return av.open(io.BytesIO(data), "r", format=hint, metadata_errors="ignore")


def _declared_seconds(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """The duration written in (or estimated from) the container, if there is one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _then_none(frames: Iterable[av.AudioFrame]) -> Iterator[av.AudioFrame | None]:
    """The frames, then None (which flushes a resampler)."""
    yield from frames
    yield None


def _frame(pcm: Pcm) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(pcm.samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = pcm.rate
    frame.pts = 0
    frame.time_base = Fraction(1, pcm.rate)
    return frame
