"""The Telegram channel: Bot API updates in, Bot API calls out, through aiogram 3.

The adapter translates and nothing more: an ``Update`` becomes an ``InboundMessage``
(text, commands with ``/start`` payloads, inline-keyboard presses, voice notes, audio,
documents, photos with captions, edited messages), and each ``OutboundMessage`` becomes
the Bot API calls that show it best: HTML text split under Telegram's 4,096 characters,
inline keyboards, a compact sources list, voice notes (OGG/Opus) or audio files for long
recordings, documents, photos (charts), and progress shown by editing one message.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from aiogram import Bot
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageText,
    GetFile,
    SendAudio,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVoice,
)
from aiogram.methods.base import Response
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from channels import base
from channels.telegram_ids import file_reference, sender_of
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

log = logging.getLogger("chorus.telegram")

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64  # bytes, the Bot API's limit
#: recordings longer than this go out as audio files (seekable, titled), not voice notes
LONG_AUDIO_SECONDS = 600
#: The models of the Bot API answers this channel reads, held for the life of the process.
#: aiogram parametrises ``Response[...]`` on every call and pydantic caches parametrised
#: models only weakly, so the garbage collector kept dropping them and sends rebuilt them
#: (about 3 ms each; 6 % of a busy server's CPU in bench/telegram.py).
RESPONSE_MODELS = tuple(
    {
        method.__returning__: Response[method.__returning__]  # type: ignore[name-defined]
        for method in (
            SendMessage,
            EditMessageText,
            SendChatAction,
            SendVoice,
            SendAudio,
            SendDocument,
            SendPhoto,
            AnswerCallbackQuery,
            DeleteMessage,
            GetFile,
        )
    }.values()
)


def to_inbound(bot_id: str, update: Update, username: str | None = None) -> InboundMessage | None:
    """The inbound message for an update, or None for updates a bot does not answer
    (group chatter not addressed to it, service messages, member changes). In groups the
    bot answers when mentioned (``@username``), replied to, or commanded (``/x@username``)."""
    platform_id = f"update:{update.update_id}"
    if (query := update.callback_query) is not None:
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        private = message is None or message.chat.type == "private"
        return InboundMessage(
            channel=Channel.TELEGRAM,
            bot_id=bot_id,
            sender_id=sender_of(chat_id, query.from_user.id, private),
            sender_name=query.from_user.full_name,
            button_payload=query.data or "",
            platform_message_id=platform_id,
            language=query.from_user.language_code,
        )
    message = update.message or update.edited_message
    if not isinstance(message, Message):
        return None
    user = message.from_user
    private = message.chat.type == "private"
    text = message.text or message.caption or ""
    if not private:
        addressed = _addressed_text(message, text, username)
        if addressed is None:
            return None
        text = addressed
    command, args = parse_command(text) if message.text else (None, "")
    return InboundMessage(
        channel=Channel.TELEGRAM,
        bot_id=bot_id,
        sender_id=sender_of(message.chat.id, user.id if user else None, private),
        sender_name=user.full_name if user else None,
        text=text,
        command=command,
        command_args=args,
        attachments=_attachments(bot_id, message),
        platform_message_id=platform_id,
        language=user.language_code if user else None,
    )


def _addressed_text(message: Message, text: str, username: str | None) -> str | None:
    """A group message's text without the bot's mention, or None if it is not for us."""
    if not username:
        return None
    mention = f"@{username}"
    replied = message.reply_to_message
    author = replied.from_user if replied is not None else None
    if author is not None and (author.username or "").lower() == username.lower():
        return text.strip()
    if mention.lower() in text.lower():
        cleaned = re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE)
        return " ".join(cleaned.split())
    return None


def _attachments(bot_id: str, message: Message) -> tuple[Attachment, ...]:
    files = (
        (AttachmentKind.VOICE, message.voice, "audio/ogg"),
        (AttachmentKind.AUDIO, message.audio, "audio/mpeg"),
        (AttachmentKind.DOCUMENT, message.document, "application/octet-stream"),
    )
    found = [
        Attachment(
            kind,
            item.mime_type or default_type,
            item.file_size or 0,
            file_reference(bot_id, item.file_id),
            getattr(item, "file_name", None),
        )
        for kind, item, default_type in files
        if item is not None
    ]
    if message.photo:
        photo = max(message.photo, key=lambda p: p.width * p.height)
        found.append(
            Attachment(
                AttachmentKind.IMAGE,
                "image/jpeg",
                photo.file_size or 0,
                file_reference(bot_id, photo.file_id),
            )
        )
    return tuple(found)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in pieces whose HTML-escaped form fits ``limit``: at paragraph breaks,
    else at sentence ends, else at spaces, else anywhere."""
    return base.split_text(text, limit, lambda piece: len(html.escape(piece, quote=False)))


def sources_html(sources: Sequence[Source], tr: Translator = ENGLISH) -> str:
    """A compact sources list: ``[1] Title, p. 3`` (its words in ``tr``'s language)."""
    heading = tr.gettext("Sources")
    lines = [f"<b>{html.escape(heading, quote=False)}</b>"]
    for source in sources:
        place = base.where(source, tr)
        title = html.escape(source.title, quote=False) + (
            f", {html.escape(place, quote=False)}" if place else ""
        )
        if source.url and source.url.startswith(("https://", "http://")):
            title = f'<a href="{html.escape(source.url)}">{title}</a>'
        lines.append(f"[{source.number}] {title}")
    return "\n".join(lines)


