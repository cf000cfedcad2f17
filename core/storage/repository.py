"""Queries the engine and the CLI run, each on a session its caller owns.

Functions here never open transactions themselves: the caller decides what commits
together, so a conversation turn (inbound message, replies, new state, delivery record)
is stored atomically or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import OutboundMessage
from core.storage.models import (
    ChannelIdentity,
    ContentItem,
    Conversation,
    EndUser,
    Message,
    ProcessedDelivery,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Party:
    """The end user behind a channel identity and their conversation with the bot."""

    end_user_id: int
    conversation_id: int
    state: str
    context: dict[str, Any]
    language: str | None
    voice_enabled: bool


async def stored_replies(
    session: AsyncSession, bot_id: str, channel: str, platform_message_id: str
) -> list[OutboundMessage] | None:
    """The replies already given to a delivery, or ``None`` if it was never handled."""
    inbound_id = await session.scalar(
        select(ProcessedDelivery.message_id).where(
            ProcessedDelivery.bot_id == bot_id,
            ProcessedDelivery.channel == channel,
            ProcessedDelivery.platform_message_id == platform_message_id,
        )
    )
    if inbound_id is None:
        return None
    payloads = await session.scalars(
        select(Message.payload).where(Message.reply_to_id == inbound_id).order_by(Message.id)
    )
    return [OutboundMessage.from_dict(p) for p in payloads]


async def find_party(
    session: AsyncSession, bot_id: str, channel: str, external_id: str
) -> Party | None:
    """Look up the end user and conversation for a channel identity."""
    row = (
        await session.execute(
            select(
                EndUser.id,
                Conversation.id,
                Conversation.state,
                Conversation.context,
                EndUser.language,
                EndUser.voice_enabled,
            )
            .join(ChannelIdentity, ChannelIdentity.end_user_id == EndUser.id)
            .join(Conversation, Conversation.end_user_id == EndUser.id)
            .where(
                ChannelIdentity.bot_id == bot_id,
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_id == external_id,
            )
        )
    ).one_or_none()
    return Party(*row) if row else None


async def create_party(
    session: AsyncSession,
    *,
    bot_id: str,
    channel: str,
    external_id: str,
    display_name: str | None,
    language: str | None,
    state: str,
) -> Party:
    """Create an end user, their channel identity and an empty conversation."""
    user = EndUser(bot_id=bot_id, display_name=display_name, language=language)
    session.add(user)
    await session.flush()
    conversation = Conversation(bot_id=bot_id, end_user_id=user.id, state=state, context={})
    session.add_all(
        [
            ChannelIdentity(
                bot_id=bot_id, channel=channel, external_id=external_id, end_user_id=user.id
            ),
            conversation,
        ]
    )
    await session.flush()
    return Party(user.id, conversation.id, state, {}, language, False)


async def update_end_user(session: AsyncSession, end_user_id: int, **values: Any) -> None:
    """Change an end user's preferences (language, voice)."""
    await session.execute(update(EndUser).where(EndUser.id == end_user_id).values(**values))


async def record_turn(
    session: AsyncSession,
    *,
    party: Party,
    channel: str,
    bot_id: str,
    inbound_text: str,
    inbound_payload: dict[str, Any],
    platform_message_id: str | None,
    state: str,
    context: dict[str, Any],
    replies: Sequence[OutboundMessage],
) -> int:
    """Store one turn: the inbound message, its replies, the new state and the delivery."""
    inbound = Message(
        conversation_id=party.conversation_id,
        direction="in",
        channel=channel,
        state=state,
        text=inbound_text,
        payload=inbound_payload,
    )
    session.add(inbound)
    await session.flush()
    session.add_all(
        Message(
            conversation_id=party.conversation_id,
            direction="out",
            channel=channel,
            state=state,
            text=reply.text,
            payload=reply.to_dict(),
            reply_to_id=inbound.id,
        )
        for reply in replies
    )
    if platform_message_id is not None:
        session.add(
            ProcessedDelivery(
                bot_id=bot_id,
                channel=channel,
                platform_message_id=platform_message_id,
                message_id=inbound.id,
            )
        )
    if state != party.state or context != party.context:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == party.conversation_id)
            .values(state=state, context=context, updated_at=utcnow())
        )
    await session.flush()
    return inbound.id


async def add_content(
    session: AsyncSession,
    *,
    bot_id: str,
    end_user_id: int,
    content_type: str,
    title: str,
    parameters: dict[str, Any],
    text: str,
) -> None:
    """Save a finished piece of content to the end user's library."""
    session.add(
        ContentItem(
            bot_id=bot_id,
            end_user_id=end_user_id,
            content_type=content_type,
            title=title,
            parameters=parameters,
            text=text,
        )
    )


async def library(session: AsyncSession, end_user_id: int, limit: int = 20) -> list[ContentItem]:
    """The end user's content, newest first."""
    rows = await session.scalars(
        select(ContentItem)
        .where(ContentItem.end_user_id == end_user_id)
        .order_by(ContentItem.id.desc())
        .limit(limit)
    )
    return list(rows)


async def conversation_messages(session: AsyncSession, conversation_id: int) -> list[Message]:
    """Every message of a conversation in the order it was stored."""
    rows = await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )
    return list(rows)
