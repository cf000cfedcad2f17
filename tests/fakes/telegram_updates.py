"""Telegram Bot API objects as the real server sends them: Updates, Users, Chats, files.

Each builder returns the JSON dict of one ``Update`` (shapes as in the Bot API docs,
https://core.telegram.org/bots/api#update) for a test to push into
:class:`tests.fakes.telegram_api.FakeTelegram` or to POST to a webhook. Update ids,
message ids and file ids increase across the test session, as they do on Telegram.
Entities are found the way Telegram finds them (``/command`` and ``@mention``), with
offsets and lengths counted in UTF-16 code units.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import time
from typing import Any

BOT_ID = 7_000_000_001
BOT_USERNAME = "chorus_test_bot"
BOT_NAME = "Chorus"
USER_ID = 1_001

# Telegram assigns these; increasing ids are part of the contract (offsets, ordering).
_update_ids = itertools.count(612_000_001)
_message_ids = itertools.count(101)
_callback_ids = itertools.count(4_382_118_000_000_000_001)
_file_numbers = itertools.count(1)

# file_id prefixes of the real server: the first bytes encode the file type
_FILE_ID_PREFIX = {
    "voice": "AwACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "photo": "AgACAgIAAxkBAAI",
}
_ENTITY = re.compile(r"(?<!\S)(?P<command>/[A-Za-z0-9_]{1,32}(?:@\w{5,32})?)|(?<![\w@])@\w{5,32}")


def utf16_length(text: str) -> int:
    """The length Telegram uses for entity offsets: UTF-16 code units, not characters."""
    return len(text.encode("utf-16-le")) // 2


def entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` and ``mention`` entities Telegram marks in ``text``."""
    found = []
    for match in _ENTITY.finditer(text):
        found.append(
            {
                "offset": utf16_length(text[: match.start()]),
                "length": utf16_length(match.group()),
                "type": "bot_command" if match.group("command") else "mention",
            }
        )
    return found


def new_file_ids(kind: str) -> tuple[str, str]:
    """A fresh ``(file_id, file_unique_id)`` pair shaped like the real ones."""
    digest = hashlib.sha256(f"{kind}:{next(_file_numbers)}".encode()).digest()
    tail = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    prefix = _FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI")
    unique = ("AQAD" if kind == "photo" else "AgAD") + tail[:12]
    return prefix + tail + tail[:20], unique


def user(
    user_id: int = USER_ID,
    *,
    first_name: str = "Ada",
    username: str | None = "ada_tea",
    language_code: str | None = "en",
) -> dict[str, Any]:
    """A human ``User``."""
    shape: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        shape["username"] = username
    if language_code:
        shape["language_code"] = language_code
    return shape


def bot_user(
    bot_id: int = BOT_ID, *, username: str = BOT_USERNAME, first_name: str = BOT_NAME
) -> dict[str, Any]:
    """The bot's own ``User``, as it appears in ``from`` of the messages it sent."""
    return {"id": bot_id, "is_bot": True, "first_name": first_name, "username": username}


def private_chat(
    user_id: int = USER_ID, *, first_name: str = "Ada", username: str | None = "ada_tea"
) -> dict[str, Any]:
    """The ``Chat`` of a one-to-one conversation: its id is the user's id."""
    shape: dict[str, Any] = {"id": user_id, "first_name": first_name, "type": "private"}
    if username:
        shape["username"] = username
    return shape


def group_chat(
    chat_id: int = -1_001_234_567_890, *, title: str = "Tea lovers", type: str = "supergroup"
) -> dict[str, Any]:
    """A group ``Chat``: supergroup ids start with -100, basic group ids are negative."""
    return {"id": chat_id, "title": title, "type": type}


def text_update(
    text: str = "hello",
    *,
    user_id: int = USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    first_name: str = "Ada",
    username: str | None = "ada_tea",
) -> dict[str, Any]:
    """A text message in the private chat with ``user_id``."""
    sender = user(user_id, first_name=first_name, username=username)
    chat = private_chat(chat_id or user_id, first_name=first_name, username=username)
    return _update("message", _message(sender, chat, message_id, _text(text)))


def command_update(
    command: str = "start", payload: str = "", *, user_id: int = USER_ID
) -> dict[str, Any]:
    """``/command payload``: with ``start`` this is what a ``t.me/bot?start=payload`` deep
    link sends."""
    return text_update(f"/{command} {payload}".rstrip(), user_id=user_id)


def callback_update(
    data: str,
    *,
    user_id: int = USER_ID,
    message_id: int | None = None,
    message_text: str = "Pick one",
    keyboard: list[list[dict[str, Any]]] | None = None,
    bot_id: int = BOT_ID,
    bot_username: str = BOT_USERNAME,
) -> dict[str, Any]:
    """A press on an inline button carrying ``data``, with the bot message it was under."""
    buttons = keyboard or [[{"text": data, "callback_data": data}]]
    message = _message(
        bot_user(bot_id, username=bot_username),
        private_chat(user_id),
        message_id,
        {"text": message_text, "reply_markup": {"inline_keyboard": buttons}},
    )
    query = {
        "id": str(next(_callback_ids)),
        "from": user(user_id),
        "message": message,
        "chat_instance": str(-4_000_000_000_000_000_000 - user_id),
        "data": data,
    }
    return _update("callback_query", query)


def voice_update(
    *,
    user_id: int = USER_ID,
    file_id: str | None = None,
    file_unique_id: str | None = None,
    duration: int = 3,
    file_size: int = 9_120,
) -> dict[str, Any]:
    """A voice note (OGG/Opus, as Telegram clients record them)."""
    voice = {
        "duration": duration,
        "mime_type": "audio/ogg",
        **_file("voice", file_id, file_unique_id, file_size),
    }
    return _update(
        "message", _message(user(user_id), private_chat(user_id), None, {"voice": voice})
    )


