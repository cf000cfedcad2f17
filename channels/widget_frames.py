"""The widget's frames, as ``webwidget/PROTOCOL.md`` says: checked on the way in,
translated both ways.

A visitor's text frame is parsed and checked here (type, id, lengths, a voice note's
audio) before anything is stored, and refused with a :class:`FrameError` that becomes an
``error`` frame. A stored frame becomes the engine's :class:`InboundMessage` and the
``said`` echo; the engine's replies become ``reply`` frames with links to their media.
The limits are the ones ``welcome`` announces, and the token bucket paces each socket.
An ``error`` frame's ``code`` is for the widget to act on and stays as it is; its
``message`` is for the visitor, in the ``tr`` a check is given (the session's language).
Nothing here knows about sockets: :mod:`channels.widget` does the talking.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.i18n.translator import ENGLISH, Translator
from core.messages import (
    MAX_TEXT,
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    Media,
    OutboundMessage,
    file_reference,
    parse_command,
    too_long,
)

MAX_FRAME = 1024 * 1024
MAX_ID = 64
MAX_PAYLOAD = 200
RATE = 2.0  # frames per second, refilled
BURST = 20


class FrameError(Exception):
    """A frame the server refuses, answered with an ``error`` frame: ``code`` says why to
    the widget, ``message`` to the visitor (already in their language)."""

    def __init__(self, code: str, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


class TokenBucket:
    """A token bucket: ``burst`` at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 if a frame may pass now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def parse_frame(data: str, tr: Translator = ENGLISH) -> dict[str, Any]:
    """A text frame as a JSON object with a ``type``, or :class:`FrameError` (its
    message in ``tr``'s language)."""
    try:
        frame = json.loads(data)
    except ValueError:
        frame = None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", tr.gettext("A frame is a JSON object with a type."))
    return frame


def message_id(frame: dict[str, Any], tr: Translator = ENGLISH) -> str:
    """The client-chosen id a ``message``, ``button`` or ``voice`` frame must carry."""
    frame_id = frame.get("id")
    if not isinstance(frame_id, str) or not 0 < len(frame_id) <= MAX_ID:
        message = tr.gettext(
            "Every message needs an id of 1 to %(limit)s characters.", limit=MAX_ID
        )
        raise FrameError("bad_frame", message)
    return frame_id


async def checked_frame(
    frame_id: str,
    frame: dict[str, Any],
    *,
    visitor: str,
    voice_dir: Path,
    max_voice: int,
    tr: Translator = ENGLISH,
) -> dict[str, Any]:
    """The frame as stored: fields checked, a voice note's audio saved to a file (in
    ``voice_dir``, named after the visitor and the frame, so a resend overwrites it).
    A refusal's message is in ``tr``'s language."""
    kind = frame["type"]
    if kind == "message":
        text = frame.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("bad_frame", tr.gettext("A message needs some text."), frame_id)
        if len(text) > MAX_TEXT:
            raise FrameError("too_long", too_long(len(text), tr), frame_id)
        return {"type": kind, "id": frame_id, "text": text}
    if kind == "button":
        payload, label = frame.get("payload"), frame.get("label", "")
        if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD:
            raise FrameError("bad_frame", tr.gettext("A button press needs its payload."), frame_id)
        label = label[:MAX_PAYLOAD] if isinstance(label, str) else ""
        return {"type": kind, "id": frame_id, "payload": payload, "label": label}
    mime, data = frame.get("mime"), frame.get("data")
    if not isinstance(mime, str) or not mime.startswith("audio/") or not isinstance(data, str):
        message = tr.gettext("A voice note needs an audio mime type and data.")
        raise FrameError("bad_frame", message, frame_id)
    try:
        audio = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        message = tr.gettext("The voice note's data is not base64.")
        raise FrameError("bad_frame", message, frame_id) from None
    if not audio or len(audio) > max_voice:
        limit = f"{max_voice / 2**20:.0f}"
        message = tr.gettext("Voice notes can be up to %(limit)s MB.", limit=limit)
        raise FrameError("too_long", message, frame_id)
    path = voice_dir / f"{visitor}-{_safe(frame_id)}.audio"
    await asyncio.to_thread(_write, path, audio)
    return {
        "type": kind,
        "id": frame_id,
        "mime": mime[:100],
        "file": str(path),
        "size": len(audio),
    }


def to_inbound(
    bot_id: str,
    visitor: str,
    frame: dict[str, Any],
    timezone: str | None = None,
    language: str | None = None,
) -> InboundMessage:
    """A stored visitor frame as the engine's normalised message; ``timezone`` and
    ``language`` are the zone and language the visitor's browser reported in its
    ``hello``."""
    common: dict[str, Any] = {
        "channel": Channel.WIDGET,
        "bot_id": bot_id,
        "sender_id": visitor,
        "platform_message_id": frame["id"],
        "timezone": timezone,
        "language": language,
    }
    if frame["type"] == "start":  # the widget opened: the conversation begins as /start does
        return InboundMessage(text="/start", command="start", **common)
    if frame["type"] == "button":
        return InboundMessage(button_payload=frame["payload"], **common)
    if frame["type"] == "voice":
        note = Attachment(
            kind=AttachmentKind.VOICE,
            mime_type=frame["mime"],
            size=frame["size"],
            reference=file_reference(Path(frame["file"])),
        )
        return InboundMessage(attachments=(note,), **common)
    command, args = parse_command(frame["text"])
    return InboundMessage(text=frame["text"], command=command, command_args=args, **common)


def said_frame(frame: dict[str, Any], tr: Translator = ENGLISH) -> dict[str, Any]:
    """The ``said`` frame that shows a stored visitor frame in every open widget (a voice
    note named in ``tr``'s language)."""
    voice = tr.gettext("🎙 Voice note")
    text = {"message": frame.get("text"), "button": frame.get("label"), "voice": voice}
    return {"type": "said", "id": frame["id"], "text": text[frame["type"]] or frame.get("payload")}


def reply_frame(
    message: OutboundMessage, reply_to: str | None, link: Callable[[str], str]
) -> dict[str, Any]:
    """A ``reply`` frame for one of the engine's replies; ``link`` turns a media
    reference into the URL the browser fetches it from."""
    body = message.to_dict()
    body.pop("grounded", None)  # kept for the creator's statistics, not for visitors
    for field in ("audio", "document", "image"):
        media: Media | None = getattr(message, field)
        if media is not None:
            body[field] = {
                "url": link(media.reference),
                "mime": media.mime_type,
                "filename": media.filename,
                "duration_seconds": media.duration_seconds,
            }
    frame: dict[str, Any] = {"type": "reply", "message": body}
    if reply_to is not None:
        frame["reply_to"] = reply_to
    return frame


def error_frame(error: FrameError) -> dict[str, Any]:
    """The ``error`` frame that answers a refused frame."""
    frame = {"type": "error", "code": error.code, "message": error.message}
    if error.frame_id is not None:
        frame["id"] = error.frame_id
    return frame


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(data)
    temporary.replace(path)
