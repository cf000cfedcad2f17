"""The web widget's socket, ``GET /ws/widget/{bot_id}``, as ``webwidget/PROTOCOL.md`` says.

The socket only translates: a visitor's frame is checked, stored in the inbox (its id
makes a resend a no-op) and acknowledged; the inbox runs it through the engine like any
other channel's message, and the replies are numbered in the widget log and pushed to
every socket the visitor has open. Answers stream as ``delta`` frames while they are
written.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bots.registry import BotDirectory
from channels.widget_log import WidgetLog
from channels.widget_session import SessionRejected, WidgetSessions
from core.engine import ConversationEngine
from core.errors import StorageUnavailable, UnknownBot
from core.inbox import Delivery, Inbox
from core.media import MediaStore
from core.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    Media,
    OutboundMessage,
    parse_command,
)
from core.outbox import Address, Outbox
from webwidget.embed import normalise_origin

log = logging.getLogger("chorus.widget")

CHANNEL = Channel.WIDGET.value
MAX_FRAME = 1024 * 1024
MAX_TEXT = 4000
MAX_ID = 64
MAX_PAYLOAD = 200
RATE = 2.0  # frames per second, refilled
BURST = 20
MAX_STRIKES = 50  # frames refused for flooding before the socket is closed
HEARTBEAT = 25.0
DEFAULT_THEME = {"color": "#4f46e5", "avatar": None, "position": "right"}


class FrameError(Exception):
    """A frame the server refuses, answered with an ``error`` frame."""

    def __init__(self, code: str, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


class _Bucket:
    """A token bucket: ``burst`` at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 if a frame may pass now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class _Connection:
    """One open socket and who is on it once ``hello`` arrived."""

    def __init__(self, ws: web.WebSocketResponse, bot_id: str) -> None:
        self.ws = ws
        self.bot_id = bot_id
        self.visitor: str | None = None
        self.bucket = _Bucket(RATE, BURST)
        self.strikes = 0

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
    ) -> None:
        self._bots = bots
        self._engine = engine
        self._inbox = inbox
        self._media = media
        self._sessions = sessions
        self._log = log_
        self._public_origin = _origin(public_base_url)
        self._voice_dir = voice_dir
        self._max_voice = max_voice_bytes
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._visitors: defaultdict[tuple[str, str], set[_Connection]] = defaultdict(set)
        inbox.register(CHANNEL, self.process, lambda d: f"{d.bot_id}/{d.payload['visitor']}")
        outbox.register(CHANNEL, self.deliver)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws/widget/{bot_id}``: check the bot and the origin, then talk."""
        bot_id = request.match_info["bot_id"]
        try:
            settings = await self._bots.settings(bot_id)
        except UnknownBot:
            raise web.HTTPNotFound(text="no such bot") from None
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, request, settings):
            log.info("widget socket for %s refused from origin %s", bot_id, origin[:100])
            raise web.HTTPForbidden(text="this website may not embed this bot")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        self._sockets.add(ws)
        connection = _Connection(ws, bot_id)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(connection, message.data)
                elif message.type is WSMsgType.BINARY:
                    await _error(connection, FrameError("bad_frame", "Frames are JSON text."))
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
                    "message": "Slow down a little.",
                    "retry_after": round(wait, 2),
                }
            )
            return
        try:
            frame = json.loads(data)
        except ValueError:
            frame = None
        try:
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("bad_frame", "A frame is a JSON object with a type.")
            await self._on_frame(connection, frame)
        except FrameError as exc:
            await _error(connection, exc)

    async def _on_frame(self, connection: _Connection, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            return await connection.send({"type": "pong"})
        if kind == "hello":
            return await self._hello(connection, frame)
        if connection.visitor is None:
            raise FrameError("hello_required", "Say hello first.")
        if kind == "typing":
            return None
        if kind not in ("message", "button", "voice"):
            raise FrameError("unknown_type", f"Unknown frame type {kind[:32]!r}.")
        frame_id = frame.get("id")
        if not isinstance(frame_id, str) or not 0 < len(frame_id) <= MAX_ID:
            raise FrameError("bad_frame", f"Every message needs an id of 1 to {MAX_ID} characters.")
        stored = await self._checked(connection, frame_id, frame)
        try:
            accepted = await self._inbox.accept(
                connection.bot_id,
                CHANNEL,
                f"{connection.visitor}:{frame_id}",
                {"visitor": connection.visitor, "frame": stored},
            )
        except StorageUnavailable:
            raise FrameError(
                "unavailable", "Couldn't save that; it will be sent again.", frame_id
            ) from None
        ack: dict[str, Any] = {"type": "ack", "id": frame_id}
        if not accepted:
            ack["duplicate"] = True
        await connection.send(ack)

    async def _checked(
        self, connection: _Connection, frame_id: str, frame: dict[str, Any]
    ) -> dict[str, Any]:
        """The frame as stored: fields checked, a voice note's audio saved to a file."""
        kind = frame["type"]
        if kind == "message":
            text = frame.get("text")
            if not isinstance(text, str) or not text.strip():
                raise FrameError("bad_frame", "A message needs some text.", frame_id)
            if len(text) > MAX_TEXT:
                raise FrameError(
                    "too_long", f"Messages can be up to {MAX_TEXT} characters.", frame_id
                )
            return {"type": kind, "id": frame_id, "text": text}
        if kind == "button":
            payload, label = frame.get("payload"), frame.get("label", "")
            if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD:
                raise FrameError("bad_frame", "A button press needs its payload.", frame_id)
            label = label[:MAX_PAYLOAD] if isinstance(label, str) else ""
            return {"type": kind, "id": frame_id, "payload": payload, "label": label}
        mime, data = frame.get("mime"), frame.get("data")
        if not isinstance(mime, str) or not mime.startswith("audio/") or not isinstance(data, str):
            raise FrameError(
                "bad_frame", "A voice note needs an audio mime type and data.", frame_id
            )
        try:
            audio = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise FrameError(
                "bad_frame", "The voice note's data is not base64.", frame_id
            ) from None
        if not audio or len(audio) > self._max_voice:
            limit = self._max_voice / 2**20
            raise FrameError("too_long", f"Voice notes can be up to {limit:.0f} MB.", frame_id)
        assert connection.visitor is not None
        path = self._voice_dir / f"{connection.visitor}-{_safe(frame_id)}.audio"
        await asyncio.to_thread(_write, path, audio)
        return {
            "type": kind,
            "id": frame_id,
            "mime": mime[:100],
            "file": str(path),
            "size": len(audio),
        }

    async def _hello(self, connection: _Connection, frame: dict[str, Any]) -> None:
        bot_id = connection.bot_id
        token, last_seq = frame.get("session"), frame.get("last_seq", 0)
        if not isinstance(last_seq, int) or last_seq < 0:
            last_seq = 0
        visitor = None
        if isinstance(token, str) and token:
            try:
                visitor = self._sessions.verify(token, bot_id)
            except SessionRejected as exc:
                message = (
                    "Your session expired."
                    if exc.code == "session_expired"
                    else "Starting a new session."
                )
                await _error(connection, FrameError(exc.code, message))
                last_seq = 0
        if visitor is None:
            token, visitor = self._sessions.issue(bot_id)
        if connection.visitor is not None:
            self._visitors[(bot_id, connection.visitor)].discard(connection)
        connection.visitor = visitor
        self._visitors[(bot_id, visitor)].add(connection)
        bot = await self._bots.get(bot_id)
        settings = await self._bots.settings(bot_id)
        theme = {**DEFAULT_THEME, **settings.get("widget", {})}
        latest, missed = await self._log.since(bot_id, visitor, last_seq)
        await connection.send(
            {
                "type": "welcome",
                "session": token,
                "visitor": visitor,
                "seq": latest,
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
        )
        for stored in missed:
            await connection.send(stored)

    async def process(self, delivery: Delivery) -> None:
        """Run one stored visitor message through the engine and deliver the replies."""
        visitor, frame = delivery.payload["visitor"], delivery.payload["frame"]
        bot_id, frame_id = delivery.bot_id, frame["id"]
        key = (bot_id, visitor)
        said = await self._log.append(bot_id, visitor, "said", [_said(frame)], ref=frame_id)
        await self._push(key, said)
        await self._push(key, [{"type": "typing", "on": True}])

        async def notify(progress: OutboundMessage) -> None:
            await self._push(
                key, [{"type": "progress", "reply_to": frame_id, "text": progress.text}]
            )

        async def stream(delta: str) -> None:
            await self._push(key, [{"type": "delta", "reply_to": frame_id, "text": delta}])

        try:
            replies = await self._engine.handle(_inbound(bot_id, visitor, frame), notify, stream)
            frames = [self._reply(r, frame_id) for r in replies]
            stored = await self._log.append(bot_id, visitor, "reply", frames, ref=frame_id)
            await self._push(key, stored)
        finally:
            await self._push(key, [{"type": "typing", "on": False}])

    async def deliver(self, address: Address, messages: Sequence[OutboundMessage]) -> None:
        """The outbox's sender: content finished later, numbered and pushed."""
        frames = [self._reply(m, None) for m in messages]
        stored = await self._log.append(address.bot_id, address.sender_id, "push", frames)
        await self._push((address.bot_id, address.sender_id), stored)

    async def close(self) -> None:
        """Close every socket with 1001 (going away): the widgets reconnect elsewhere."""
        sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
            return_exceptions=True,
        )

    async def _push(self, key: tuple[str, str], frames: Sequence[dict[str, Any]]) -> None:
        for connection in list(self._visitors.get(key, ())):
            for frame in frames:
                await connection.send(frame)

    def _reply(self, message: OutboundMessage, reply_to: str | None) -> dict[str, Any]:
        body = message.to_dict()
        for field in ("audio", "document"):
            media: Media | None = getattr(message, field)
            if media is not None:
                body[field] = {
                    "url": self._media.link(media.reference),
                    "mime": media.mime_type,
                    "filename": media.filename,
                    "duration_seconds": media.duration_seconds,
                }
        frame: dict[str, Any] = {"type": "reply", "message": body}
        if reply_to is not None:
            frame["reply_to"] = reply_to
        return frame

    def _origin_allowed(self, origin: str, request: web.Request, settings: dict[str, Any]) -> bool:
        allowed = {self._public_origin, _origin(f"{request.scheme}://{request.host}")}
        allowed.update(settings.get("allowed_origins", []))
        return _origin(origin) in allowed


