"""Voice in and out for the engine: transcribe voice notes, record replies and content.

It joins the speech seams (:mod:`core.voice.seams`) to what the engine has: attachments to read
through the channel's media reader, the user's voice preferences, and the media store
where recordings are kept and linked from messages. Every recording is kept as OGG/Opus
(Telegram voice notes, WhatsApp) and MP3 (browsers) under one name.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bots.profile import slugify
from core.errors import AudioTooLarge
from core.messages import Attachment, Audio, AudioFormat, Media
from core.storage.media import MediaStore
from core.voice.ambience import AmbienceChoice
from core.voice.seams import (
    AudioGenerator,
    Bed,
    SpeechProgress,
    Transcriber,
    Transcript,
    VoiceSettings,
)

log = logging.getLogger("chorus.speech")

FORMATS = (AudioFormat.OGG_OPUS, AudioFormat.MP3)

#: words per minute for the user's "speed" preference and for a content's pace
SPEEDS = {"slow": 130, "normal": 155, "fast": 185}
PACE_SPEEDS = {"slow": 125, "moderate": 145, "lively": 170}
PITCHES = {"low": 35, "normal": 50, "high": 65}

AttachmentReader = Callable[[Attachment], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording kept in the media store: the message media (OGG/Opus) and what the
    library stores about it."""

    media: Media
    record: dict[str, Any]


def voice_settings(
    preferences: Mapping[str, Any],
    language: str | None,
    pace: str | None = None,
    *,
    calm: bool = False,
) -> VoiceSettings:
    """The voice for a user: their chosen voice or their language, their speed (or the
    content's pace), their pitch; ``calm`` for content to relax to (not chat replies)."""
    voice = str(preferences.get("voice") or (language or "en").lower())
    speed = SPEEDS.get(str(preferences.get("speed")))
    if speed is None:
        speed = PACE_SPEEDS.get(str(pace), SPEEDS["normal"])
    pitch = PITCHES.get(str(preferences.get("pitch")), PITCHES["normal"])
    return VoiceSettings(voice=voice, words_per_minute=speed, pitch=pitch, calm=calm)


class VoiceIO:
    """Listens to voice notes and records spoken replies and content."""

    def __init__(
        self,
        speaker: AudioGenerator,
        transcriber: Transcriber,
        media: MediaStore,
        read: AttachmentReader,
        *,
        max_voice_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.speaker = speaker
        self.transcriber = transcriber
        self.media = media
        self._read = read
        self._max_voice_bytes = max_voice_bytes

    async def close(self) -> None:
        """Stop the speech and transcription threads."""
        for part in (self.speaker, self.transcriber):
            close = getattr(part, "close", None)
            if close is not None:
                await close()

    async def listen(self, attachment: Attachment, *, language: str | None = None) -> Transcript:
        """What a voice or audio attachment says, heard as ``language`` (the sender's, if
        known); ``AudioRejected`` (with a reason for the user) when it is too big, too
        long or not audio, ``OSError`` if unreadable."""
        if attachment.size is not None and attachment.size > self._max_voice_bytes:
            raise AudioTooLarge(attachment.size, self._max_voice_bytes)
        data = await self._read(attachment)
        return await self.transcriber.transcribe(
            data, mime_type=attachment.mime_type, language=language
        )

    async def record(
        self,
        script: str,
        voice: VoiceSettings,
        *,
        title: str,
        target_seconds: float | None = None,
        progress: SpeechProgress | None = None,
        ambience: AmbienceChoice | None = None,
    ) -> Recording:
        """Speak ``script`` in every format (over the bot's ``ambience``, if it has one),
        keep the files, return the OGG/Opus media."""
        audio = await self.speaker.speak(
            script,
            voice,
            FORMATS,
            target_seconds=target_seconds,
            progress=progress,
            bed=await self._bed(ambience) if ambience else None,
        )
        return await self._keep(audio, title)

    async def _bed(self, ambience: AmbienceChoice) -> Bed | None:
        """The bed for a choice; a music file gone from the store means no bed."""
        if ambience.kind != "music":
            return Bed(ambience.kind, ambience.level)
        path = self.media.path(ambience.music or "")
        if path is None:
            log.warning("the ambience music %s is gone; recording without it", ambience.music)
            return None
        return Bed(ambience.kind, ambience.level, await asyncio.to_thread(path.read_bytes))

    async def _keep(self, audio: Mapping[AudioFormat, Audio], title: str) -> Recording:
        stem = secrets.token_hex(16)
        references = {f.extension: await self.media.save(a, stem=stem) for f, a in audio.items()}
        main = audio[AudioFormat.OGG_OPUS]
        record = {**references, "duration": round(main.duration, 2), "size": len(main.data)}
        if main.voice:
            record["voice"] = main.voice
        media = library_media(record, title)
        assert media is not None  # the record names its OGG/Opus file
        return Recording(media, record)


def library_media(record: Mapping[str, Any], title: str) -> Media | None:
    """The message media for a library item's stored recording, if it has one."""
    reference = record.get(AudioFormat.OGG_OPUS.extension)
    if not isinstance(reference, str):
        return None
    return Media(
        reference=reference,
        mime_type=AudioFormat.OGG_OPUS.mime_type,
        filename=slugify(title, limit=60, default="recording") + ".ogg",
        duration_seconds=record.get("duration"),
        size=record.get("size"),
    )
