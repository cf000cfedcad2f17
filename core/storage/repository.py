"""Queries the engine and the CLI run, each on a session its caller owns.

Functions here never open transactions themselves: the caller decides what commits
together, so a conversation turn (inbound message, replies, new state, delivery record)
is stored atomically or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import OutboundMessage
from core.storage.models import (
    ChannelIdentity,
    ContentItem,
    ContentJob,
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
    version: int = 0
    voice_preferences: dict[str, Any] = field(default_factory=dict)
    # "chosen", "platform" or "detected" (see core.conversation.languages); None: unknown
    language_source: str | None = None


async def lookup(
    session: AsyncSession,
    bot_id: str,
    channel: str,
    external_id: str,
    platform_message_id: str | None,
) -> tuple[int | None, Party | None]:
    """In one query: the inbound message that already answered this delivery (if any) and
    the end user and conversation behind the channel identity (if known)."""
    handled = (
        select(ProcessedDelivery.message_id)
        .where(
            ProcessedDelivery.bot_id == bot_id,
            ProcessedDelivery.channel == channel,
            ProcessedDelivery.platform_message_id == platform_message_id,
        )
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(
                handled if platform_message_id is not None else literal(None),
                EndUser.id,
                Conversation.id,
                Conversation.state,
                Conversation.context,
                EndUser.language,
                EndUser.voice_enabled,
                Conversation.version,
                EndUser.voice_preferences,
                EndUser.language_source,
            )
            .select_from(ChannelIdentity)
            .join(EndUser, ChannelIdentity.end_user_id == EndUser.id)
            .join(Conversation, Conversation.end_user_id == EndUser.id)
            .where(
                ChannelIdentity.bot_id == bot_id,
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_id == external_id,
            )
        )
    ).one_or_none()
    if row is not None:
        return row[0], Party(*row[1:])
    if platform_message_id is None:
        return None, None
    # a first contact: the delivery can only have been handled for another sender
    return await session.scalar(select(handled)), None


async def replies_to(session: AsyncSession, inbound_id: int) -> list[OutboundMessage]:
    """The stored replies to an inbound message, in the order they were given."""
    payloads = await session.scalars(
        select(Message.payload).where(Message.reply_to_id == inbound_id).order_by(Message.id)
    )
    return [OutboundMessage.from_dict(p) for p in payloads]


async def find_party(
    session: AsyncSession, bot_id: str, channel: str, external_id: str
) -> Party | None:
    """The end user and conversation for a channel identity, if known."""
    return (await lookup(session, bot_id, channel, external_id, None))[1]


async def create_party(
    session: AsyncSession,
    *,
    bot_id: str,
    channel: str,
    external_id: str,
    display_name: str | None,
    language: str | None,
    state: str,
    timezone: str | None = None,
    language_source: str | None = None,
) -> Party:
    """Create an end user, their channel identity and an empty conversation."""
    user = EndUser(
        bot_id=bot_id,
        display_name=display_name,
        language=language,
        language_source=language_source,
        timezone=timezone,
    )
    session.add(user)
    await session.flush()
    conversation = Conversation(
        bot_id=bot_id, end_user_id=user.id, state=state, context={}, version=0
    )
    session.add_all(
        [
            ChannelIdentity(
                bot_id=bot_id, channel=channel, external_id=external_id, end_user_id=user.id
            ),
            conversation,
        ]
    )
    await session.flush()
    return Party(
        user.id, conversation.id, state, {}, language, False, 0, language_source=language_source
    )


async def set_reachable(
    session: AsyncSession, bot_id: str, channel: str, external_id: str, reachable: bool
) -> bool:
    """Mark a channel identity (un)reachable; False if there is no such identity."""
    result = await session.execute(
        update(ChannelIdentity)
        .where(
            ChannelIdentity.bot_id == bot_id,
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
        )
        .values(reachable=reachable)
    )
    return bool(getattr(result, "rowcount", 0))


async def is_reachable(session: AsyncSession, bot_id: str, channel: str, external_id: str) -> bool:
    """Whether a user can be sent to (False once they blocked the bot; True if unknown)."""
    reachable = await session.scalar(
        select(ChannelIdentity.reachable).where(
            ChannelIdentity.bot_id == bot_id,
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
        )
    )
    return reachable is not False


async def update_end_user(session: AsyncSession, end_user_id: int, **values: Any) -> None:
    """Change an end user's preferences (language, voice)."""
    await session.execute(update(EndUser).where(EndUser.id == end_user_id).values(**values))


async def add_content(
    session: AsyncSession,
    *,
    bot_id: str,
    end_user_id: int,
    content_type: str,
    title: str,
    parameters: dict[str, Any],
    text: str,
    audio: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> int:
    """Save a finished piece of content to the end user's library; its id."""
    item = ContentItem(
        bot_id=bot_id,
        end_user_id=end_user_id,
        content_type=content_type,
        title=title,
        parameters=parameters,
        text=text,
        audio=audio or {},
        job_id=job_id,
    )
    session.add(item)
    await session.flush()
    return item.id


async def add_job(session: AsyncSession, job: ContentJob) -> None:
    """Record a confirmed content request (with the turn that confirmed it)."""
    session.add(job)


async def get_job(session: AsyncSession, job_id: str) -> ContentJob | None:
    """A content job by id."""
    return await session.get(ContentJob, job_id)


async def unfinished_jobs(session: AsyncSession) -> list[str]:
    """Ids of the content jobs that were accepted but neither delivered nor failed."""
    rows = await session.scalars(
        select(ContentJob.id)
        .where(ContentJob.status.in_(("queued", "running")))
        .order_by(ContentJob.created_at)
    )
    return list(rows)


async def job_backlog(session: AsyncSession) -> tuple[dict[str, int], datetime | None]:
    """How many content jobs are queued and running, and when the oldest was created."""
    rows = await session.execute(
        select(ContentJob.status, func.count(), func.min(ContentJob.created_at))
        .where(ContentJob.status.in_(("queued", "running")))
        .group_by(ContentJob.status)
    )
    counts = {"queued": 0, "running": 0}
    oldest: datetime | None = None
    for status, count, first in rows:
        counts[status] = count
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            oldest = first if oldest is None else min(oldest, first)
    return counts, oldest


async def set_job(session: AsyncSession, job_id: str, **values: Any) -> None:
    """Change a content job's status (and reservation, attempts, error)."""
    await session.execute(
        update(ContentJob).where(ContentJob.id == job_id).values(updated_at=utcnow(), **values)
    )


async def content_for_job(session: AsyncSession, job_id: str) -> ContentItem | None:
    """The library item a job produced, if it got that far."""
    return await session.scalar(select(ContentItem).where(ContentItem.job_id == job_id))


async def library(session: AsyncSession, end_user_id: int, limit: int = 20) -> list[ContentItem]:
    """The end user's content, newest first."""
    rows = await session.scalars(
        select(ContentItem)
        .where(ContentItem.end_user_id == end_user_id)
        .order_by(ContentItem.id.desc())
        .limit(limit)
    )
    return list(rows)


async def recent_turns(
    session: AsyncSession, conversation_id: int, limit: int = 12
) -> list[tuple[str, str]]:
    """The last ``limit`` messages with text, oldest first, as (direction, text)."""
    rows = await session.execute(
        select(Message.direction, Message.text)
        .where(Message.conversation_id == conversation_id, Message.text != "")
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [(direction, text) for direction, text in reversed(rows.all())]


async def conversation_messages(session: AsyncSession, conversation_id: int) -> list[Message]:
    """Every message of a conversation in the order it was stored."""
    rows = await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )
    return list(rows)
