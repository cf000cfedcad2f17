"""How Chorus names Telegram's chats, senders and files.

Plain functions on ids and raw update payloads, apart from :mod:`channels.telegram`, so
that routing an update or naming a file does not load aiogram (seconds of importing its
Bot API models).
"""

from __future__ import annotations

from typing import Any

SCHEME = "tg"


def file_reference(bot_id: str, file_id: str) -> str:
    """How a Telegram file is named on an attachment: ``tg://BOT/FILE_ID``."""
    return f"{SCHEME}://{bot_id}/{file_id}"


def chat_of(payload: dict[str, Any]) -> str:
    """The chat an update belongs to (updates of one chat are handled in order)."""
    for key in ("message", "edited_message", "callback_query", "my_chat_member"):
        part = payload.get(key)
        if isinstance(part, dict):
            message = part.get("message", part) if key == "callback_query" else part
            chat = message.get("chat") if isinstance(message, dict) else None
            if isinstance(chat, dict) and "id" in chat:
                return str(chat["id"])
            sender = part.get("from")
            if isinstance(sender, dict) and "id" in sender:
                return str(sender["id"])
    return "-"


def language_of(payload: dict[str, Any]) -> str | None:
    """The language the sender's Telegram app is in (``from.language_code``), if said."""
    for key in ("message", "edited_message", "callback_query"):
        part = payload.get(key)
        sender = part.get("from") if isinstance(part, dict) else None
        if isinstance(sender, dict) and isinstance(sender.get("language_code"), str):
            return str(sender["language_code"])
    return None


def sender_of(chat_id: int, user_id: int | None, private: bool) -> str:
    """The engine's sender id: the chat in a private chat; in a group, each member has
    their own conversation with the bot (``CHAT/USER``)."""
    return str(chat_id) if private or user_id is None else f"{chat_id}/{user_id}"


def chat_id_of(sender_id: str) -> int:
    """The Telegram chat to send to for an engine sender id."""
    return int(sender_id.split("/", 1)[0])