def keyboard(reply: OutboundMessage) -> InlineKeyboardMarkup | None:
    """Inline keyboard for a reply's buttons, two short ones per row."""
    buttons = [
        InlineKeyboardButton(text=b.label, url=b.url)
        if b.url
        else InlineKeyboardButton(text=b.label, callback_data=b.payload)
        for b in reply.buttons
        if b.url or len(b.payload.encode()) <= MAX_CALLBACK_DATA
    ]
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        short = len(button.text) <= 14
        if rows and short and len(rows[-1]) == 1 and len(rows[-1][0].text) <= 14:
            rows[-1].append(button)
        else:
            rows.append([button])
    return InlineKeyboardMarkup(inline_keyboard=rows)


class TelegramRenderer:
    """Sends replies to one chat with one bot; remembers the chat's progress message so
    later progress edits it instead of piling up."""

    def __init__(self, locate: Callable[[str], Path | None], variant: Callable[[str], str]):
        self._locate = locate
        self._mp3 = variant
        self._progress: dict[tuple[int, int], int] = {}  # (bot id, chat) -> message id

    async def send(self, bot: Bot, chat_id: int, replies: Sequence[OutboundMessage]) -> None:
        """Render ``replies`` in order."""
        for reply in replies:
            if reply.kind is OutboundKind.PROGRESS:
                await self._show_progress(bot, chat_id, reply.text)
                continue
            self._progress.pop((bot.id, chat_id), None)
            if reply.kind is OutboundKind.AUDIO and reply.audio is not None:
                await self._send_audio(bot, chat_id, reply.audio, reply.text)
            elif reply.kind is OutboundKind.DOCUMENT and reply.document is not None:
                await self._send_document(bot, chat_id, reply.document, reply.text)
            elif reply.kind is OutboundKind.IMAGE and reply.image is not None:
                await self._send_photo(bot, chat_id, reply.image, reply.text)
            else:
                await self._send_text(bot, chat_id, reply)

    async def _send_text(self, bot: Bot, chat_id: int, reply: OutboundMessage) -> None:
        pieces = [html.escape(p, quote=False) for p in split_text(reply.text)] if reply.text else []
        if reply.sources:
            listing = sources_html(reply.sources, base.wording(reply))
            if pieces and len(pieces[-1]) + 2 + len(listing) <= MAX_TEXT:
                pieces[-1] += "\n\n" + listing
            else:
                pieces.append(listing[:MAX_TEXT])
        if not pieces:
            pieces = ["…"] if reply.buttons else []
        for number, piece in enumerate(pieces, 1):
            markup = keyboard(reply) if number == len(pieces) else None
            await bot.send_message(chat_id, piece, reply_markup=markup)

    async def _show_progress(self, bot: Bot, chat_id: int, text: str) -> None:
        shown = self._progress.get((bot.id, chat_id))
        body = html.escape(text, quote=False)[:MAX_TEXT]
        if shown is not None:
            try:
                await bot.edit_message_text(body, chat_id=chat_id, message_id=shown)
                return
            except Exception as exc:  # gone, or "message is not modified"
                log.debug("editing progress in chat %s failed: %s", chat_id, exc)
                return
        await bot.send_chat_action(chat_id, "typing")
        sent = await bot.send_message(chat_id, body)
        self._progress[(bot.id, chat_id)] = sent.message_id

    async def _send_audio(self, bot: Bot, chat_id: int, audio: Media, title: str) -> None:
        seconds = int(audio.duration_seconds or 0)
        if seconds > LONG_AUDIO_SECONDS and (mp3 := self._locate(self._mp3(audio.reference))):
            await bot.send_chat_action(chat_id, "upload_voice")
            await bot.send_audio(
                chat_id,
                FSInputFile(mp3, filename=(audio.filename or "audio").rsplit(".", 1)[0] + ".mp3"),
                duration=seconds,
                title=title[:64] or None,
                performer=None,
            )
            return
        path = self._locate(audio.reference)
        if path is None:
            log.warning("audio %s is gone; not sent to chat %s", audio.reference, chat_id)
            return
        await bot.send_chat_action(chat_id, "upload_voice")
        await bot.send_voice(chat_id, FSInputFile(path, filename=audio.filename), duration=seconds)

    async def _send_document(self, bot: Bot, chat_id: int, document: Media, caption: str) -> None:
        path = self._locate(document.reference)
        if path is None:
            log.warning("document %s is gone; not sent to chat %s", document.reference, chat_id)
            return
        await bot.send_document(
            chat_id,
            FSInputFile(path, filename=document.filename),
            caption=html.escape(caption, quote=False)[:1024] or None,
        )

    async def _send_photo(self, bot: Bot, chat_id: int, image: Media, caption: str) -> None:
        path = self._locate(image.reference)
        if path is None:
            log.warning("image %s is gone; not sent to chat %s", image.reference, chat_id)
            return
        await bot.send_chat_action(chat_id, "upload_photo")
        await bot.send_photo(
            chat_id,
            FSInputFile(path, filename=image.filename),
            caption=html.escape(caption, quote=False)[:1024] or None,
        )
