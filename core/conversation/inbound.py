"""How the engine reads an inbound message before deciding anything.

The text is cleaned the same way on every channel (NFC, no control or bidi characters),
a message the bot cannot handle as it is gets its reason in words for the user, a bare
greeting is recognised so it can restart the conversation, and any attached document is
picked out (the user's language is :mod:`core.conversation.languages`'). Everything here
is pure: no storage, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import MAX_TEXT, Attachment, AttachmentKind, InboundMessage, too_long

MAX_PAYLOAD = 200
_KINDS = {
    AttachmentKind.VOICE: N_("voice"),
    AttachmentKind.AUDIO: N_("audio"),
    AttachmentKind.DOCUMENT: N_("document"),
    AttachmentKind.IMAGE: N_("image"),
    AttachmentKind.LOCATION: N_("location"),
}
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_GREETINGS = frozenset(
    {
        "hi",
        "hello",
        "hey",
        "hola",
        "hallo",
        "good morning",
        "good evening",
        "hi there",
        "hello there",
        "start",
    }
)


def clean_text(text: str) -> str:
    """Text as the engine reads it: NFC, valid Unicode, no control or bidi characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", text).strip()


def is_greeting(text: str) -> bool:
    """Whether the text is a bare "hello", whatever its case and punctuation."""
    return _normal(text) in _GREETINGS


def first_document(message: InboundMessage, *, images: bool = False) -> Attachment | None:
    """The first document attached to the message, if any; with ``images``, a photo
    counts as one (a creator's picture of a page, to be read with OCR)."""
    kinds = (
        (AttachmentKind.DOCUMENT, AttachmentKind.IMAGE) if images else (AttachmentKind.DOCUMENT,)
    )
    return next((a for a in message.attachments if a.kind in kinds), None)


def problem_with(message: InboundMessage, text: str, tr: Translator = ENGLISH) -> str | None:
    """Why a message cannot be handled as it is, in words for the user, or None."""
    if message.button_payload is not None:
        payload = message.button_payload
        if not payload or len(payload) > MAX_PAYLOAD or not payload.isprintable():
            return tr.gettext("That button isn't one I know. Try again from the latest message.")
        return None
    if len(text) > MAX_TEXT:
        return too_long(len(text), tr)
    if message.command:
        return None
    if not text:
        if message.attachments:
            kinds = ", ".join(sorted({tr.gettext(_KINDS[a.kind]) for a in message.attachments}))
            return tr.gettext(
                "I can't open %(kinds)s messages on this bot yet. Could you type it instead?",
                kinds=kinds,
            )
        return tr.gettext(
            "I didn't catch anything there. Send me a message, or /help to see what I can do."
        )
    return None


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
