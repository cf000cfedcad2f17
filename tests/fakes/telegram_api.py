"""A stand-in for the Telegram Bot API server (``api.telegram.org``), several bots at once.

It speaks the real wire format: ``/bot{token}/{method}`` reading query strings,
urlencoded, multipart and JSON bodies (method names case-insensitive, as on Telegram),
answering ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description"[, "parameters"]}`` with the same HTTP status, and serving file bytes at
``/file/bot{token}/{file_path}``. Point aiogram at it with
``TelegramAPIServer.from_base(url)``. Every call is recorded as a :class:`Call`; switches
make it flood (429 + ``retry_after``), fail (5xx), lag, or refuse blocked chats (403).

Deliberately lenient where the real server needs state a test would not have: chats
never seen in an update are assumed to exist, replies to unknown messages carry no
``reply_to_message``, formatted text comes back as sent (markup not parsed), HTTP URLs
are accepted as files without being fetched, and setWebhook takes plain ``http://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_updates import bot_user, new_file_ids

MESSAGE_METHODS = frozenset({"sendMessage", "sendVoice", "sendAudio", "sendDocument", "sendPhoto"})
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD = 50 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    """typing upload_photo record_video upload_video record_voice upload_voice upload_document
    choose_sticker find_location record_video_note upload_video_note""".split()
)
SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Form fields are strings on the wire; these stay strings, the rest are decoded as JSON.
_STRING_FIELDS = frozenset(
    """text caption parse_mode url secret_token callback_query_id file_id inline_message_id
    action title performer language_code ip_address business_connection_id voice audio
    document photo thumbnail""".split()
)
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
    "<center><h1>{title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """An error answer: HTTP ``status`` with the same ``error_code`` and a description."""

    def __init__(
        self, status: int, description: str, *, retry_after: int | None = None, html: bool = False
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.html = html

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file on the server: registered by a test or uploaded by a bot; ``url`` if it was
    sent as an HTTP URL (then ``data`` is empty)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """One request: decoded ``params``, ``files`` by the parameter they fill, when it
    arrived (``time.monotonic()``) and what was answered."""

    token: str
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    at: float
    status: int
    response: dict[str, Any]

    @property
    def chat_id(self) -> int | str | None:
        chat_id = self.params.get("chat_id")
        return chat_id if isinstance(chat_id, int | str) else None

    @property
    def result(self) -> Any:
        return self.response.get("result")


@dataclass(slots=True)
class Webhook:
    """What the last setWebhook asked for; ``url == ""`` when there is none."""

    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    drop_pending_updates: bool = False
    max_connections: int = 40


@dataclass(slots=True)
class FakeBot:
    """A registered bot: identity, webhook, commands (by scope JSON and language) and the
    updates waiting for getUpdates."""

    token: str
    id: int
    username: str
    first_name: str
    webhook: Webhook = field(default_factory=Webhook)
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    allowed_updates: list[str] | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    last_update_id: int = 0
    polls: int = 0
    waiting: int = 0

    def user(self) -> dict[str, Any]:
        return bot_user(self.id, username=self.username, first_name=self.first_name)


@dataclass(slots=True)
class _Fault:
    method: str | None
    chat_id: int | str | None
    remaining: int
    error: ApiError

    def take(self, method: str, chat_id: object) -> bool:
        """Whether this fault answers the call (a fault for any method spares getUpdates,
        which a background poller would otherwise eat)."""
        if self.remaining <= 0 or (self.chat_id is not None and chat_id != self.chat_id):
            return False
        if self.method is None and method == "getUpdates":
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        self.remaining -= 1
        return True


Handler = Callable[[FakeBot, dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


@dataclass(slots=True)
class FakeTelegram:
    """The server's state. ``latency`` seconds are added to every request; sending to a
    chat id in ``blocked`` answers 403; see :meth:`flood` and :meth:`fail`."""

    latency: float = 0.0
    blocked: set[int] = field(default_factory=set)
    bots: dict[str, FakeBot] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _chats: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _messages: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    _last_message_id: dict[tuple[str, int], int] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False

    def app(self) -> web.Application:
        """An aiohttp application serving this fake."""
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        app.on_startup.append(self._open)
        app.on_shutdown.append(self._close)
        return app

    # -- set-up by tests ------------------------------------------------------------

    def add_bot(
        self,
        token: str,
        *,
        username: str = "chorus_test_bot",
        first_name: str = "Chorus",
        id: int | None = None,
    ) -> FakeBot:
        """Register a bot; its id defaults to the number before the token's colon."""
        bot_id = id if id is not None else int(token.partition(":")[0])
        bot = self.bots[token] = FakeBot(token, bot_id, username, first_name)
        return bot

    def add_file(
        self,
        file_id: str | None,
        data: bytes,
        *,
        file_path: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Put a file on the server (as if a user had sent it) for getFile and download."""
        stored = self._store("document", data, file_name, mime_type, file_id, file_path)
        return stored

    def push_update(self, token: str, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for getUpdates (an ``update_id`` is given if it has none) and
        learn the chats and messages in it. Returns the update with its id.

        Like Telegram, an update of a type the bot's last ``allowed_updates`` (from
        getUpdates or setWebhook) leaves out is not queued; by default that is
        ``chat_member``, ``message_reaction`` and ``message_reaction_count``."""
        bot = self.bots[token]
        update = {"update_id": bot.last_update_id + 1, **update}
        if update["update_id"] <= bot.last_update_id:
            raise ValueError(f"update_id {update['update_id']} after {bot.last_update_id}")
        bot.last_update_id = update["update_id"]
        if _allowed(update, bot.allowed_updates):
            bot.pending.append(update)
        self.remember(token, update)
        self._notify()
        return update

    def remember(self, token: str, update: dict[str, Any]) -> None:
        """Learn the chats and messages of an update delivered some other way (a webhook
        POST), so replies and edits can refer to them."""
        for value in update.values():
            if not isinstance(value, dict):
                continue
            for message in (value, value.get("message"), value.get("reply_to_message")):
                if isinstance(message, dict) and "message_id" in message:
                    self._keep(token, message)
            if "chat" in value:
                self._chats.setdefault((token, value["chat"]["id"]), value["chat"])

    def flood(
        self,
        method: str | None = None,
        *,
        times: int = 1,
        retry_after: int = 3,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with 429 and ``retry_after``."""
        error = ApiError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )
        self._faults.append(_Fault(method, chat_id, times, error))

    def fail(
        self,
        method: str | None = None,
        *,
        times: int = 1,
        status: int = 502,
        html: bool = False,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with a server error; ``html`` sends
        nginx's HTML page instead of JSON, as Telegram's front end does when it is down."""
        error = ApiError(status, SERVER_ERRORS.get(status, "Internal Server Error"), html=html)
        self._faults.append(_Fault(method, chat_id, times, error))

    # -- inspection -----------------------------------------------------------------

    def calls_for(self, method: str, token: str | None = None) -> list[Call]:
        """The calls of ``method`` (for ``token``), in order."""
        return [c for c in self.calls if c.method == method and token in (None, c.token)]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - it is named in the failure message
        token: str | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` have been answered; returns them."""
        try:
            async with asyncio.timeout(timeout):
                while len(found := self.calls_for(method, token)) < count:
                    await self._changed.wait()
        except TimeoutError:
            got = len(self.calls_for(method, token))
            raise TimeoutError(f"{got} of {count} {method} calls after {timeout}s") from None
        return found

    async def polling(self, token: str) -> None:
        """Wait until a getUpdates of ``token`` is waiting in a long poll, so an update
        pushed now is answered by that poll (bound it with ``asyncio.timeout``)."""
        while not self.bots[token].waiting:
            await self._changed.wait()

    def max_in_window(
        self,
        window: float,
        *,
        token: str | None = None,
        chat_id: int | str | None = None,
        methods: Iterable[str] = MESSAGE_METHODS,
    ) -> int:
        """The most calls of ``methods`` that arrived within any ``window`` seconds, to
        check the limits: 1 message per second per chat, 30 per second per bot."""
        if window <= 0:
            raise ValueError(f"window must be positive, not {window}")
        wanted = set(methods)
        times = sorted(
            c.at
            for c in self.calls
            if c.method in wanted
            and token in (None, c.token)
            and (chat_id is None or c.chat_id == chat_id)
        )
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    # -- HTTP -----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        token, name = request.match_info["token"], request.match_info["method"]
        if self.latency:
            await asyncio.sleep(self.latency)
        params, files = await _read_params(request)
        method, handler = self._handlers().get(name.lower(), (name, None))
        error: ApiError | None = None
        try:
            bot = self.bots.get(token)
            if bot is None:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            for fault in self._faults:
                if fault.take(method, params.get("chat_id")):
                    raise fault.error
            chat_id = params.get("chat_id")
            if method.startswith("send") and isinstance(chat_id, int) and chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            body = {"ok": True, "result": await handler(bot, params, files)}
        except ApiError as raised:
            error, body = raised, raised.body()
        status = error.status if error else 200
        self.calls.append(Call(token, method, params, files, arrived, status, body))
        self._notify()
        if error is not None and error.html:
            page = _NGINX_PAGE.format(title=f"{status} {error.description}")
            return web.Response(status=status, text=page, content_type="text/html")
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.match_info["token"] not in self.bots:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return await self._not_found(request)
        self.downloads.append(path)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    async def _open(self, app: web.Application) -> None:
        self._closing = False

    async def _close(self, app: web.Application) -> None:
        """End long polls at once, so the server shuts down without waiting for them."""
        self._closing = True
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

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
        bot.commands[_scope_key(params)] = commands
        return True

    async def _get_my_commands(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        return bot.commands.get(_scope_key(params), [])

    async def _delete_my_commands(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        bot.commands.pop(_scope_key(params), None)
        return True

    async def _send_message(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        chat = self._chat(bot, params)
        text = _checked_text(params)
        return self._new_message(bot, chat, params, {"text": text})

    async def _edit_message_text(self, bot: FakeBot, params: dict[str, Any], files: Any) -> Any:
        text = _checked_text(params)
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
        markup = _inline_markup(params)
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
            content: dict[str, Any] = {kind: _media_shape(kind, stored, params)}
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
        markup = _inline_markup(params)
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
                suffix = _suffix(file_name) or guessed or suffix
            file_path = f"{folder}/file_{len(self.files)}{suffix}"
        stored = StoredFile(file_id or new_id, unique, file_path, data, file_name, mime_type, url)
        self.files[stored.file_id] = stored
        return stored


_FOLDERS = {
    "voice": ("voice", ".oga"),
    "audio": ("music", ".mp3"),
    "document": ("documents", ""),
    "photo": ("photos", ".jpg"),
}


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Parameters from the query string and the body, and uploaded files keyed by the
    parameter that refers to them (``voice=attach://<part>``) or by their own part name."""
    raw: dict[str, Any] = dict(request.query)
    parts: dict[str, UploadedFile] = {}
    typed: dict[str, Any] = {}
    if request.content_type == "application/json":
        body = await request.json()
        typed = body if isinstance(body, dict) else {}
    elif request.body_exists:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                with value.file:
                    data = value.file.read()
                parts[key] = UploadedFile(value.filename, value.content_type, data)
            else:
                raw[key] = value
    params = {key: _decode(key, value) for key, value in raw.items()} | typed
    files: dict[str, UploadedFile] = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("attach://"):
            part = parts.pop(value.removeprefix("attach://"), None)
            if part is not None:
                files[key] = part
    return params, files | parts


def _decode(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return value if decoded is None or isinstance(decoded, str) else decoded


def _checked_text(params: dict[str, Any]) -> str:
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > 4096:
        raise bad_request("message is too long")
    mode = params.get("parse_mode")
    if mode is not None and str(mode).lower() not in {"html", "markdown", "markdownv2"}:
        raise bad_request(f"unsupported parse_mode {mode}")
    return text


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The inline keyboard of ``reply_markup`` (the only kind a Message carries back)."""
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if len(str(button.get("callback_data", "")).encode()) > 64:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup


def _media_shape(kind: str, stored: StoredFile, params: dict[str, Any]) -> Any:
    ids = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    duration = int(params.get("duration", 1))
    if kind == "voice":
        return {"duration": duration, "mime_type": "audio/ogg", **ids}
    if kind == "photo":
        return [{**ids, "width": 1280, "height": 960}]
    shape: dict[str, Any] = {"mime_type": stored.mime_type or "application/octet-stream"}
    if stored.file_name:
        shape["file_name"] = stored.file_name
    if kind == "audio":
        shape["duration"] = duration
        shape.update({k: params[k] for k in ("title", "performer") if params.get(k)})
    return {**shape, **ids}


def _allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
    kind = next((k for k in update if k != "update_id"), "")
    return kind in allowed if allowed else kind not in _NOT_DEFAULT_UPDATES


def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _suffix(file_name: str | None) -> str:
    if not file_name or "." not in file_name:
        return ""
    return "." + file_name.rsplit(".", 1)[-1].lower()
