"""The web widget's socket, ``GET /ws/widget/{bot_id}``, as ``webwidget/PROTOCOL.md`` says.

The socket only translates: a visitor's frame is checked, stored in the inbox (its id
makes a resend a no-op) and acknowledged; the inbox runs it through the engine like any
other channel's message, and the replies are numbered in the widget log and pushed to
every socket the visitor has open. Answers stream as ``delta`` frames while they are
written. A widget opened on a conversation not begun sends ``start``, which is greeted
as ``/start`` is on every channel. What a frame may hold, and how it becomes a message
and back, is :mod:`channels.widget_frames`; who may open a socket is
:mod:`channels.widget_access`; this module owns the sockets, the pacing and delivery.
What the socket itself tells the visitor (an ``error`` frame's ``message``, a voice
note's label) is in the session's language: the browser's, from ``hello``, else the
one its upgrade request prefers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bots.registry import BotDirectory
from channels.widget_access import (
    ORIGIN_NOT_ALLOWED,
    UNKNOWN_BOT,
    origin_allowed,
    preferred_language,
    refuse,
)
from channels.widget_frames import (
    BURST,
    MAX_FRAME,
    RATE,
    FrameError,
    TokenBucket,
    checked_frame,
    error_frame,
    message_id,
    parse_frame,
    reply_frame,
    said_frame,
    to_inbound,
)
from channels.widget_log import LogErased, WidgetLog
from channels.widget_session import SessionRejected, WidgetSessions
from core.conversation.engine import ConversationEngine
from core.errors import StorageUnavailable, UnknownBot
from core.i18n.translator import Translator, translator
from core.messages import MAX_TEXT, Channel, OutboundKind, OutboundMessage
from core.outbox import Address, Outbox
from core.people.timezones import canonical
from core.runtime.fanout import FanOut, LocalFanOut
from core.runtime.inbox import Delivery, Inbox
from core.storage.media import MediaStore
from core.text import normalise

log = logging.getLogger("chorus.widget")

CHANNEL = Channel.WIDGET.value
MAX_STRIKES = 50  # frames refused for flooding before the socket is closed
HEARTBEAT = 25.0
DEFAULT_THEME = {"color": "#4f46e5", "avatar": None, "position": "right"}
START = "start"  # the ref of a visitor's greeting in the log


class _Connection:
    """One open socket and who is on it once ``hello`` arrived."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        bot_id: str,
        settings: dict[str, Any],
        preferred: str | None = None,
    ) -> None:
        self.ws = ws
        self.bot_id = bot_id
        self.settings = settings  # the bot's, as read when the socket opened
        self.visitor: str | None = None
        # the IANA zone the browser reported, checked (None when it sent none we know)
        self.timezone: str | None = None
        # the browser's language, checked and normalised (None when it sent no tag)
        self.language: str | None = None
        # the language the upgrade request preferred (Accept-Language), until hello says
        self.preferred = preferred
        self.bucket = TokenBucket(RATE, BURST)
        self.strikes = 0

    @property
    def tr(self) -> Translator:
        """The translator for what the socket tells the visitor: the session's language."""
        return translator(self.language or self.preferred)

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(json.dumps(frame, ensure_ascii=False))


