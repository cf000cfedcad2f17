"""Stores conversation turns, many at a time: group commit for the engine's hot path.

Every turn (inbound message, replies, new state, delivery record, new user, content) must be stored
atomically before the engine returns its replies. Writing each turn in its own transaction costs a
handful of database round trips per message; under load the :class:`TurnWriter` instead collects the
turns that arrive while a transaction is running and stores them together in the next one (group
commit, with :class:`core.batching.Batcher`). A turn that breaks the batch (a duplicate
delivery stored by another process, say) is retried on its own, so one bad turn never fails the
others. Callers wait until their own turn is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.conversation.turn import CreatedContent
from core.errors import StaleConversation, StorageUnavailable
from core.messages import OutboundMessage
from core.runtime import integrations
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.models import ContentJob, Conversation, Message, ProcessedDelivery, utcnow
from core.storage.repository import Party

MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class NewJob:
    """A confirmed content request to store with the turn, for the studio to run."""

    id: str
    content_type: str
    parameters: dict[str, Any]
    language: str | None
    hold: str | None = None  # the credits reserved for it


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """Everything one handled message changes, to be stored in one go."""

    bot_id: str
    channel: str
    sender_id: str
    party: Party | None  # None: a new end user, created with the turn
    inbound_text: str
    inbound_payload: dict[str, Any]
    platform_message_id: str | None
    state: str
    context: dict[str, Any]
    replies: Sequence[OutboundMessage]
    sender_name: str | None = None
    language: str | None = None
    # a new user's time zone, as their device reports it
    timezone: str | None = None
    user_updates: dict[str, Any] = field(default_factory=dict)
    # finished content to add to the user's library with the turn
    content: CreatedContent | None = None
    job: NewJob | None = None
    # False for the engine's own turns (a finished job): replies without a user message
    inbound: bool = True
    # events for the creator's outgoing webhooks (with the user's ids added)
    announced: Sequence[tuple[str, dict[str, Any]]] = ()


class TurnWriter:
    """Queues turns and commits them in batches; :meth:`write` returns once committed."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._batcher = Batcher(
            self._write,
            name="chorus-turn-writer",
            max_batch=max_batch,
            retry_alone=True,
            shared_errors=(StorageUnavailable,),
        )

    async def write(self, record: TurnRecord) -> Party:
        """Store ``record`` and return the conversation as stored; raises whatever storing
        the record alone raised."""
        return await self._batcher.submit(record)

    async def close(self) -> None:
        """Stop the writer; turns still queued fail with an error."""
        await self._batcher.close()

    async def _write(self, records: list[TurnRecord]) -> list[Party]:
        async with self._db.transaction() as session:
            parties = [await _party(session, r) for r in records]
            await _store_turns(session, records, parties)
        return [
            replace(
                party,
                state=r.state,
                context=r.context,
                version=party.version + 1,
                **{k: v for k, v in r.user_updates.items() if k in _PARTY_FIELDS},
            )
            for r, party in zip(records, parties, strict=True)
        ]


_PARTY_FIELDS = frozenset({"language", "language_source", "voice_enabled", "voice_preferences"})


async def _party(session: AsyncSession, record: TurnRecord) -> Party:
    party = record.party
    if party is None:
        party = await repo.create_party(
            session,
            bot_id=record.bot_id,
            channel=record.channel,
            external_id=record.sender_id,
            display_name=record.sender_name,
            language=record.language,
            timezone=record.timezone,
            state=record.state,
        )
        await integrations.record(
            session,
            record.bot_id,
            "conversation.started",
            {
                "conversation_id": party.conversation_id,
                "user_id": party.end_user_id,
                "channel": record.channel,
            },
        )
    for event, data in record.announced:
        await integrations.record(
            session,
            record.bot_id,
            event,
            {
                "conversation_id": party.conversation_id,
                "user_id": party.end_user_id,
                "channel": record.channel,
                **data,
            },
        )
    if record.user_updates:
        await repo.update_end_user(session, party.end_user_id, **record.user_updates)
    if record.content is not None:
        content_id = await repo.add_content(
            session,
            bot_id=record.bot_id,
            end_user_id=party.end_user_id,
            content_type=record.content.content_type,
            title=record.content.title,
            parameters=record.content.parameters,
            text=record.content.text,
            audio=record.content.audio,
            job_id=record.content.job_id,
        )
        await integrations.record(
            session,
            record.bot_id,
            "content.generated",
            {
                "content_id": content_id,
                "user_id": party.end_user_id,
                "content_type": record.content.content_type,
                "title": record.content.title,
                "recorded": bool(record.content.audio),
            },
        )
    if record.job is not None:
        await repo.add_job(
            session,
            ContentJob(
                id=record.job.id,
                bot_id=record.bot_id,
                end_user_id=party.end_user_id,
                channel=record.channel,
                sender_id=record.sender_id,
                content_type=record.job.content_type,
                parameters=record.job.parameters,
                language=record.job.language,
                status="queued",
                attempts=0,
                reservation=record.job.hold,
            ),
        )
    return party


