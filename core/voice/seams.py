"""The seams for speech: an :class:`AudioGenerator` speaks scripts, a :class:`Transcriber`
reads voice notes.

The engine and the content jobs only know these protocols and value types; Piper (with
espeak-ng behind it) and Whisper are the default implementations, chosen in
``build_services``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.messages import Audio, AudioFormat


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How a user likes to be spoken to: a voice (a language code such as ``en``,
    ``en-us``, ``fr``, or an espeak-ng voice), a speaking rate in words per minute and a
    pitch (0-100, espeak-ng only). ``calm`` is for content to relax to (meditations,
    affirmations, rituals): a neural voice speaks it slower, with longer silences between
    sentences; chat replies are not calm."""

    voice: str = "en"
    words_per_minute: int = 150
    pitch: int = 50
    calm: bool = False


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a voice note said, in which language (ISO 639-1) and how sure the model is."""

    text: str
    language: str
    language_probability: float
    duration: float


@dataclass(frozen=True, slots=True)
class Bed:
    """A soft sound under the voice of a recording: ``rain``, ``pad`` or ``music`` (then
    ``music`` holds the file, any format FFmpeg reads), ``level`` dB under the voice's
    speech, rising a little in the pauses, faded in and out."""

    kind: str
    level: float
    music: bytes | None = None


#: Receives the fraction (0.0-1.0) of a long synthesis that is done.
SpeechProgress = Callable[[float], None]


class AudioGenerator(Protocol):
    """Speaks a script: plain text where lines such as ``(pause 20 seconds)`` are silences.

    With ``target_seconds`` the pauses are stretched or shrunk (never below a short
    breath) so that the audio lasts that long; each requested format is encoded from the
    same samples; with a ``bed``, the formats hold the voice with the bed under it.
    """

    async def speak(
        self,
        script: str,
        voice: VoiceSettings,
        formats: Sequence[AudioFormat],
        *,
        target_seconds: float | None = None,
        progress: SpeechProgress | None = None,
        bed: Bed | None = None,
    ) -> dict[AudioFormat, Audio]: ...

    def heard_rate(self, voice: VoiceSettings) -> float:
        """The words a minute a listener hears in ``voice``, silences between sentences
        included: what a script to fill a length is written for."""
        ...


class Transcriber(Protocol):
    """Turns a voice note (OGG/Opus, MP3, WAV, M4A...) into text; ``language`` is the one
    its sender speaks (``es``, ``pt-br``), None when unknown."""

    async def transcribe(
        self, data: bytes, *, mime_type: str | None = None, language: str | None = None
    ) -> Transcript: ...