class WidgetChannel:
    """Sockets of widget visitors, and delivery of replies to them."""

    def __init__(
        self,
        bots: BotDirectory,
        engine: ConversationEngine,
        inbox: Inbox,
        outbox: Outbox,
        media: MediaStore,
        sessions: WidgetSessions,
        log_: WidgetLog,
        *,
        public_base_url: str,
        voice_dir: Path,
        max_voice_bytes: int,
        fanout: FanOut | None = None,
    ) -> None:
        self._bots = bots
        self._engine = engine
        self._inbox = inbox
        self._media = media
        self._sessions = sessions
        self._log = log_
        self._public_origin = public_base_url
        self._voice_dir = voice_dir
        self._max_voice = max_voice_bytes
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._visitors: defaultdict[tuple[str, str], set[_Connection]] = defaultdict(set)
        self._fanout = fanout or LocalFanOut()
        self._fanout.subscribe(CHANNEL, self._fanned)
        inbox.register(
            CHANNEL,
            self.process,
            lambda d: f"{d.bot_id}/{d.payload['visitor']}",
            lambda d: Address(d.bot_id, CHANNEL, str(d.payload["visitor"])),
            lambda d: d.payload.get("language"),
        )
        outbox.register(CHANNEL, self.deliver)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws/widget/{bot_id}``: check the bot and the origin, then talk."""
        bot_id = request.match_info["bot_id"]
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
        try:
            settings = await self._bots.settings(bot_id)
        except UnknownBot:
            return await refuse(request, ws, UNKNOWN_BOT)
        origin = request.headers.get("Origin")
        allowed = [self._public_origin, *settings.get("allowed_origins", [])]
        if origin is not None and not origin_allowed(origin, request, allowed):
            log.info("widget socket for %s refused from origin %s", bot_id, origin[:100])
            return await refuse(request, ws, ORIGIN_NOT_ALLOWED)
        await ws.prepare(request)
        self._sockets.add(ws)
        connection = _Connection(ws, bot_id, settings, preferred_language(request))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(connection, message.data)
                elif message.type is WSMsgType.BINARY:
                    not_text = connection.tr.gettext("Frames are JSON text.")
                    await _error(connection, FrameError("bad_frame", not_text))
        finally:
            if connection.visitor is not None:
                self._visitors[(bot_id, connection.visitor)].discard(connection)
                if not self._visitors[(bot_id, connection.visitor)]:
                    del self._visitors[(bot_id, connection.visitor)]
        return ws

    async def _on_text(self, connection: _Connection, data: str) -> None:
        wait = connection.bucket.take()
        if wait:
            connection.strikes += 1
            if connection.strikes > MAX_STRIKES:
                await connection.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"flooding")
                return
            await connection.send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": connection.tr.gettext("Slow down a little."),
                    "retry_after": round(wait, 2),
                }
            )
            return
        try:
            await self._on_frame(connection, parse_frame(data, connection.tr))
        except FrameError as exc:
            await _error(connection, exc)

    async def _on_frame(self, connection: _Connection, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            return await connection.send({"type": "pong"})
        if kind == "hello":
            return await self._hello(connection, frame)
        if connection.visitor is None:
            raise FrameError("hello_required", connection.tr.gettext("Say hello first."))
        if kind == "typing":
            return None
        if kind == "start":
            return await self._start(connection, connection.visitor)
        if kind not in ("message", "button", "voice"):
            message = connection.tr.gettext("Unknown frame type %(type)s.", type=repr(kind[:32]))
            raise FrameError("unknown_type", message)
        frame_id = message_id(frame, connection.tr)
        stored = await checked_frame(
            frame_id,
            frame,
            visitor=connection.visitor,
            voice_dir=self._voice_dir,
            max_voice=self._max_voice,
            tr=connection.tr,
        )
        try:
            accepted = await self._inbox.accept(
                connection.bot_id,
                CHANNEL,
                f"{connection.visitor}:{frame_id}",
                {
                    "visitor": connection.visitor,
                    "frame": stored,
                    "timezone": connection.timezone,
                    "language": connection.language,
                },
            )
        except StorageUnavailable:
            message = connection.tr.gettext("Couldn't save that; it will be sent again.")
            raise FrameError("unavailable", message, frame_id) from None
        ack: dict[str, Any] = {"type": "ack", "id": frame_id}
        if not accepted:
            ack["duplicate"] = True
        await connection.send(ack)

    async def _start(self, connection: _Connection, visitor: str) -> None:
        """``start``: the widget opened on a conversation not begun. Stored once per
        visitor (the inbox's id makes any later one a no-op), unacknowledged: its answer
        is the greeting."""
        frame = {"type": "start", "id": f"{visitor}/{START}"}
        try:
            await self._inbox.accept(
                connection.bot_id,
                CHANNEL,
                frame["id"],
                {
                    "visitor": visitor,
                    "frame": frame,
                    "timezone": connection.timezone,
                    "language": connection.language,
                },
            )
        except StorageUnavailable:
            message = connection.tr.gettext("Couldn't start the conversation.")
            raise FrameError("unavailable", message) from None

    async def _hello(self, connection: _Connection, frame: dict[str, Any]) -> None:
        bot_id = connection.bot_id
        token, last_seq = frame.get("session"), frame.get("last_seq", 0)
        if not isinstance(last_seq, int) or last_seq < 0:
            last_seq = 0
        zone = frame.get("timezone")
        connection.timezone = canonical(zone[:64]) if isinstance(zone, str) else None
        connection.language = normalise(frame.get("language"))
        visitor = None
        if isinstance(token, str) and token:
            try:
                visitor = self._sessions.verify(token, bot_id)
            except SessionRejected as exc:
                tr = connection.tr
                message = (
                    tr.gettext("Your session expired.")
                    if exc.code == "session_expired"
                    else tr.gettext("Starting a new session.")
                )
                await _error(connection, FrameError(exc.code, message))
                last_seq = 0
        if visitor is None:
            token, visitor = self._sessions.issue(bot_id)
        if connection.visitor is not None:
            self._visitors[(bot_id, connection.visitor)].discard(connection)
        connection.visitor = visitor
        self._visitors[(bot_id, visitor)].add(connection)
        latest, missed = await self._log.since(bot_id, visitor, last_seq)
        await connection.send(await self._welcome(connection, visitor, latest, token))
        for stored in missed:
            await connection.send(stored)

    async def _welcome(
        self, connection: _Connection, visitor: str, seq: int, token: str | None = None
    ) -> dict[str, Any]:
        """The ``welcome`` frame: the session (when one is issued or renewed), the highest
        ``seq`` stored, the bot's look and the limits."""
        bot = await self._bots.get(connection.bot_id)
        bot = bot.speaking(bot.languages.resolve(connection.language))
        theme = {**DEFAULT_THEME, **connection.settings.get("widget", {})}
        return {
            "type": "welcome",
            **({"session": token} if token else {}),
            "visitor": visitor,
            "seq": seq,
            "bot": {
                "id": bot.id,
                "name": bot.name,
                "title": theme.get("title") or bot.name,
                "greeting": bot.welcome,
                "color": theme["color"],
                "avatar": theme["avatar"],
                "position": theme["position"],
            },
            "limits": {
                "max_frame": MAX_FRAME,
                "max_text": MAX_TEXT,
                "rate": RATE,
                "burst": BURST,
                "max_voice_bytes": self._max_voice,
            },
        }

    async def process(self, delivery: Delivery) -> None:
        """Run one stored visitor message through the engine and deliver the replies."""
        visitor, frame = delivery.payload["visitor"], delivery.payload["frame"]
        bot_id, frame_id = delivery.bot_id, frame["id"]
        key = (bot_id, visitor)
        if frame["type"] == "start":
            return await self._greet(delivery)
        language = normalise(delivery.payload.get("language"))
        said = await self._log.append(
            bot_id, visitor, "said", [said_frame(frame, translator(language))], ref=frame_id
        )
        await self._push(key, said)
        await self._push(key, [{"type": "typing", "on": True}])

        async def stream(delta: str) -> None:
            await self._push(key, [{"type": "delta", "reply_to": frame_id, "text": delta}])

        try:
            message = to_inbound(bot_id, visitor, frame, delivery.payload.get("timezone"), language)
            replies = await self._engine.handle(message, stream)
            frames = [self._reply(r, frame_id) for r in replies]
            try:
                stored = await self._log.append(
                    bot_id, visitor, "reply", frames, ref=frame_id, after=said[-1]["seq"]
                )
            except LogErased:
                return await self._start_over(key, frames)
            await self._push(key, stored)
        finally:
            await self._push(key, [{"type": "typing", "on": False}])

    async def _greet(self, delivery: Delivery) -> None:
        """A ``start`` runs as ``/start`` does on any channel: the bot's greeting with its
        choices, stored as the first frames of the visitor's log, so the page shows them
        before the visitor says anything and a reload shows them once. A conversation
        begun meanwhile (a message from another tab) already has its greeting."""
        visitor, bot_id = delivery.payload["visitor"], delivery.bot_id
        if await self._log.latest(bot_id, visitor):
            return
        message = to_inbound(
            bot_id,
            visitor,
            delivery.payload["frame"],
            delivery.payload.get("timezone"),
            normalise(delivery.payload.get("language")),
        )
        frames = [self._reply(r, None) for r in await self._engine.handle(message)]
        stored = await self._log.append(bot_id, visitor, "greeting", frames, ref=START)
        await self._push((bot_id, visitor), stored)

    async def deliver(self, address: Address, messages: Sequence[OutboundMessage]) -> None:
        """The outbox's sender: content finished later, numbered, stored and pushed to
        the visitor's sockets in whichever process holds them. Progress of the work is
        pushed without being stored (a ``progress`` frame): a reconnecting widget needs
        the result, not how it went."""
        frames = [
            {"type": "progress", "reply_to": None, "text": m.text}
            for m in messages
            if m.kind is OutboundKind.PROGRESS
        ]
        lasting = [self._reply(m, None) for m in messages if m.kind is not OutboundKind.PROGRESS]
        if lasting:
            frames += await self._log.append(address.bot_id, address.sender_id, "push", lasting)
        await self._fanout.publish(
            CHANNEL, {"bot": address.bot_id, "visitor": address.sender_id, "frames": frames}
        )

    async def _fanned(self, message: dict[str, Any]) -> None:
        """Frames published by any process: pushed to the sockets this one holds."""
        await self._push((str(message["bot"]), str(message["visitor"])), message["frames"])

    async def close(self) -> None:
        """Close every socket with 1001 (going away): the widgets reconnect elsewhere."""
        sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
            return_exceptions=True,
        )

    async def _start_over(self, key: tuple[str, str], frames: Sequence[dict[str, Any]]) -> None:
        """The visitor was erased while their message was handled (they asked to be
        forgotten): their pages get a ``welcome`` with ``seq`` 0, which clears what they
        show, then the replies, which are not stored."""
        visitor = key[1]
        for connection in list(self._visitors.get(key, ())):
            await connection.send(await self._welcome(connection, visitor, 0))
            for frame in frames:
                await connection.send(frame)

    async def _push(self, key: tuple[str, str], frames: Sequence[dict[str, Any]]) -> None:
        for connection in list(self._visitors.get(key, ())):
            for frame in frames:
                await connection.send(frame)

    def _reply(self, message: OutboundMessage, reply_to: str | None) -> dict[str, Any]:
        return reply_frame(message, reply_to, self._media.link)


async def _error(connection: _Connection, error: FrameError) -> None:
    await connection.send(error_frame(error))
