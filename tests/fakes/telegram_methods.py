"""The Bot API methods of the fake Telegram server, and the chats, messages and files
they act on.

:class:`BotApiMethods` is a mixin of :class:`tests.fakes.telegram_api.FakeTelegram`, which
declares the state as its dataclass fields and routes each ``/bot{token}/{method}``
request here through :meth:`BotApiMethods._handlers`. A handler takes the bot, the decoded
parameters and the uploaded files, and returns the ``result`` or raises
:class:`~tests.fakes.telegram_wire.ApiError`, checking what the real server checks
(empty or long text, bad commands, unknown messages and files, a webhook blocking
getUpdates, one long poll per bot). Chats named only by id are assumed to exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.telegram_updates import new_file_ids
from tests.fakes.telegram_wire import (
    ApiError,
    FakeBot,
    StoredFile,
    UploadedFile,
    Webhook,
    bad_request,
    checked_text,
    file_suffix,
    inline_markup,
    media_shape,
    photo_size,
    scope_key,
)

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
CHAT_ACTIONS = frozenset(
    """typing upload_photo record_video upload_video record_voice upload_voice upload_document
    choose_sticker find_location record_video_note upload_video_note""".split()
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_FOLDERS = {
    "voice": ("voice", ".oga"),
    "audio": ("music", ".mp3"),
    "document": ("documents", ""),
    "photo": ("photos", ".jpg"),
}

Handler = Callable[[FakeBot, dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


class BotApiMethods:
    """What each Bot API method does to the server's state. The state itself (these
    annotations) is declared and initialised by the dataclass that mixes this in."""

    __slots__ = ()

    files: dict[str, StoredFile]
    _chats: dict[tuple[str, int], dict[str, Any]]
    _messages: dict[tuple[str, int, int], dict[str, Any]]
    _last_message_id: dict[tuple[str, int], int]
    _changed: asyncio.Event
    _closing: bool
    _notify: Callable[[], None]  # wakes every wait on ``_changed``

    # -- methods --------------------------------------------------------------------

    def _handlers(self) -> dict[str, tuple[str, Handler]]:
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "sendVoice": self._sender("voice"),
            "sendAudio": self._sender("audio"),
            "sendDocument": self._sender("document"),
            "sendPhoto": self._sender("photo"),
            "getFile": self._get_file,
        }
        return {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def _get_me(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        capabilities = {"can_join_groups": True, "can_read_all_group_messages": False}
        return {**bot.user(), **capabilities, "supports_inline_queries": False}

    async def _set_webhook(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        drop = params.get("drop_pending_updates") is True
        allowed = params.get("allowed_updates")
        bot.webhook = Webhook(url, secret, allowed, drop, int(params.get("max_connections", 40)))
        if isinstance(allowed, list):
            bot.allowed_updates = allowed
        if drop:
            bot.pending.clear()
        return True

    async def _delete_webhook(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        bot.webhook = Webhook()
        if params.get("drop_pending_updates") is True:
            bot.pending.clear()
        return True

    async def _get_webhook_info(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        hook = bot.webhook
        info: dict[str, Any] = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.pending),
        }
        if hook.url:
            info.update(max_connections=hook.max_connections, ip_address="127.0.0.1")
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
        return info

    async def _get_updates(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        """Long poll: acknowledge below ``offset``, then wait up to ``timeout`` seconds
        for updates; a newer getUpdates for the same bot ends this one with 409."""
        if bot.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        if isinstance(params.get("allowed_updates"), list):
            bot.allowed_updates = params["allowed_updates"]
        if offset > 0:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        elif offset < 0:
            bot.pending = bot.pending[offset:]
        bot.polls += 1
        poll, bot.waiting = bot.polls, bot.waiting + 1
        self._notify()  # wakes an older poll, which must give way
        try:
            deadline = time.monotonic() + float(params.get("timeout", 0))
            return await self._poll(bot, poll, limit, deadline)
        finally:
            bot.waiting -= 1

    async def _poll(self, bot: FakeBot, poll: int, limit: int, deadline: float) -> Any:
        while True:
            if bot.pending or self._closing:
                return bot.pending[: max(1, min(limit, 100))]
            if poll != bot.polls:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def _set_my_commands(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand: object expected")
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not command.get("description"):
                raise bad_request("command description is empty")
        bot.commands[scope_key(params)] = commands
        return True

    async def _get_my_commands(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        return bot.commands.get(scope_key(params), [])

    async def _delete_my_commands(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        bot.commands.pop(scope_key(params), None)
        return True

    async def _send_message(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        chat = self._chat(bot, params)
        text = checked_text(params)
        return self._new_message(bot, chat, params, {"text": text})

    async def _edit_message_text(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        text = checked_text(params)
        if params.get("inline_message_id"):
            return True
        chat, message_id = self._chat(bot, params), params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        key = (bot.token, chat["id"], message_id)
        message = self._messages.get(key)
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != bot.id:
            raise bad_request("message can't be edited")
        markup = inline_markup(params)
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited.update(text=text, edit_date=int(time.time()))
        if markup is not None:
            edited["reply_markup"] = markup
        self._messages[key] = edited
        return edited

    async def _delete_message(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        chat, message_id = self._chat(bot, params), params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        if self._messages.pop((bot.token, chat["id"], message_id), None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _send_chat_action(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        self._chat(bot, params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        if not params.get("callback_query_id"):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        return True

    def _sender(self, kind: str) -> Handler:
        """The handler of ``send<Kind>``: the file goes in the parameter named ``kind``."""

        async def send(bot: FakeBot, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
            chat = self._chat(bot, params)
            stored = self._input_file(kind, params, files)
            caption = params.get("caption")
            if isinstance(caption, str) and len(caption) > 1024:
                raise bad_request("message caption is too long")
            size = photo_size(stored.data) if kind == "photo" and stored.data else None
            content: dict[str, Any] = {kind: media_shape(kind, stored, params, size)}
            if caption:
                content["caption"] = caption
            return self._new_message(bot, chat, params, content)

        return send

    async def _get_file(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    # -- state ----------------------------------------------------------------------

    def _chat(self, bot: FakeBot, params: dict[str, Any]) -> dict[str, Any]:
        """The chat ``chat_id`` names: one seen in an update, or assumed from the id."""
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            for (token, _), chat in self._chats.items():
                if token == bot.token and f"@{chat.get('username')}" == chat_id:
                    return chat
            raise bad_request("chat not found")
        known = self._chats.get((bot.token, chat_id))
        if known is not None:
            return known
        if chat_id > 0:
            return {"id": chat_id, "type": "private"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "title": "Group", "type": kind}

    def _new_message(
        self, bot: FakeBot, chat: dict[str, Any], params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        key = (bot.token, chat["id"])
        message_id = self._last_message_id.get(key, 0) + 1
        self._last_message_id[key] = message_id
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": bot.user(),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        reply = params.get("reply_parameters")
        replied_id = reply.get("message_id") if isinstance(reply, dict) else None
        replied = self._messages.get((*key, replied_id or params.get("reply_to_message_id", 0)))
        if replied is not None:
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        markup = inline_markup(params)
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(*key, message_id)] = message
        return message

    def _keep(self, token: str, message: dict[str, Any]) -> None:
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        self._chats.setdefault((token, chat_id), message["chat"])
        self._messages[(token, chat_id, message_id)] = message
        last = self._last_message_id.get((token, chat_id), 0)
        self._last_message_id[(token, chat_id)] = max(last, message_id)

    def _input_file(
        self, kind: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> StoredFile:
        """The file a send* call refers to: an upload, a known file_id, or an HTTP URL."""
        upload = files.get(kind)
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            mime = upload.content_type
            return self._store(kind, upload.data, upload.filename, mime, None, None)
        ref = params.get(kind)
        if not isinstance(ref, str) or not ref:
            raise bad_request(f"there is no {kind} in the request")
        if ref.startswith(("http://", "https://")):
            name = ref.rsplit("/", 1)[-1] or None
            return self._store(kind, b"", name, None, None, None, url=ref)
        stored = self.files.get(ref)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    def _store(
        self,
        kind: str,
        data: bytes,
        file_name: str | None,
        mime_type: str | None,
        file_id: str | None,
        file_path: str | None,
        url: str | None = None,
    ) -> StoredFile:
        new_id, unique = new_file_ids(kind)
        if mime_type in (None, "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        if file_path is None:
            # voice notes and photos are re-encoded (OGG/Opus, JPEG); other files kept as sent
            folder, suffix = _FOLDERS[kind]
            if kind in ("audio", "document"):
                guessed = mimetypes.guess_extension(mime_type or "")
                suffix = file_suffix(file_name) or guessed or suffix
            file_path = f"{folder}/file_{len(self.files)}{suffix}"
        stored = StoredFile(file_id or new_id, unique, file_path, data, file_name, mime_type, url)
        self.files[stored.file_id] = stored
        return stored
