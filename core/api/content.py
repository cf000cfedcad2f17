"""``/api/v1/bots/{bot_id}/content``: the personalised content a bot made for its users
(their libraries), with expiring signed links to the recordings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from core.api.common import (
    API,
    MAX_ID,
    Page,
    PageQuery,
    keyset,
    owned_bot,
    owned_row,
    services,
)
from core.api.spec import Call, Moment
from core.storage.media import MediaStore
from core.storage.models import ContentItem


class Recording(BaseModel):
    duration: float | None = Field(description="seconds")
    links: dict[str, str] = Field(description="a signed, expiring URL per audio format")


class ContentOut(BaseModel):
    id: int
    user_id: int
    content_type: str = Field(description="meditation, affirmations, ritual…")
    title: str
    parameters: dict[str, Any] = Field(description="what the user asked for")
    text: str
    recording: Recording | None
    created_at: Moment


class ContentPage(Page[ContentOut]):
    pass


class ContentQuery(PageQuery):
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="only this user's library"
    )
    content_type: str | None = Field(default=None, min_length=1, max_length=32)


def _recording(audio: dict[str, Any], store: MediaStore, base_url: str) -> Recording | None:
    links: dict[str, str] = {}
    for audio_format, reference in audio.items():
        if isinstance(reference, str):
            try:
                links[audio_format] = store.link(reference, base_url)
            except ValueError:
                continue
    if not links:
        return None
    duration = audio.get("duration")
    return Recording(duration=float(duration) if duration else None, links=links)


def _content(call: Call, item: ContentItem) -> ContentOut:
    svc = services(call)
    return ContentOut(
        id=item.id,
        user_id=item.end_user_id,
        content_type=item.content_type,
        title=item.title,
        parameters=item.parameters,
        text=item.text,
        recording=_recording(item.audio, svc.media, svc.settings.public_base_url),
        created_at=item.created_at,
    )


@API.route(
    "GET", "/bots/{bot_id}/content", summary="Content a bot made, newest first",
    tag="content", scope="conversations:read", query=ContentQuery, response=ContentPage,
    errors=(404,),
)  # fmt: skip
async def list_content(call: Call) -> ContentPage:
    profile = await owned_bot(call)
    query: ContentQuery = call.query
    statement = select(ContentItem).where(ContentItem.bot_id == profile.id)
    if query.user_id is not None:
        statement = statement.where(ContentItem.end_user_id == query.user_id)
    if query.content_type:
        statement = statement.where(ContentItem.content_type == query.content_type)
    async with services(call).db.read() as session:
        items, cursor = await keyset(session, statement, query, ContentItem.id)
    return ContentPage(items=[_content(call, item) for item in items], next_cursor=cursor)


@API.route(
    "GET", "/bots/{bot_id}/content/{content_id}", summary="One piece of content",
    tag="content", scope="conversations:read", response=ContentOut, errors=(404,),
)  # fmt: skip
async def get_content(call: Call) -> ContentOut:
    _, item = await owned_row(call, ContentItem, "content_id")
    return _content(call, item)