async def _store_turns(
    session: AsyncSession, records: list[TurnRecord], parties: list[Party]
) -> None:
    inbound = [
        {
            "conversation_id": party.conversation_id,
            "direction": "in",
            "channel": r.channel,
            "state": r.state,
            "text": r.inbound_text,
            "payload": r.inbound_payload,
            "reply_to_id": None,
        }
        for r, party in zip(records, parties, strict=True)
        if r.inbound
    ]
    stored_ids = iter(
        (
            await session.scalars(
                insert(Message).returning(Message.id, sort_by_parameter_order=True), inbound
            )
        ).all()
        if inbound
        else ()
    )
    inbound_ids = [next(stored_ids) if r.inbound else None for r in records]
    replies = [
        {
            "conversation_id": party.conversation_id,
            "direction": "out",
            "channel": r.channel,
            "state": r.state,
            "text": reply.text,
            "payload": reply.to_dict(),
            "reply_to_id": inbound_id,
        }
        for r, party, inbound_id in zip(records, parties, inbound_ids, strict=True)
        for reply in r.replies
    ]
    if replies:
        await session.execute(insert(Message), replies)
    deliveries = [
        {
            "bot_id": r.bot_id,
            "channel": r.channel,
            "platform_message_id": r.platform_message_id,
            "message_id": inbound_id,
        }
        for r, inbound_id in zip(records, inbound_ids, strict=True)
        if r.platform_message_id is not None and inbound_id is not None
    ]
    if deliveries:
        await session.execute(insert(ProcessedDelivery), deliveries)
    dialect = session.bind.dialect if session.bind is not None else None
    checked_by_update = dialect is not None and dialect.supports_sane_multi_rowcount
    if not checked_by_update:
        await _check_versions(session, records, parties)
    now = utcnow()
    table = Conversation.__table__
    updated = await session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("cid"), table.c.version == bindparam("old_version"))
        .values(
            state=bindparam("new_state"),
            context=bindparam("new_context"),
            version=bindparam("new_version"),
            updated_at=now,
        ),
        [
            {
                "cid": party.conversation_id,
                "old_version": party.version,
                "new_state": r.state,
                "new_context": r.context,
                "new_version": party.version + 1,
            }
            for r, party in zip(records, parties, strict=True)
        ],
    )
    if checked_by_update and updated.rowcount != len(records):  # type: ignore[attr-defined]
        # SQLite: the update is the check, under the write lock; which conversation moved
        # is found when the batch's turns are stored one by one
        raise StaleConversation(
            [
                p.conversation_id
                for r, p in zip(records, parties, strict=True)
                if r.party is not None
            ]
        )


async def _check_versions(
    session: AsyncSession, records: list[TurnRecord], parties: list[Party]
) -> None:
    """Fail the batch if a conversation was changed since its turn was decided, where the
    driver cannot count the rows an executemany update changed (PostgreSQL).

    It runs after the first insert, and the rows are locked until commit: nobody can
    change them in between.
    """
    expected = {
        p.conversation_id: p.version
        for r, p in zip(records, parties, strict=True)
        if r.party is not None
    }
    if not expected:
        return
    query = (
        select(Conversation.id, Conversation.version)
        .where(Conversation.id.in_(list(expected)))
        .with_for_update()
    )
    stored = dict((await session.execute(query)).all())
    stale = [cid for cid, version in expected.items() if stored.get(cid) != version]
    if stale:
        raise StaleConversation(stale)
