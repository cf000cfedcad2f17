"""Speech engines: what turns one piece of a script into samples, behind one small protocol.

:class:`~core.voice.speech.ScriptSpeaker` asks its engines in order for a voice that fits
the user's settings and speaks the whole script with the first that has one, moving to
the next when an engine fails. :class:`EspeakEngine` (espeak-ng, every language, robotic)
is the last resort; :class:`~core.voice.piper.PiperEngine` (neural voices in installed
packages) comes first by default. Engines block: the speaker calls them from its thread.
"""

from __future__ import annotations

import logging
from typing import Protocol

from core.voice.audio import Pcm
from core.voice.espeak import espeak
from core.voice.seams import VoiceSettings

log = logging.getLogger("chorus.speech")

DEFAULT_ESPEAK_VOICE = "en"


class SpeechEngine(Protocol):
    """Text to 16-bit mono samples, in a voice the engine picks for the user's settings.

    ``name`` goes into logs and onto the audio (``piper:en_US-joe-medium``);
    ``synthesis_share`` is the part of a recording's time that synthesis takes (the rest
    is encoding), so that progress moves evenly. Both methods block and raise
    :class:`~core.errors.SpeechFailed` when the engine cannot speak.
    """

    name: str
    synthesis_share: float

    def voice_for(self, settings: VoiceSettings) -> str | None:
        """The engine's voice for ``settings`` (loading it if need be), or None if it has
        none for that language."""
        ...

    def synthesize(self, text: str, voice: str, settings: VoiceSettings) -> Pcm:
        """Speak ``text`` (a few sentences) with a voice from :meth:`voice_for`."""
        ...

    def speaks(self, settings: VoiceSettings) -> bool:
        """Whether the engine has a voice for ``settings`` (without loading it)."""
        ...

    def heard_rate(self, settings: VoiceSettings) -> float:
        """The words a minute a listener hears with ``settings``, the silences the engine
        leaves between sentences included: what a script is timed by."""
        ...


class EspeakEngine:
    """espeak-ng through ctypes: a voice for almost every language, always available.

    An unknown voice falls back to ``en`` with a warning; the rate is clamped to 80-450
    words per minute and the pitch to 0-100. espeak-ng is fast (0.1 s for a minute of
    speech): encoding takes about 95% of a recording's time.
    """

    name = "espeak-ng"
    synthesis_share = 0.1
    #: espeak-ng speaks about this much faster than the rate it is given (1.10 to 1.13,
    #: measured on meditation scripts, pauses left out)
    RATE_FACTOR = 1.1

    def speaks(self, settings: VoiceSettings) -> bool:
        """Always: an unknown language falls back to English."""
        return True

    def heard_rate(self, settings: VoiceSettings) -> float:
        return min(max(settings.words_per_minute, 80), 450) * self.RATE_FACTOR

    def voice_for(self, settings: VoiceSettings) -> str:
        """The espeak-ng voice for ``settings.voice``, or ``en`` (logged) when it has none."""
        engine = espeak()
        name = engine.resolve(settings.voice)
        if name is None:
            log.warning(
                "espeak-ng has no voice %r; speaking with %r", settings.voice, DEFAULT_ESPEAK_VOICE
            )
            name = engine.resolve(DEFAULT_ESPEAK_VOICE) or DEFAULT_ESPEAK_VOICE
        return name

    def synthesize(self, text: str, voice: str, settings: VoiceSettings) -> Pcm:
        """Speak ``text`` at the settings' rate and pitch."""
        engine = espeak()
        samples = engine.synthesize(
            text, voice=voice, rate=settings.words_per_minute, pitch=settings.pitch
        )
        return Pcm(samples, engine.sample_rate)
