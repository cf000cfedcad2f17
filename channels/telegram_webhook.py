"""Telegram bots on this server: attaching a token, the webhook, and processing updates.

``POST /webhooks/telegram/{bot_id}`` checks the bot's secret token in constant time,
stores the update in the inbox (a redelivered ``update_id`` is a no-op) and answers 200
at once; the update is processed in the background through the engine, and replies go
out through the Bot API. A call with the right secret is always answered 200, or
Telegram would deliver it again and again: an update that cannot be read even with the
fields a turn can do without filled in (:mod:`channels.telegram_reader`) is stored as
refused and counted (``chorus_webhook_rejections_total{reason="unparseable"}``). A bot's
token is stored, never logged and never part of a URL this server builds or prints.

aiogram takes seconds to import (it builds hundreds of pydantic models), so it is
imported when a Telegram bot is first used, not with this module: a process whose bots
are not on Telegram never loads it, and a server whose bots are loads it in the
background at start-up (:meth:`TelegramChannel.load`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import io
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from bots.profile import BotProfile, Features
from bots.registry import MANAGER_ID
from channels.telegram_ids import SCHEME, chat_id_of, chat_of, language_of
from core.conversation.engine import ConversationEngine
from core.errors import ChannelRefused, ChannelUnreachable, NotDelivered
from core.i18n.translator import ENGLISH, N_, Translator, available, translator
from core.messages import AudioFormat, Channel, InboundMessage, OutboundMessage
from core.metrics import Metrics
from core.outbox import Address, Outbox
from core.runtime.inbox import Delivery, Inbox
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.models import Bot as BotRow
from core.storage.models import ChannelAccount

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.types import BotCommand, Update

    from channels.telegram import TelegramRenderer

log = logging.getLogger("chorus.telegram")

CHANNEL = Channel.TELEGRAM.value
BLOCKED = "has blocked the bot"
POLL_SECONDS = 25
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
#: the end users' command menu, English here; Telegram shows each user the menu of their
#: app's language, one per shipped catalogue (see :func:`set_end_user_menus`)
END_USER_COMMANDS = (
    ("start", N_("Start again")),
    ("create", N_("Make a meditation, affirmations or a ritual")),
    ("library", N_("What I've made for you")),
    ("voice", N_("Spoken replies on or off")),
    ("help", N_("What I can do")),
    ("cancel", N_("Stop what we're doing")),
    ("human", N_("Talk to a person")),
    ("link", N_("One account with your chat on another app")),
    ("timezone", N_("Your time zone, for scheduled messages")),
    ("language", N_("The languages I speak, and yours")),
    ("stop", N_("No more announcements")),
)
#: the modules behind the Bot API client, imported on first use (see :meth:`load`)
BOT_API_MODULES = ("channels.telegram", "channels.telegram_limits", "aiogram.client.default")
#: the menu entries of each feature a creator can switch off
FEATURE_COMMANDS = {"create": frozenset({"create", "library"})}


def end_user_commands(features: Features, tr: Translator = ENGLISH) -> list[BotCommand]:
    """The end users' command menu of a bot with these features, in ``tr``'s language."""
    hidden: set[str] = set()
    for name, commands in FEATURE_COMMANDS.items():
        if not getattr(features, name):
            hidden |= commands
    return translated_menu([(c, d) for c, d in END_USER_COMMANDS if c not in hidden], tr)


async def set_end_user_menus(bot: Bot, features: Features) -> None:
    """Set the bot's command menu in every language (see :func:`set_menus`)."""
    await set_menus(bot, lambda tr: end_user_commands(features, tr))


async def set_menus(bot: Bot, menu: Callable[[Translator], list[BotCommand]]) -> None:
    """Set a bot's command menu: English for everyone, and one per shipped language
    for users whose Telegram app is in it (Telegram picks by the app's language)."""
    await bot.set_my_commands(menu(ENGLISH))
    for language in sorted(available()):
        await bot.set_my_commands(menu(translator(language)), language_code=language)


def translated_menu(commands: Sequence[tuple[str, str]], tr: Translator) -> list[BotCommand]:
    """A menu of (command, marked description) pairs, described in ``tr``'s language."""
    return _menu([(c, tr.gettext(d)) for c, d in commands])


