"""WhatsApp through Twilio: webhook form fields -> ``InboundMessage``, replies -> messages.

Twilio posts each WhatsApp message as a form (``Body``, ``From: whatsapp:+…``, ``WaId``,
``NumMedia`` with ``MediaUrl{N}``/``MediaContentType{N}``, ``ButtonPayload``,
``Latitude``/``Longitude``, ...). Replies go out through the Messages API as text of at
most 1,600 characters, split on sentence boundaries and sent in order; buttons become
numbered options that a reply with the number or the label picks; audio, documents and
images are media messages whose URL is a signed ``/media/…`` link. As WhatsApp users
expect, a bare STOP or UNSUBSCRIBE is ``/stop`` and SUBSCRIBE is ``/subscribe`` (START
keeps its meaning: begin again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from channels.base import split_text, where, wording
from core.i18n.translator import ENGLISH, Translator
from core.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    Media,
    OutboundKind,
    OutboundMessage,
    Source,
    parse_command,
)

MAX_BODY = 1600
MAX_MEDIA = 10
PREFIX = "whatsapp:"
MEDIA_SCHEME = "twilio-media"
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
#: words that are commands on their own, whatever their case
KEYWORDS = {"stop": "stop", "unsubscribe": "stop", "subscribe": "subscribe"}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One WhatsApp message to send: text, and a media URL (absolute) or none."""

    body: str
    media_url: str | None = None


def sender_of(form: Mapping[str, str]) -> str:
    """The end user's number, ``+14155550123``, from ``From`` (or ``WaId``)."""
    number = form.get("From", "").removeprefix(PREFIX)
    if not number and form.get("WaId"):
        number = "+" + form["WaId"]
    return number


def to_inbound(
    bot_id: str, form: Mapping[str, str], options: Sequence[Mapping[str, str]] = ()
) -> InboundMessage:
    """The message in a webhook's form. ``options`` are the numbered choices offered last:
    a reply that is one of their numbers or labels presses that button."""
    body = form.get("Body", "").strip()
    payload = form.get("ButtonPayload") or _chosen(body, options)
    command, args = parse_command(body) if payload is None else (None, "")
    if payload is None and command is None:
        command = KEYWORDS.get(body.casefold().strip(" .!"))
    return InboundMessage(
        channel=Channel.WHATSAPP,
        bot_id=bot_id,
        sender_id=sender_of(form),
        sender_name=form.get("ProfileName") or None,
        text="" if payload is not None else body,
        command=command,
        command_args=args,
        button_payload=payload,
        attachments=_attachments(form),
        platform_message_id=form.get("MessageSid") or None,
    )


def _chosen(body: str, options: Sequence[Mapping[str, str]]) -> str | None:
    if not body or not options:
        return None
    if body.isdigit() and 1 <= int(body) <= len(options):
        return options[int(body) - 1]["payload"]
    wanted = body.casefold().strip(" .!")
    return next((o["payload"] for o in options if o["label"].casefold() == wanted), None)


def _attachments(form: Mapping[str, str]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    count = int(form.get("NumMedia", "0") or 0) if form.get("NumMedia", "0").isdigit() else 0
    for n in range(min(count, MAX_MEDIA)):
        url, mime = form.get(f"MediaUrl{n}"), form.get(f"MediaContentType{n}", "")
        if not url:
            continue
        kind = (
            AttachmentKind.VOICE
            if mime.startswith("audio/")
            else AttachmentKind.IMAGE
            if mime.startswith("image/")
            else AttachmentKind.DOCUMENT
        )
        found.append(
            Attachment(kind=kind, mime_type=mime, size=0, reference=f"{MEDIA_SCHEME}:{url}")
        )
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    if latitude and longitude:
        place = form.get("Label") or form.get("Address")
        found.append(
            Attachment(
                kind=AttachmentKind.LOCATION,
                mime_type="application/geo+json",
                size=0,
                reference=f"geo:{latitude},{longitude}",
                filename=place,
            )
        )
    return tuple(found)


def render(
    replies: Sequence[OutboundMessage], media_url: Callable[[Media], str]
) -> tuple[list[Outgoing], list[dict[str, str]]]:
    """The WhatsApp messages for ``replies``, in order, and the numbered options the last
    message with buttons offers (empty when none did)."""
    out: list[Outgoing] = []
    options: list[dict[str, str]] = []
    for reply in replies:
        if reply.kind is OutboundKind.PROGRESS:
            continue  # WhatsApp cannot edit a message: progress would be a flood
        media = {
            OutboundKind.AUDIO: reply.audio,
            OutboundKind.DOCUMENT: reply.document,
            OutboundKind.IMAGE: reply.image,
        }.get(reply.kind)
        if media is not None:
            caption = formatted(reply.text) if reply.text else ""
            out.append(Outgoing(caption[:MAX_BODY], media_url(media)))
            continue
        text = formatted(reply.text)
        tr = wording(reply)
        if reply.sources:
            text += "\n\n" + sources_text(reply.sources, tr)
        links = [b for b in reply.buttons if b.url]
        if links:
            text += "\n\n" + "\n".join(f"{b.label}: {b.url}" for b in links)
        if choices := [b for b in reply.buttons if not b.url]:
            options = [{"label": b.label, "payload": b.payload} for b in choices]
            numbered = "\n".join(f"{n}. {b.label}" for n, b in enumerate(choices, 1))
            reply_with = tr.gettext("Reply with a number.")
            text += f"\n\n{numbered}\n_{reply_with}_"
        out.extend(Outgoing(piece) for piece in split_text(text.strip(), MAX_BODY) if piece)
    return out, options


def formatted(text: str) -> str:
    """Markdown emphasis as WhatsApp writes it: ``**bold**`` -> ``*bold*``, ``*it*`` ->
    ``_it_``."""
    text = _ITALIC.sub(r"_\1_", text)
    return _BOLD.sub(r"*\1*", text)


def sources_text(sources: Sequence[Source], tr: Translator = ENGLISH) -> str:
    """``Sources`` and one short line per source: ``[1] Title, p. 3`` (its words in
    ``tr``'s language)."""
    heading = tr.gettext("Sources")
    lines = [f"*{heading}*"]
    for source in sources:
        place = where(source, tr)
        line = f"[{source.number}] {source.title}" + (f", {place}" if place else "")
        if source.url and source.url.startswith(("https://", "http://")):
            line += f" {source.url}"
        lines.append(line)
    return "\n".join(lines)


def form_dict(form: Mapping[str, Any]) -> dict[str, str]:
    """A webhook's form as plain strings (the first value of repeated fields)."""
    return {str(k): str(v) for k, v in form.items()}
