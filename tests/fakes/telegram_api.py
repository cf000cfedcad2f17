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

This module is the server and its test controls; what each Bot API method does is in
:mod:`tests.fakes.telegram_methods`, and the records, errors and request decoding in
:mod:`tests.fakes.telegram_wire`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_methods import BotApiMethods
from tests.fakes.telegram_wire import (
    ApiError,
    Call,
    FakeBot,
    Fault,
    StoredFile,
    read_params,
    update_allowed,
)

MESSAGE_METHODS = frozenset({"sendMessage", "sendVoice", "sendAudio", "sendDocument", "sendPhoto"})
MAX_UPLOAD = 50 * 1024 * 1024
SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
    "<center><h1>{title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(slots=True)
class FakeTelegram(BotApiMethods):
    """The server's state. ``latency`` seconds are added to every request; sending to a
    chat id in ``blocked`` answers 403; see :meth:`flood` and :meth:`fail`."""

    latency: float = 0.0
    blocked: set[int] = field(default_factory=set)
    bots: dict[str, FakeBot] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
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
        if update_allowed(update, bot.allowed_updates):
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
        self._faults.append(Fault(method, chat_id, times, error))

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
        self._faults.append(Fault(method, chat_id, times, error))

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
        params, files = await read_params(request)
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