def audio_update(
    *,
    user_id: int = USER_ID,
    file_id: str | None = None,
    file_name: str = "question.mp3",
    mime_type: str = "audio/mpeg",
    duration: int = 12,
    file_size: int = 196_608,
    title: str | None = None,
    performer: str | None = None,
) -> dict[str, Any]:
    """A music/audio file (not a voice note): it has a file name and optional tags."""
    audio: dict[str, Any] = {"duration": duration, "file_name": file_name, "mime_type": mime_type}
    if title:
        audio["title"] = title
    if performer:
        audio["performer"] = performer
    audio.update(_file("audio", file_id, None, file_size))
    return _update(
        "message", _message(user(user_id), private_chat(user_id), None, {"audio": audio})
    )


def document_update(
    *,
    user_id: int = USER_ID,
    file_id: str | None = None,
    file_name: str = "notes.pdf",
    mime_type: str = "application/pdf",
    file_size: int = 48_213,
    caption: str | None = None,
) -> dict[str, Any]:
    """A file sent as a document."""
    document = {"file_name": file_name, "mime_type": mime_type}
    content: dict[str, Any] = {
        "document": {**document, **_file("document", file_id, None, file_size)}
    }
    if caption:
        content.update(_caption(caption))
    return _update("message", _message(user(user_id), private_chat(user_id), None, content))


def photo_update(
    caption: str | None = "what is this?",
    *,
    user_id: int = USER_ID,
    file_id: str | None = None,
    width: int = 1280,
    height: int = 960,
    file_size: int = 120_412,
) -> dict[str, Any]:
    """A photo: Telegram sends every size it made, smallest first; ``file_id`` names the
    largest."""
    sizes = []
    for scale, size in ((16, file_size // 40), (4, file_size // 6), (1, file_size)):
        sizes.append(
            {
                **_file("photo", file_id if scale == 1 else None, None, size),
                "width": width // scale,
                "height": height // scale,
            }
        )
    content: dict[str, Any] = {"photo": sizes}
    if caption:
        content.update(_caption(caption))
    return _update("message", _message(user(user_id), private_chat(user_id), None, content))


def edited_update(
    text: str, *, message_id: int, user_id: int = USER_ID, sent_at: int | None = None
) -> dict[str, Any]:
    """The user edited their earlier message ``message_id`` to read ``text``."""
    now = int(time.time())
    message = _message(user(user_id), private_chat(user_id), message_id, _text(text))
    message["date"] = sent_at or now - 30
    message["edit_date"] = now
    return _update("edited_message", message)


def group_update(
    text: str | None = None,
    *,
    user_id: int = USER_ID,
    chat_id: int = -1_001_234_567_890,
    chat_type: str = "supergroup",
    title: str = "Tea lovers",
    bot_id: int = BOT_ID,
    bot_username: str = BOT_USERNAME,
    reply_to_bot: str | None = None,
) -> dict[str, Any]:
    """A message in a group; by default it mentions the bot (``@bot_username ...``).
    ``reply_to_bot`` makes it a reply to an earlier bot message with that text."""
    if text is None:
        text = f"@{bot_username} how long should green tea steep?"
    chat = group_chat(chat_id, title=title, type=chat_type)
    content = _text(text)
    if reply_to_bot is not None:
        bot = bot_user(bot_id, username=bot_username)
        content["reply_to_message"] = _message(bot, chat, None, _text(reply_to_bot))
    return _update("message", _message(user(user_id), chat, None, content))


def bot_blocked_update(
    *,
    user_id: int = USER_ID,
    bot_id: int = BOT_ID,
    bot_username: str = BOT_USERNAME,
    unblocked: bool = False,
) -> dict[str, Any]:
    """``my_chat_member``: the user blocked the bot (its status became ``kicked``), or
    with ``unblocked`` restarted it after blocking (``kicked`` became ``member``)."""
    bot = bot_user(bot_id, username=bot_username)
    statuses = ("kicked", "member") if unblocked else ("member", "kicked")
    change = {
        "chat": private_chat(user_id),
        "from": user(user_id),
        "date": int(time.time()),
        "old_chat_member": {"user": bot, "status": statuses[0]},
        "new_chat_member": {"user": bot, "status": statuses[1]},
    }
    if statuses[1] == "kicked":
        change["new_chat_member"]["until_date"] = 0
    if statuses[0] == "kicked":
        change["old_chat_member"]["until_date"] = 0
    return _update("my_chat_member", change)


def _update(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": next(_update_ids), kind: payload}


def _message(
    sender: dict[str, Any],
    chat: dict[str, Any],
    message_id: int | None,
    content: dict[str, Any],
) -> dict[str, Any]:
    return {
        "message_id": message_id or next(_message_ids),
        "from": sender,
        "chat": chat,
        "date": int(time.time()),
        **content,
    }


def _text(text: str) -> dict[str, Any]:
    found = entities(text)
    return {"text": text, "entities": found} if found else {"text": text}


def _caption(caption: str) -> dict[str, Any]:
    found = entities(caption)
    return {"caption": caption, "caption_entities": found} if found else {"caption": caption}


def _file(
    kind: str, file_id: str | None, file_unique_id: str | None, file_size: int
) -> dict[str, Any]:
    new_id, new_unique = new_file_ids(kind)
    return {
        "file_id": file_id or new_id,
        "file_unique_id": file_unique_id or new_unique,
        "file_size": file_size,
    }