# commands whose message carries a credential: removed from the chat once handled
SECRET_COMMANDS = frozenset({"token"})
#: how much of a body that is not even JSON is kept with its refusal
KEPT_BODY = 16 * 1024

#: what answers a bot's messages: the engine for creators' bots, or the manager bot
Handler = Callable[[InboundMessage], Awaitable[list[OutboundMessage]]]


class TelegramChannel:
    """The Telegram bots of this installation and their webhook."""

    def __init__(
        self,
        db: Database,
        engine: ConversationEngine,
        inbox: Inbox,
        outbox: Outbox,
        media: MediaStore,
        *,
        api_base: str,
        public_base_url: str,
        messages_per_second: float,
        chat_interval: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._engine = engine
        self._inbox = inbox
        self._metrics = metrics or Metrics()
        self._api_base = api_base
        self._public = public_base_url.rstrip("/")
        self._session: AiohttpSession | None = None
        # Telegram's flood limits, applied by the session's middleware
        self._flood_limits = (messages_per_second, chat_interval)
        self._accounts: dict[str, tuple[Bot, str, str | None]] = {}
        # the manager bot's token and webhook secret, when this server runs it
        self._manager: tuple[str, str] | None = None
        self._handlers: dict[str, Handler] = {}
        # updates the webhook parsed, until processed (keyed by bot and update id)
        self._parsed: dict[tuple[str, str], Update] = {}
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._polling = False
        self._media = media
        self._renderer: TelegramRenderer | None = None
        inbox.register(
            CHANNEL,
            self.process,
            chat_of_delivery,
            sender_of_delivery,
            lambda d: language_of(d.payload),
        )
        outbox.register(CHANNEL, self.deliver)

    async def attach(self, bot_id: str, token: str) -> str:
        """Connect a BotFather token to a bot: check it with getMe, point its webhook here
        with a fresh secret (or poll it, when this process polls), set the end users'
        command menu, and store it. A Telegram bot attached to another bot before moves
        to this one. Returns the Telegram username.

        Raises :class:`ChannelRefused` for a token Telegram turns down and
        :class:`ChannelUnreachable` when Telegram cannot be reached.
        """
        if bot_id == MANAGER_ID:
            raise ValueError("the manager bot's token comes from TELEGRAM_BOT_TOKEN")
        bot = self._bot(token)
        secret = secrets.token_urlsafe(32)
        with _telegram_errors():
            me = await bot.get_me()
            if not self._polling:
                await bot.set_webhook(
                    self._webhook_url(bot_id), secret_token=secret, allowed_updates=ALLOWED_UPDATES
                )
            await set_end_user_menus(bot, await self._features(bot_id))
        async with self._db.transaction() as session:
            previous = await session.scalars(
                select(ChannelAccount).where(
                    ChannelAccount.channel == CHANNEL, ChannelAccount.external_id == str(me.id)
                )
            )
            for other in previous:
                if other.bot_id != bot_id:
                    log.info("@%s moves from bot %s to %s", me.username, other.bot_id, bot_id)
                    self._forget(other.bot_id)
                    await session.delete(other)
            account = await session.scalar(
                select(ChannelAccount).where(
                    ChannelAccount.bot_id == bot_id, ChannelAccount.channel == CHANNEL
                )
            )
            if account is None:
                account = ChannelAccount(bot_id=bot_id, channel=CHANNEL)
                session.add(account)
            account.external_id = str(me.id)
            account.username = me.username
            account.token = token
            account.secret = secret
        self._forget(bot_id)
        self._accounts[bot_id] = (bot, secret, me.username)
        if self._polling:
            with _telegram_errors():
                await bot.delete_webhook()
            self._pollers[bot_id] = asyncio.create_task(
                self._poll(bot_id, bot), name=f"telegram-poll-{bot_id}"
            )
        log.info("bot %s is now @%s on Telegram", bot_id, me.username)
        return me.username or str(me.id)

    async def _features(self, bot_id: str) -> Features:
        async with self._db.read() as session:
            settings = await session.scalar(select(BotRow.settings).where(BotRow.id == bot_id))
        return Features.from_dict((settings or {}).get("features"))

    async def follow_features(self, bot: BotProfile) -> None:
        """Set the command menu of the bot's Telegram bot, if it has one, to its features
        (switched off, guided creation leaves the menu)."""
        account = await self._account(bot.id)
        if account is None or bot.id == MANAGER_ID:
            return
        with _telegram_errors():
            await set_end_user_menus(account[0], bot.features)

    def serve_manager(self, token: str, secret: str, handler: Handler) -> None:
        """Run the platform's manager bot with this token: its updates arrive at
        ``/webhooks/telegram/manager`` with ``secret`` and are answered by ``handler``."""
        self._manager = (token, secret)
        self._handlers[MANAGER_ID] = handler

    async def start_manager(self, commands: Sequence[tuple[str, str]]) -> str:
        """Introduce the manager bot to Telegram: getMe, its webhook (unless this process
        polls) and the creators' command menu in every shipped language (``commands``'
        descriptions are marked messages). Returns its username."""
        account = await self._account(MANAGER_ID)
        if account is None:
            raise ValueError("no manager bot: serve_manager was not called")
        bot, secret, _ = account
        with _telegram_errors():
            me = await bot.get_me()
            if not self._polling:
                await bot.set_webhook(
                    self._webhook_url(MANAGER_ID),
                    secret_token=secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
            await set_menus(bot, lambda tr: translated_menu(commands, tr))
        self._accounts[MANAGER_ID] = (bot, secret, me.username)
        return me.username or str(me.id)

    def _webhook_url(self, bot_id: str) -> str:
        return f"{self._public}/webhooks/telegram/{bot_id}"

    def _forget(self, bot_id: str) -> None:
        """Drop a bot's cached account and stop polling it."""
        self._accounts.pop(bot_id, None)
        if (task := self._pollers.pop(bot_id, None)) is not None:
            task.cancel()

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /webhooks/telegram/{bot_id}``: check, store, answer; process later."""
        bot_id = request.match_info["bot_id"]
        account = await self._account(bot_id)
        if account is None:
            raise web.HTTPNotFound(text="no Telegram bot here")
        offered = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(offered, account[1].encode()):
            # the token may have been attached again by another process: read it afresh
            if bot_id != MANAGER_ID:
                self._accounts.pop(bot_id, None)
                account = await self._account(bot_id)
            if account is None or not secrets.compare_digest(offered, account[1].encode()):
                raise web.HTTPUnauthorized(text="wrong or missing secret token")
        body = await request.read()
        payload = _json_object(body)
        if payload is None:
            update = None
        else:
            from channels.telegram_reader import read_update

            update = read_update(payload)
        if payload is None or update is None:
            await self._refuse(bot_id, body, payload)
            return web.Response(text="ok")
        key = (bot_id, str(update.update_id))
        self._parsed[key] = update  # processing reuses it, unless a restart came between
        if not await self._inbox.accept(bot_id, CHANNEL, key[1], payload):
            self._parsed.pop(key, None)
        return web.Response(text="ok")

    async def _refuse(self, bot_id: str, body: bytes, payload: dict[str, Any] | None) -> None:
        """Keep an update that cannot be read, as refused, under its ``update_id`` (or a
        hash of the body), so a redelivery is recognised; count it."""
        self._metrics.webhook_rejections.labels(CHANNEL, "200", "unparseable").inc()
        update_id = payload.get("update_id") if payload is not None else None
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            key = str(update_id)
        else:
            key = f"unreadable-{hashlib.sha256(body).hexdigest()[:32]}"
        if payload is None:
            kept, reason = {"body": body[:KEPT_BODY].decode(errors="replace")}, "not JSON"
        else:
            kept, reason = payload, "not an Update"
        log.warning("bot %s got a Telegram update it can't read (%s); kept as refused", bot_id, key)
        await self._inbox.refuse(bot_id, CHANNEL, key, kept, f"unparseable: {reason}")

    async def process(self, delivery: Delivery) -> None:
        """Handle one stored update: answer a button press, run the engine, render."""
        from aiogram.exceptions import TelegramAPIError

        from channels.telegram import to_inbound
        from channels.telegram_reader import read_update

        update = self._parsed.pop((delivery.bot_id, delivery.update_id), None)
        account = await self._account(delivery.bot_id)
        if account is None:
            log.warning("update for bot %s, which has no Telegram account now", delivery.bot_id)
            return
        bot = account[0]
        if update is None:
            update = read_update(delivery.payload)
        if update is None:
            raise ValueError(f"stored update {delivery.update_id} cannot be read as an Update")
        if (change := update.my_chat_member) is not None and change.chat.type == "private":
            reachable = change.new_chat_member.status not in ("kicked", "left")
            async with self._db.transaction() as session:
                await repo.set_reachable(
                    session, delivery.bot_id, CHANNEL, str(change.chat.id), reachable
                )
            log.info("a user of bot %s is %s", delivery.bot_id, "back" if reachable else "gone")
            return
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id)
        message = to_inbound(delivery.bot_id, update, account[2])
        if message is None:
            return
        chat_id = chat_id_of(message.sender_id)

        handle = self._handlers.get(delivery.bot_id, self._engine.handle)
        replies = await handle(message)
        if message.command in SECRET_COMMANDS and update.message is not None:
            try:
                await bot.delete_message(chat_id, update.message.message_id)
            except TelegramAPIError as exc:
                log.warning("could not remove a message carrying a token: %s", exc.message)
        await self._send(delivery.bot_id, bot, chat_id, replies)

    async def deliver(self, address: Address, messages: Sequence[OutboundMessage]) -> None:
        """The outbox's sender: finished content and job progress to a Telegram chat."""
        account = await self._account(address.bot_id)
        if account is None:
            raise NotDelivered(CHANNEL, "the bot has no Telegram token any more")
        async with self._db.read() as session:
            reachable = await repo.is_reachable(session, address.bot_id, CHANNEL, address.sender_id)
        if not reachable:
            raise NotDelivered(CHANNEL, BLOCKED)
        chat_id = chat_id_of(address.sender_id)
        if not await self._send(address.bot_id, account[0], chat_id, messages):
            raise NotDelivered(CHANNEL, BLOCKED)

    async def _send(
        self, bot_id: str, bot: Bot, chat_id: int, messages: Sequence[OutboundMessage]
    ) -> bool:
        """Send ``messages``; False when the user has blocked the bot (from now on they
        are marked unreachable)."""
        from aiogram.exceptions import TelegramForbiddenError

        try:
            await self._rendering().send(bot, chat_id, messages)
        except TelegramForbiddenError:  # blocked by the user, or kicked from the chat
            async with self._db.transaction() as session:
                await repo.set_reachable(session, bot_id, CHANNEL, str(chat_id), False)
            log.info("a user of bot %s blocked it; marked unreachable", bot_id)
            return False
        return True

    async def read_file(self, reference: str, max_bytes: int) -> bytes:
        """The bytes of a ``tg://BOT/FILE_ID`` attachment, refused past ``max_bytes``."""
        from aiogram.exceptions import TelegramAPIError

        parts = urlsplit(reference)
        account = await self._account(parts.netloc) if parts.scheme == SCHEME else None
        if account is None:
            raise OSError("not a Telegram file of a bot on this server")
        bot = account[0]
        buffer = io.BytesIO()
        try:
            found = await bot.get_file(parts.path.lstrip("/"))
            if found.file_size is not None and found.file_size > max_bytes:
                raise OSError(f"the file is larger than {max_bytes:,} bytes")
            if not found.file_path:
                raise OSError("Telegram gave no path for that file")
            await bot.download_file(found.file_path, buffer, timeout=60)
        except TelegramAPIError as exc:  # an unknown or expired file id, Telegram away
            raise OSError(f"Telegram did not give the file: {exc.message}") from exc
        data = buffer.getvalue()
        if len(data) > max_bytes:
            raise OSError(f"the file is larger than {max_bytes:,} bytes")
        return data

    async def start_polling(self) -> int:
        """Local development without a public URL: long-poll every attached bot with
        getUpdates (its webhook is removed) and feed the updates into the same inbox the
        webhook uses. Returns how many bots are polled."""
        async with self._db.read() as session:
            bot_ids = list(
                await session.scalars(
                    select(ChannelAccount.bot_id).where(
                        ChannelAccount.channel == CHANNEL, ChannelAccount.token.is_not(None)
                    )
                )
            )
        self._polling = True
        bot_ids += [MANAGER_ID] if MANAGER_ID in self._handlers else []
        for bot_id in bot_ids:
            account = await self._account(bot_id)
            if account is not None and bot_id not in self._pollers:
                await account[0].delete_webhook()
                self._pollers[bot_id] = asyncio.create_task(
                    self._poll(bot_id, account[0]), name=f"telegram-poll-{bot_id}"
                )
        return len(bot_ids)

    async def _poll(self, bot_id: str, bot: Bot) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=POLL_SECONDS, allowed_updates=ALLOWED_UPDATES
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network trouble, 409 while a webhook is set, 5xx
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("polling bot %s failed (%s); again in %.1f s", bot_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for update in updates:
                payload = update.model_dump(mode="json", by_alias=True, exclude_none=True)
                await self._inbox.accept(bot_id, CHANNEL, str(update.update_id), payload)
                offset = update.update_id + 1

    async def in_use(self) -> bool:
        """Whether any bot of this installation is on Telegram (the manager bot, or a bot
        with a token)."""
        if self._manager is not None:
            return True
        async with self._db.read() as session:
            found = await session.scalar(
                select(ChannelAccount.bot_id)
                .where(ChannelAccount.channel == CHANNEL, ChannelAccount.token.is_not(None))
                .limit(1)
            )
        return found is not None

    async def load(self) -> None:
        """Import the Bot API client in a worker thread, so that the first update does
        not wait seconds for it and the event loop keeps serving meanwhile."""
        await asyncio.to_thread(_import_bot_api)

    async def close(self) -> None:
        """Stop polling and close the Bot API connections."""
        for task in self._pollers.values():
            task.cancel()
        await asyncio.gather(*self._pollers.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _account(self, bot_id: str) -> tuple[Bot, str, str | None] | None:
        if bot_id in self._accounts:
            return self._accounts[bot_id]
        if bot_id == MANAGER_ID:
            if self._manager is None:
                return None
            token, secret = self._manager
            self._accounts[bot_id] = (self._bot(token), secret, None)
            return self._accounts[bot_id]
        async with self._db.read() as session:
            account = await session.scalar(
                select(ChannelAccount).where(
                    ChannelAccount.bot_id == bot_id, ChannelAccount.channel == CHANNEL
                )
            )
        if account is None or not account.token:
            return None
        self._accounts[bot_id] = (self._bot(account.token), account.secret, account.username)
        return self._accounts[bot_id]

    def _bot(self, token: str) -> Bot:
        from aiogram import Bot
        from aiogram.client.default import DefaultBotProperties
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        from channels.telegram_limits import FloodControl

        if self._session is None:
            self._session = AiohttpSession(api=TelegramAPIServer.from_base(self._api_base))
            per_bot, chat_interval = self._flood_limits
            self._session.middleware(FloodControl(per_bot=per_bot, chat_interval=chat_interval))
        return Bot(token, session=self._session, default=DefaultBotProperties(parse_mode="HTML"))

    def _rendering(self) -> TelegramRenderer:
        if self._renderer is None:
            from channels.telegram import TelegramRenderer

            media = self._media
            self._renderer = TelegramRenderer(
                media.path, lambda reference: media.variant(reference, AudioFormat.MP3)
            )
        return self._renderer


def chat_of_delivery(delivery: Delivery) -> str:
    return chat_of(delivery.payload)


def _import_bot_api() -> None:
    for name in BOT_API_MODULES:
        importlib.import_module(name)


def _menu(commands: Sequence[tuple[str, str]]) -> list[BotCommand]:
    """A command menu for ``set_my_commands``, from (command, description) pairs."""
    from aiogram.types import BotCommand

    return [BotCommand(command=c, description=d) for c, d in commands]


def sender_of_delivery(delivery: Delivery) -> Address | None:
    """Where to tell the sender of an update that it could not be answered: its chat."""
    chat = chat_of(delivery.payload)
    return Address(delivery.bot_id, CHANNEL, chat) if chat.lstrip("-").isdigit() else None


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past reason
        return None
    return payload if isinstance(payload, dict) else None


@contextlib.contextmanager
def _telegram_errors() -> Iterator[None]:
    """Bot API failures as Chorus errors: a refused token, or Telegram out of reach."""
    from aiogram.exceptions import (
        TelegramAPIError,
        TelegramBadRequest,
        TelegramNotFound,
        TelegramUnauthorizedError,
    )

    try:
        yield
    except (TelegramUnauthorizedError, TelegramNotFound, TelegramBadRequest) as exc:
        raise ChannelRefused(CHANNEL, exc.message) from exc
    except TelegramAPIError as exc:  # 5xx, flood control beyond retries, network
        raise ChannelUnreachable(CHANNEL, exc.message) from exc
