"""The Bot API wire format for the fake Telegram server: its records, errors and codecs.

Plain data the fake keeps (:class:`FakeBot`, :class:`Webhook`, :class:`StoredFile`, each
answered request as a :class:`Call`), the error answer (:class:`ApiError`, with
:func:`bad_request` for Telegram's usual 400s), and pure functions that read a request's
parameters the way Telegram does (query string, urlencoded, multipart or JSON; JSON-typed
form fields decoded, ``attach://`` uploads matched to their parameter), check and echo
text and inline keyboards, read uploaded photos as the server does, and shape media
objects. Nothing here holds server state;
:mod:`tests.fakes.telegram_methods` and :mod:`tests.fakes.telegram_api` do.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.fakes.telegram_updates import bot_user

# Form fields are strings on the wire; these stay strings, the rest are decoded as JSON.
_STRING_FIELDS = frozenset(
    """text caption parse_mode url secret_token callback_query_id file_id inline_message_id
    action title performer language_code ip_address business_connection_id voice audio
    document photo thumbnail""".split()
)
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


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
        """The JSON answer: ``ok: false``, the code, the description, and ``parameters``
        with ``retry_after`` when the caller should wait."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 worded as Telegram words it: ``Bad Request: <detail>``."""
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
        """The ``chat_id`` parameter, if the call had a usable one."""
        chat_id = self.params.get("chat_id")
        return chat_id if isinstance(chat_id, int | str) else None

    @property
    def result(self) -> Any:
        """The ``result`` of the answer (``None`` for an error)."""
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
        """The bot as a ``User`` object, as getMe and a message's ``from`` show it."""
        return bot_user(self.id, username=self.username, first_name=self.first_name)


@dataclass(slots=True)
class Fault:
    """An injected failure: answer the next ``remaining`` calls of ``method`` (any if
    ``None``) to ``chat_id`` (any if ``None``) with ``error``."""

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


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
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


def checked_text(params: dict[str, Any]) -> str:
    """The ``text`` of a send or edit, refused as Telegram refuses it: empty, over 4096
    characters, or with an unknown ``parse_mode``."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > 4096:
        raise bad_request("message is too long")
    mode = params.get("parse_mode")
    if mode is not None and str(mode).lower() not in {"html", "markdown", "markdownv2"}:
        raise bad_request(f"unsupported parse_mode {mode}")
    return text


def inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
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


#: the largest photo size Telegram keeps, on the long side
PHOTO_SIDE = 1280


def photo_size(data: bytes) -> tuple[int, int]:
    """The width and height of an uploaded photo; refused as Telegram refuses photos it
    cannot read, or whose sides add up to more than 10,000 or differ more than 20-fold."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    if width + height > 10_000 or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


def media_shape(
    kind: str, stored: StoredFile, params: dict[str, Any], size: tuple[int, int] | None = None
) -> Any:
    """The ``voice``, ``audio``, ``document`` or ``photo`` field of a sent message; a
    photo's ``size`` is what was uploaded (kept at most :data:`PHOTO_SIDE` on the long
    side, as Telegram keeps it)."""
    ids = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    duration = int(params.get("duration", 1))
    if kind == "voice":
        return {"duration": duration, "mime_type": "audio/ogg", **ids}
    if kind == "photo":
        width, height = size or (PHOTO_SIDE, 960)
        scale = min(1.0, PHOTO_SIDE / max(width, height))
        return [{**ids, "width": round(width * scale), "height": round(height * scale)}]
    shape: dict[str, Any] = {"mime_type": stored.mime_type or "application/octet-stream"}
    if stored.file_name:
        shape["file_name"] = stored.file_name
    if kind == "audio":
        shape["duration"] = duration
        shape.update({k: params[k] for k in ("title", "performer") if params.get(k)})
    return {**shape, **ids}


def update_allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
    """Whether a bot asking for ``allowed`` update types gets ``update``; an empty or
    missing list means every type but the ones Telegram leaves out by default."""
    kind = next((k for k in update if k != "update_id"), "")
    return kind in allowed if allowed else kind not in _NOT_DEFAULT_UPDATES


def scope_key(params: dict[str, Any]) -> tuple[str, str]:
    """Where set/get/deleteMyCommands keep a command list: scope JSON and language."""
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def file_suffix(file_name: str | None) -> str:
    """The lower-cased extension of ``file_name`` with its dot, or ``""``."""
    if not file_name or "." not in file_name:
        return ""
    return "." + file_name.rsplit(".", 1)[-1].lower()
