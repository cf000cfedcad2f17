"""A bot's ambience: the bed its creator chose for the voice of recorded content.

:class:`AmbienceChoice` is what is kept in the bot's settings (``ambience``): a kind
(``rain``, ``pad`` or ``music``), a level in dB under the voice, and for music the media
reference of the creator's file. :func:`prepare_music` checks an upload (size, readable
by FFmpeg, duration, not silent) and re-encodes it as OGG/Opus for keeping; the sounds
themselves and the mixing are in :mod:`core.voice.beds`. Off by default: no setting, no
bed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import AudioTooLong, SpeechFailed, UnreadableAudio, UnusableMusic
from core.messages import Audio, AudioFormat
from core.voice.audio import Pcm, decode, encode
from core.voice.beds import DEFAULT_LEVEL_DB, GENERATED, MAX_LEVEL_DB, MIN_LEVEL_DB

KINDS = (*GENERATED, "music")
#: an upload larger than this is refused before it is read
MAX_MUSIC_BYTES = 25 * 1024 * 1024
MIN_MUSIC_SECONDS = 10.0
MAX_MUSIC_SECONDS = 30 * 60.0
#: music is kept (and mixed) at this rate, mono: plenty for a bed under a voice
MUSIC_RATE = 22_050
#: quieter than this (RMS, dBFS) is silence, not music
SILENT_DBFS = -60.0


@dataclass(frozen=True, slots=True)
class AmbienceChoice:
    """The bed a creator chose: its kind, its level under speech (dB, negative) and,
    for music, the kept file's media reference, its original name and length."""

    kind: str
    level: float = DEFAULT_LEVEL_DB
    music: str | None = None
    music_name: str = ""
    music_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.kind!r} isn't an ambience (there is: {', '.join(KINDS)})")
        if not MIN_LEVEL_DB <= self.level <= MAX_LEVEL_DB or math.isnan(self.level):
            raise ValueError(
                f"the level is {MIN_LEVEL_DB:g} to {MAX_LEVEL_DB:g} dB under the voice, "
                f"not {self.level:g}"
            )
        if self.kind == "music" and not self.music:
            raise ValueError("a music ambience needs an uploaded file")

    @classmethod
    def from_settings(cls, data: object) -> AmbienceChoice | None:
        """The choice kept in a bot's settings; None when there is none (or it is
        unreadable): no bed."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                kind=str(data.get("kind")),
                level=float(data.get("level", DEFAULT_LEVEL_DB)),
                music=data.get("music") if isinstance(data.get("music"), str) else None,
                music_name=str(data.get("music_name") or ""),
                music_seconds=float(data.get("music_seconds") or 0.0),
            )
        except (TypeError, ValueError):
            return None

    def to_settings(self) -> dict[str, Any]:
        """The choice as kept in the bot's settings."""
        kept: dict[str, Any] = {"kind": self.kind, "level": self.level}
        if self.music:  # kept while another bed plays, to switch back to it
            kept |= {
                "music": self.music,
                "music_name": self.music_name,
                "music_seconds": self.music_seconds,
            }
        return kept

    def describe(self) -> str:
        """One line for the creator: what plays under the voice, how loud."""
        what = {
            "rain": "soft rain",
            "pad": "a soft pad of low tones",
            "music": f"your music “{self.music_name or 'uploaded file'}”"
            f" ({self.music_seconds / 60:.1f} min, looped)",
        }[self.kind]
        return f"{what}, {-self.level:g} dB under the voice"


def prepare_music(data: bytes, *, mime_type: str | None = None) -> tuple[Audio, Pcm]:
    """Check an uploaded music file and re-encode it as OGG/Opus for keeping (returns
    the encoded file and its samples at :data:`MUSIC_RATE`); raises
    :class:`~core.errors.UnusableMusic` saying what is wrong. Blocks: call it from a
    worker thread."""
    if not data:
        raise UnusableMusic("the file is empty.")
    if len(data) > MAX_MUSIC_BYTES:
        raise UnusableMusic(
            f"it is {len(data) / 1024 / 1024:.1f} MB; up to "
            f"{MAX_MUSIC_BYTES // 1024 // 1024} MB is accepted."
        )
    try:
        samples = decode(data, max_seconds=MAX_MUSIC_SECONDS, mime_type=mime_type, rate=MUSIC_RATE)
    except AudioTooLong:
        raise UnusableMusic(
            f"it lasts more than {MAX_MUSIC_SECONDS / 60:.0f} minutes; a shorter piece is "
            "looped to fill the recording."
        ) from None
    except UnreadableAudio as exc:
        raise UnusableMusic(
            f"it isn't audio that can be read (MP3, OGG, WAV, M4A, FLAC…): {exc}."
        ) from None
    seconds = len(samples) / MUSIC_RATE
    if seconds < MIN_MUSIC_SECONDS:
        raise UnusableMusic(
            f"it lasts {seconds:.1f} seconds; at least {MIN_MUSIC_SECONDS:g} are needed."
        )
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    if rms <= 10 ** (SILENT_DBFS / 20):
        raise UnusableMusic("it is silent.")
    pcm = Pcm(np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16), MUSIC_RATE)
    try:
        kept = encode(pcm, AudioFormat.OGG_OPUS)
    except SpeechFailed as exc:
        raise UnusableMusic(f"it could not be re-encoded ({exc.reason}).") from None
    return kept, pcm
