"""The one message model every channel translates to and from.

Channel adapters turn platform payloads into a frozen :class:`InboundMessage`, hand it to
the engine, and render the :class:`OutboundMessage` list it returns. Nothing else crosses
the boundary between a channel and the engine, so a conversation behaves the same on
Telegram, WhatsApp, the widget and the terminal.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.i18n.translator import ENGLISH, Translator

#: the longest text an end user may send, the same on every channel (under Telegram's
#: own 4,096): a longer message is refused with :func:`too_long`, never cut short
MAX_TEXT = 4000


def too_long(length: int, tr: Translator = ENGLISH) -> str:
    """What a user is told, on every channel, when their message of ``length``
    characters is over :data:`MAX_TEXT` (in ``tr``'s language)."""
    return tr.gettext(
        "That message is too long (%(length)s characters): please keep it to "
        "%(limit)s characters or fewer, or send it in parts.",
        length=tr.number(length),
        limit=tr.number(MAX_TEXT),
    )


class Channel(enum.StrEnum):
    """Where a message came from or goes to."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WIDGET = "widget"
    TERMINAL = "terminal"
    API = "api"


class AttachmentKind(enum.StrEnum):
    """What an inbound attachment is, as far as the engine cares."""

    VOICE = "voice"
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"
    LOCATION = "location"


class OutboundKind(enum.StrEnum):
    """How a channel should present an outbound message."""

    TEXT = "text"
    PROGRESS = "progress"  # shown as a typing indicator or an edited status line
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"  # a picture (a chart), captioned with the text


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or media item that arrived with a message; ``reference`` locates its bytes."""

    kind: AttachmentKind
    mime_type: str
    size: int
    reference: str
    filename: str | None = None


def file_reference(path: Path) -> str:
    """The ``file:`` reference of a local file, made absolute first: a URI can only name
    an absolute path, and a relative one would mean another file in another directory."""
    return path.expanduser().resolve().as_uri()


def referenced_file(reference: str) -> Path:
    """The local file a ``file:`` reference names (see :func:`file_reference`)."""
    return Path(unquote(urlsplit(reference).path))


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message from an end user or creator, normalised by a channel adapter.

    ``platform_message_id`` is the platform's own id for this delivery (Telegram's
    ``update_id``, Twilio's ``MessageSid``, the widget's client id); the engine uses it to
    answer a redelivered message with the replies it already gave.
    """

    channel: Channel
    bot_id: str
    sender_id: str
    text: str = ""
    sender_name: str | None = None
    command: str | None = None
    command_args: str = ""
    button_payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    platform_message_id: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    language: str | None = None
    # the IANA zone the user's device reports (the website widget's browser), if any
    timezone: str | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")


def parse_command(text: str) -> tuple[str | None, str]:
    """Split ``/name@botname args`` into ``("name", "args")``; plain text gives ``(None, "")``.

    Channels call this so that every channel recognises commands the same way.
    """
    match = _COMMAND.match(text.strip())
    if match is None:
        return None, ""
    return match.group(1).lower(), (match.group(2) or "").strip()


# Telegram's rule for command names: ASCII letters, digits and underscores, at most 32
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the user; pressing it sends ``payload`` back as an inbound
    message. A button with a ``url`` is a link instead (a checkout page) and sends nothing."""

    label: str
    payload: str = ""
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """Where part of an answer comes from, cited as ``[number]`` in the text."""

    number: int
    title: str
    document_id: str | None = None
    page: int | None = None
    section: str | None = None
    url: str | None = None
    excerpt: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """A file the engine produced (audio, a document, an image); ``reference`` locates
    its bytes."""

    reference: str
    mime_type: str
    filename: str | None = None
    duration_seconds: float | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply for a channel to render in its own form.

    ``grounded`` is set on the answer to an end user's question: True when it came from
    the bot's material (with sources), False when the material had nothing on it. It is
    kept with the stored reply for the creator's statistics; channels do not show it.
    ``language`` is the one its words are in (None: English), for the words a channel puts
    around them ("Sources", "Reply with a number").
    """

    text: str = ""
    kind: OutboundKind = OutboundKind.TEXT
    buttons: tuple[Button, ...] = ()
    sources: tuple[Source, ...] = ()
    audio: Media | None = None
    document: Media | None = None
    image: Media | None = None
    grounded: bool | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form, used to store replies so a redelivery can return them again."""
        data: dict[str, Any] = {"text": self.text, "kind": self.kind.value}
        if self.buttons:
            data["buttons"] = [
                {"label": b.label, "payload": b.payload, **({"url": b.url} if b.url else {})}
                for b in self.buttons
            ]
        if self.sources:
            data["sources"] = [_compact(s) for s in self.sources]
        if self.audio:
            data["audio"] = _compact(self.audio)
        if self.document:
            data["document"] = _compact(self.document)
        if self.image:
            data["image"] = _compact(self.image)
        if self.grounded is not None:
            data["grounded"] = self.grounded
        if self.language:
            data["language"] = self.language
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundMessage:
        """Rebuild a reply stored with :meth:`to_dict`."""
        return cls(
            text=data.get("text", ""),
            kind=OutboundKind(data.get("kind", OutboundKind.TEXT)),
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
            sources=tuple(Source(**s) for s in data.get("sources", ())),
            audio=Media(**data["audio"]) if data.get("audio") else None,
            document=Media(**data["document"]) if data.get("document") else None,
            image=Media(**data["image"]) if data.get("image") else None,
            grounded=data.get("grounded"),
            language=data.get("language"),
        )


def _compact(obj: Source | Media) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if getattr(obj, f.name) is not None}


class AudioFormat(enum.Enum):
    """Encoded audio a channel can play: OGG/Opus for Telegram voice notes and WhatsApp,
    MP3 for browsers (every browser plays it)."""

    OGG_OPUS = "ogg"
    MP3 = "mp3"

    @property
    def mime_type(self) -> str:
        return {"ogg": "audio/ogg", "mp3": "audio/mpeg"}[self.value]

    @property
    def extension(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Audio:
    """Encoded audio with its measured duration in seconds and the voice that spoke it
    (``engine:voice``, e.g. ``piper:en_US-joe-medium``; empty when unknown)."""

    data: bytes
    format: AudioFormat
    duration: float
    voice: str = ""

    @property
    def mime_type(self) -> str:
        return self.format.mime_type