def _inbound(bot_id: str, visitor: str, frame: dict[str, Any]) -> InboundMessage:
    common: dict[str, Any] = {
        "channel": Channel.WIDGET,
        "bot_id": bot_id,
        "sender_id": visitor,
        "platform_message_id": frame["id"],
    }
    if frame["type"] == "button":
        return InboundMessage(button_payload=frame["payload"], **common)
    if frame["type"] == "voice":
        note = Attachment(
            kind=AttachmentKind.VOICE,
            mime_type=frame["mime"],
            size=frame["size"],
            reference=Path(frame["file"]).as_uri(),
        )
        return InboundMessage(attachments=(note,), **common)
    command, args = parse_command(frame["text"])
    return InboundMessage(text=frame["text"], command=command, command_args=args, **common)


def _said(frame: dict[str, Any]) -> dict[str, Any]:
    text = {"message": frame.get("text"), "button": frame.get("label"), "voice": "🎙 Voice note"}
    return {"type": "said", "id": frame["id"], "text": text[frame["type"]] or frame.get("payload")}


async def _error(connection: _Connection, error: FrameError) -> None:
    frame = {"type": "error", "code": error.code, "message": error.message}
    if error.frame_id is not None:
        frame["id"] = error.frame_id
    await connection.send(frame)


def _origin(value: str) -> str:
    return normalise_origin(value) or value


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(data)
    temporary.replace(path)
