"""``/api/v1/bots/{bot_id}/ambience``: the soft bed under the voice of a bot's recorded
content (rain, a pad of low tones, or the creator's own music), off by default."""

from __future__ import annotations

from typing import Literal

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from bots.ambience import AmbienceError
from core.api.common import API, Strict, owned_bot, services
from core.api.spec import ApiError, Call, unreadable
from core.errors import UnusableMusic
from core.voice.ambience import MAX_MUSIC_BYTES, AmbienceChoice
from core.voice.beds import MAX_LEVEL_DB, MIN_LEVEL_DB

CHUNK = 64 * 1024
_MALFORMED = (ValueError, RuntimeError, AssertionError, KeyError, HttpProcessingError)
Kind = Literal["off", "rain", "pad", "music"]


class AmbienceOut(BaseModel):
    kind: Kind = Field(description="what plays under the voice; `off`: the voice alone")
    level: float | None = Field(
        description="dB under the voice's speech (it rises a little in the pauses)"
    )
    music_name: str | None = Field(default=None, description="the uploaded music's file name")
    music_seconds: float | None = Field(default=None, description="its length (it is looped)")


class AmbienceChange(Strict):
    """What to change; what is left out stays as it is."""

    kind: Kind | None = Field(
        default=None, description="`music` once a file was uploaded; `off` forgets the file"
    )
    level: float | None = Field(default=None, ge=MIN_LEVEL_DB, le=MAX_LEVEL_DB, examples=[-22])


def _out(choice: AmbienceChoice | None) -> AmbienceOut:
    if choice is None:
        return AmbienceOut(kind="off", level=None)
    return AmbienceOut(
        kind=choice.kind,  # one of KINDS, checked when the choice was made
        level=choice.level,
        music_name=choice.music_name or None,
        music_seconds=choice.music_seconds or None,
    )


@API.route(
    "GET", "/bots/{bot_id}/ambience", summary="What plays under the voice of a bot's recordings",
    tag="bots", scope="bots:read", response=AmbienceOut, errors=(404,),
)  # fmt: skip
async def get_ambience(call: Call) -> AmbienceOut:
    profile = await owned_bot(call)
    return _out(await services(call).ambience.current(profile.id))


@API.route(
    "PUT", "/bots/{bot_id}/ambience", summary="Choose the bed under a bot's recorded voice",
    tag="bots", scope="bots:write", body=AmbienceChange, response=AmbienceOut, errors=(404,),
)  # fmt: skip
async def change_ambience(call: Call) -> AmbienceOut:
    profile = await owned_bot(call)
    body: AmbienceChange = call.body
    try:
        choice = await services(call).ambience.choose(profile.id, body.kind, body.level)
    except AmbienceError as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    return _out(choice)


@API.route(
    "PUT",
    "/bots/{bot_id}/ambience/music",
    summary="Upload music (the multipart field file: MP3, OGG, WAV, M4A, FLAC; 10 s to "
    "30 min) to play under a bot's recorded voice",
    tag="bots",
    scope="bots:write",
    response=AmbienceOut,
    errors=(404, 413, 415),
    upload=True,
)
async def upload_ambience_music(call: Call) -> AmbienceOut:
    profile = await owned_bot(call)
    request = call.request
    if request.content_type != "multipart/form-data":
        raise ApiError(
            415, "Unsupported Media Type", "send multipart/form-data with the file in `file`"
        )
    if request.content_length is not None and request.content_length > MAX_MUSIC_BYTES + CHUNK:
        raise _too_large()
    filename, mime_type, data = await _receive(request)
    try:
        choice = await services(call).ambience.upload_music(
            profile.id, data, filename=filename, mime_type=mime_type
        )
    except UnusableMusic as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    return _out(choice)


async def _receive(request: web.Request) -> tuple[str, str | None, bytes]:
    """The multipart field ``file``: its name, type and bytes (refused past the limit)."""
    received: tuple[str, str | None, bytes] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if received is None and isinstance(part, BodyPartReader) and part.name == "file":
                data = bytearray()
                while chunk := await part.read_chunk(CHUNK):
                    data += chunk
                    if len(data) > MAX_MUSIC_BYTES:
                        raise _too_large()
                mime_type = part.headers.get("Content-Type")
                received = (part.filename or "music", mime_type, bytes(data))
            else:
                await part.release()
    except _MALFORMED as exc:
        detail = f"the multipart body is malformed ({unreadable(exc)})"
        raise ApiError(400, "Bad Request", detail) from None
    if received is None:
        raise ApiError(422, "Unprocessable Content", "the multipart body has no `file` field")
    return received


def _too_large() -> ApiError:
    return ApiError(413, "Payload Too Large", f"music is limited to {MAX_MUSIC_BYTES // 2**20} MB")
