"""Voice in a turn: a voice note heard as the user's text, the replies read aloud.

:class:`VoiceTurns` wraps the engine's :class:`~core.voice.voice_io.VoiceIO` with what a turn
needs around it: which attachment is the voice note, a rejected or unreachable note
turned into a reason for the user, whether this user wants spoken replies (``/voice``),
and the replies' text as a script without citation marks, capped in length. Reading
aloud never fails a turn: if it goes wrong the user gets the text only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from core.errors import AudioRejected
from core.i18n.translator import ENGLISH, Translator
from core.messages import Attachment, AttachmentKind, InboundMessage, OutboundKind, OutboundMessage
from core.storage.repository import Party
from core.voice.seams import Transcript
from core.voice.voice_io import VoiceIO, voice_settings

log = logging.getLogger("chorus.engine")  # these are the engine's log lines, moved here

MAX_SPOKEN = 1500
_CITATION = re.compile(r"\s*\[\d+\]")


class VoiceTurns:
    """Hears voice notes and reads replies aloud for the engine."""

    def __init__(self, voice: VoiceIO) -> None:
        self._voice = voice

    async def listen(
        self, note: Attachment, tr: Translator = ENGLISH, language: str | None = None
    ) -> tuple[Transcript | None, str | None]:
        """A voice note's transcript, heard as ``language`` (the user's own, when known:
        not the bot's default), or the reason (for the user) there is none."""
        try:
            return await self._voice.listen(note, language=language), None
        except AudioRejected as exc:
            return None, tr.gettext(exc.template, **exc.params)
        except OSError as exc:
            log.warning("a voice note could not be fetched: %s", exc)
            return None, tr.gettext("I couldn't download that voice note. Could you send it again?")

    async def spoken(
        self, replies: list[OutboundMessage], party: Party | None, language: str | None
    ) -> list[OutboundMessage]:
        """The replies read aloud, for a user who has /voice on (nothing if that fails)."""
        script = speakable(replies)
        if not script:
            return []
        settings = voice_settings(party.voice_preferences if party else {}, language)
        try:
            recording = await self._voice.record(script, settings, title="reply")
        except Exception:
            log.exception("reading a reply aloud failed; sending text only")
            return []
        return [OutboundMessage(kind=OutboundKind.AUDIO, audio=recording.media)]


def voice_note(message: InboundMessage) -> Attachment | None:
    """The message's voice note (or audio file) to transcribe, if any."""
    kinds = (AttachmentKind.VOICE, AttachmentKind.AUDIO)
    return next((a for a in message.attachments if a.kind in kinds), None)


def wants_voice(party: Party | None, user_updates: Mapping[str, Any]) -> bool:
    """Whether this turn's replies are read aloud: /voice as this turn leaves it."""
    if "voice_enabled" in user_updates:
        return bool(user_updates["voice_enabled"])
    return bool(party and party.voice_enabled)


def speakable(replies: list[OutboundMessage]) -> str:
    """The text of a turn's replies as a script to read aloud (no citation marks)."""
    texts = [r.text for r in replies if r.kind is OutboundKind.TEXT and r.text]
    script = _CITATION.sub("", "\n".join(texts)).strip()
    if len(script) > MAX_SPOKEN:
        script = script[:MAX_SPOKEN].rsplit(" ", 1)[0] + "…"
    return script
