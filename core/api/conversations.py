"""``/api/v1/bots/{bot_id}/users`` and ``/conversations``: who talks to a bot and what
was said, a page at a time (keyset cursors: a page costs the same however deep)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.api.common import (
    API,
    Page,
    PageQuery,
    keyset,
    not_found,
    owned_bot,
    owned_row,
    path_id,
    services,
)
from core.api.spec import Call, Moment
from core.storage.models import ChannelIdentity, Conversation, EndUser, Message


class ChannelOut(BaseModel):
    channel: str
    external_id: str
    reachable: bool


class UserOut(BaseModel):
    id: int
    display_name: str | None
    language: str | None
    voice_enabled: bool
    channels: list[ChannelOut]
    created_at: Moment


class ConversationOut(BaseModel):
    id: int
    user: UserOut
    state: str = Field(description="greeting, chat, a guided-creation step, paywall, handoff…")
    created_at: Moment
    updated_at: Moment


class MessageOut(BaseModel):
    id: int
    direction: Literal["in", "out"]
    channel: str
    state: str = Field(description="the conversation's state after this message")
    text: str
    payload: dict[str, Any] = Field(description="buttons, sources, audio… as stored")
    reply_to_id: int | None
    created_at: Moment


class UserPage(Page[UserOut]):
    pass


class ConversationPage(Page[ConversationOut]):
    pass


class MessagePage(Page[MessageOut]):
    pass


class ConversationsQuery(PageQuery):
    state: str | None = Field(
        default=None, min_length=1, max_length=32, description="only in this state"
    )


class MessagesQuery(PageQuery):
    order: Literal["asc", "desc"] = Field(default="asc", description="oldest or newest first")


async def _channels(session: AsyncSession, user_ids: list[int]) -> dict[int, list[ChannelOut]]:
    found: dict[int, list[ChannelOut]] = defaultdict(list)
    if user_ids:
        rows = await session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.end_user_id.in_(user_ids))
            .order_by(ChannelIdentity.id)
        )
        for row in rows:
            found[row.end_user_id].append(
                ChannelOut(
                    channel=row.channel, external_id=row.external_id, reachable=row.reachable
                )
            )
    return found


def _user(user: EndUser, channels: dict[int, list[ChannelOut]]) -> UserOut:
    return UserOut(
        id=user.id,
        display_name=user.display_name,
        language=user.language,
        voice_enabled=user.voice_enabled,
        channels=channels.get(user.id, []),
        created_at=user.created_at,
    )


@API.route(
    "GET", "/bots/{bot_id}/users", summary="A bot's end users, newest first",
    tag="conversations", scope="conversations:read", query=PageQuery,
    response=UserPage, errors=(404,),
)  # fmt: skip
async def list_users(call: Call) -> UserPage:
    profile = await owned_bot(call)
    query: PageQuery = call.query
    statement = select(EndUser).where(EndUser.bot_id == profile.id)
    async with services(call).db.read() as session:
        users, cursor = await keyset(session, statement, query, EndUser.id)
        channels = await _channels(session, [u.id for u in users])
    return UserPage(items=[_user(u, channels) for u in users], next_cursor=cursor)


@API.route(
    "GET", "/bots/{bot_id}/users/{user_id}", summary="One end user of a bot's",
    tag="conversations", scope="conversations:read", response=UserOut, errors=(404,),
)  # fmt: skip
async def get_user(call: Call) -> UserOut:
    _, user = await owned_row(call, EndUser, "user_id")
    async with services(call).db.read() as session:
        return _user(user, await _channels(session, [user.id]))


@API.route(
    "GET", "/bots/{bot_id}/conversations",
    summary="A bot's conversations, the most recently active first",
    tag="conversations", scope="conversations:read", query=ConversationsQuery,
    response=ConversationPage, errors=(404,),
)  # fmt: skip
async def list_conversations(call: Call) -> ConversationPage:
    profile = await owned_bot(call)
    query: ConversationsQuery = call.query
    statement = select(Conversation).where(Conversation.bot_id == profile.id)
    if query.state:
        statement = statement.where(Conversation.state == query.state)
    async with services(call).db.read() as session:
        conversations, cursor = await keyset(
            session, statement, query, Conversation.updated_at, Conversation.id
        )
        ids = [c.end_user_id for c in conversations]
        users = {u.id: u for u in await session.scalars(select(EndUser).where(EndUser.id.in_(ids)))}
        channels = await _channels(session, ids)
    items = [_conversation(c, users[c.end_user_id], channels) for c in conversations]
    return ConversationPage(items=items, next_cursor=cursor)


def _conversation(
    conversation: Conversation, user: EndUser, channels: dict[int, list[ChannelOut]]
) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        user=_user(user, channels),
        state=conversation.state,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


async def _owned_conversation(call: Call, session: AsyncSession) -> tuple[Conversation, EndUser]:
    profile = await owned_bot(call)
    row = (
        await session.execute(
            select(Conversation, EndUser)
            .join(EndUser, EndUser.id == Conversation.end_user_id)
            .where(
                Conversation.id == path_id(call, "conversation_id"),
                Conversation.bot_id == profile.id,
            )
        )
    ).first()
    if row is None:
        raise not_found("conversation")
    return row[0], row[1]


@API.route(
    "GET", "/bots/{bot_id}/conversations/{conversation_id}", summary="One conversation",
    tag="conversations", scope="conversations:read", response=ConversationOut, errors=(404,),
)  # fmt: skip
async def get_conversation(call: Call) -> ConversationOut:
    async with services(call).db.read() as session:
        conversation, user = await _owned_conversation(call, session)
        channels = await _channels(session, [user.id])
    return _conversation(conversation, user, channels)


@API.route(
    "GET", "/bots/{bot_id}/conversations/{conversation_id}/messages",
    summary="A conversation's messages, oldest first (or newest with order=desc)",
    tag="conversations", scope="conversations:read", query=MessagesQuery,
    response=MessagePage, errors=(404,),
)  # fmt: skip
async def list_messages(call: Call) -> MessagePage:
    query: MessagesQuery = call.query
    async with services(call).db.read() as session:
        conversation, _ = await _owned_conversation(call, session)
        statement = select(Message).where(Message.conversation_id == conversation.id)
        messages, cursor = await keyset(
            session, statement, query, Message.id, newest_first=query.order == "desc"
        )
    return MessagePage(
        items=[MessageOut.model_validate(m, from_attributes=True) for m in messages],
        next_cursor=cursor,
    )
