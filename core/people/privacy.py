"""An end user's personal data: all of it as one JSON document, or all of it erased.

:class:`EndUserData` serves an end user's rights over what a bot keeps about them.
:meth:`~EndUserData.export` gathers their profile and preferences, the channel identities
they are known by, their conversation with every message, their library, their content
jobs and their credits into one JSON-safe document (built by :mod:`core.people.user_export`).
:meth:`~EndUserData.erase` deletes all of that, the rows the channels
keep about them (stored platform updates, widget frames, the WhatsApp contact and the
messages sent to it) and their files (recordings, scripts, exports, widget voice notes).

Nothing here knows about chats: the ``/export`` and ``/forget`` commands
(:mod:`core.conversation.data_rights`) call it, and so can anything else that acts for the user.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import Channel
from core.people.user_export import conversation_ids, export_document
from core.storage.database import Database
from core.storage.media import SCHEME, MediaStore
from core.storage.models import (
    Base,
    ChannelIdentity,
    ContentItem,
    ContentJob,
    Conversation,
    CreditAccount,
    CreditHold,
    EndUser,
    InboundUpdate,
    LedgerEntry,
    Message,
    Payment,
    ProcessedDelivery,
    QuestionUsage,
    SentMessage,
    StripeRefund,
    WhatsAppContact,
    WidgetFrame,
)

_VISITOR = re.compile(r"^[A-Za-z0-9_]{1,64}$")  # widget visitor ids: safe in a file pattern

#: (bot id, channel, external id): how an end user is known on a channel
Identity = tuple[str, str, str]


def script_key(item_id: int) -> str:
    """The media key of a library item's script, sent as a file by ``/library N``."""
    return f"content-{item_id}"


def export_key(end_user_id: int) -> str:
    """The media key of an end user's data export (one file, rewritten by each export)."""
    return f"export-{end_user_id}"


@dataclass(frozen=True, slots=True)
class Erasure:
    """What erasing an end user removed: rows per table, files, and the identities they
    were known by (so whatever remembers those can forget them too)."""

    identities: tuple[Identity, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def found(self) -> bool:
        """Whether there was such an end user."""
        return bool(self.rows)


class EndUserData:
    """Exports and erases everything kept about one end user.

    ``media`` holds their recordings, scripts and exports; ``voice_dir`` the voice notes
    widget visitors sent. Without them, rows are still exported and erased.
    """

    def __init__(
        self, db: Database, media: MediaStore | None = None, voice_dir: Path | None = None
    ) -> None:
        self._db = db
        self.media = media
        self._voice_dir = voice_dir

    async def unfinished_jobs(self, end_user_id: int) -> int:
        """How many content jobs of the user are still queued or running."""
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(ContentJob)
                .where(
                    ContentJob.end_user_id == end_user_id,
                    ContentJob.status.in_(("queued", "running")),
                )
            )
        return int(count or 0)

    async def export(self, end_user_id: int) -> dict[str, Any] | None:
        """Everything kept about the end user as a JSON-safe document, or None if there is
        no such user; nothing of any other user enters it."""
        async with self._db.read() as session:
            return await export_document(session, end_user_id)

    async def erase(self, end_user_id: int) -> Erasure:
        """Delete everything kept about the end user, at their request, in one transaction,
        then their files; returns what was removed (nothing for an unknown user).

        Gone are the user, their channel identities, the conversation with its messages
        and delivery records, their library and content jobs, and their credit account
        whole: its ledger entries, holds, payments, the refunds recorded for those
        payments and the daily question usage. The ledger is otherwise append-only; an
        erasure on request is the one exception, so the account's history goes with it
        rather than being kept without its owner. What the channels keep under the user's
        identities goes too: stored platform updates (in a Telegram group, only the
        user's own), widget frames, the WhatsApp contact and the messages sent to it.

        Left alone: Stripe's own records of payments and subscriptions, which this server
        cannot reach (a subscription stays active until cancelled with Stripe), and the
        ids of Stripe events already applied, which name nobody and keep a redelivered
        event from applying twice. A content job still running when the user is erased
        finds nobody to deliver to; callers that can wait for jobs should (see
        :meth:`unfinished_jobs`).
        """
        async with self._db.transaction() as session:
            user = await session.get(EndUser, end_user_id)
            if user is None:
                return Erasure()
            identities = tuple(
                (bot_id, channel, external_id)
                for bot_id, channel, external_id in await session.execute(
                    select(
                        ChannelIdentity.bot_id, ChannelIdentity.channel, ChannelIdentity.external_id
                    ).where(ChannelIdentity.end_user_id == end_user_id)
                )
            )
            files = await self._files(session, end_user_id)
            rows = await _delete_user(session, end_user_id, identities)
        removed = await self.media.delete(files) if self.media is not None else 0
        removed += await asyncio.to_thread(self._remove_voice_notes, identities)
        return Erasure(identities, rows, removed)

    async def _files(self, session: AsyncSession, end_user_id: int) -> set[str]:
        """The media references of the user's files: what their messages carried, their
        library's recordings and scripts, and their export."""
        references: set[str] = set()
        payloads = await session.scalars(
            select(Message.payload).where(
                Message.conversation_id.in_(conversation_ids(end_user_id))
            )
        )
        for payload in payloads:
            references.update(_media_in(payload))
        items = await session.execute(
            select(ContentItem.id, ContentItem.audio).where(ContentItem.end_user_id == end_user_id)
        )
        for item_id, audio in items:
            references.update(v for v in (audio or {}).values() if isinstance(v, str))
            if self.media is not None:
                references.add(self.media.keyed(script_key(item_id)))
        if self.media is not None:
            references.add(self.media.keyed(export_key(end_user_id), "json"))
        return {r for r in references if r.startswith(SCHEME)}

    def _remove_voice_notes(self, identities: Iterable[Identity]) -> int:
        """Delete the voice notes the user sent through the widget (named after them, a
        visitor id having no dash), with any left half written."""
        if self._voice_dir is None:
            return 0
        removed = 0
        for _bot_id, channel, visitor in identities:
            if channel != Channel.WIDGET.value or not _VISITOR.match(visitor):
                continue
            for path in self._voice_dir.glob(f"{visitor}-*"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


async def _delete_user(
    session: AsyncSession, end_user_id: int, identities: tuple[Identity, ...]
) -> dict[str, int]:
    """Delete the user's rows, children first (the foreign keys would cascade, but each
    table is counted and nothing depends on how a migration declared them)."""
    rows: dict[str, int] = {}

    async def gone(model: type[Base], *where: ColumnElement[bool]) -> None:
        result = await session.execute(
            delete(model).where(*where).execution_options(synchronize_session=False)
        )
        name = model.__tablename__
        rows[name] = rows.get(name, 0) + int(getattr(result, "rowcount", 0) or 0)

    conversations = conversation_ids(end_user_id)
    messages = select(Message.id).where(Message.conversation_id.in_(conversations))
    await gone(ProcessedDelivery, ProcessedDelivery.message_id.in_(messages))
    await gone(Message, Message.conversation_id.in_(conversations))
    await gone(Conversation, Conversation.end_user_id == end_user_id)
    await gone(ContentItem, ContentItem.end_user_id == end_user_id)
    await gone(ContentJob, ContentJob.end_user_id == end_user_id)
    accounts = select(CreditAccount.id).where(CreditAccount.end_user_id == end_user_id)
    intents = select(Payment.payment_intent).where(
        Payment.account_id.in_(accounts), Payment.payment_intent.is_not(None)
    )
    await gone(StripeRefund, StripeRefund.payment_intent.in_(intents))
    await gone(QuestionUsage, QuestionUsage.account_id.in_(accounts))
    await gone(CreditHold, CreditHold.account_id.in_(accounts))
    await gone(LedgerEntry, LedgerEntry.account_id.in_(accounts))
    await gone(Payment, Payment.account_id.in_(accounts))
    await gone(CreditAccount, CreditAccount.end_user_id == end_user_id)
    for bot_id, channel, external_id in identities:
        if channel == Channel.WIDGET.value:
            await gone(
                WidgetFrame, WidgetFrame.bot_id == bot_id, WidgetFrame.visitor_id == external_id
            )
        if channel == Channel.WHATSAPP.value:
            await gone(
                WhatsAppContact,
                WhatsAppContact.bot_id == bot_id,
                WhatsAppContact.number == external_id,
            )
        await gone(
            SentMessage,
            SentMessage.bot_id == bot_id,
            SentMessage.channel == channel,
            SentMessage.recipient == external_id,
        )
        updates = await _updates_of(session, bot_id, channel, external_id)
        await gone(InboundUpdate, InboundUpdate.id.in_(updates))
    await gone(ChannelIdentity, ChannelIdentity.end_user_id == end_user_id)
    await gone(EndUser, EndUser.id == end_user_id)
    return rows


async def _updates_of(
    session: AsyncSession, bot_id: str, channel: str, external_id: str
) -> list[int]:
    """The stored platform updates a sender sent. The inbox files them under their chat
    (each channel's order key): a Telegram chat id, else ``BOT/SENDER``. In a Telegram
    group (``CHAT/USER``) the chat is shared, so only the updates from the user count."""
    if channel != Channel.TELEGRAM.value:
        chat, member = f"{bot_id}/{external_id}", None
    else:
        chat, _, member = external_id.partition("/")
    rows = await session.execute(
        select(InboundUpdate.id, InboundUpdate.payload).where(
            InboundUpdate.bot_id == bot_id,
            InboundUpdate.channel == channel,
            InboundUpdate.chat == chat,
        )
    )
    return [row_id for row_id, payload in rows if not member or _sent_by(payload) == member]


def _sent_by(payload: Mapping[str, Any]) -> str | None:
    """The id of the Telegram user an update comes from."""
    for part in payload.values():
        sender = part.get("from") if isinstance(part, dict) else None
        if isinstance(sender, dict) and "id" in sender:
            return str(sender["id"])
    return None


def _media_in(payload: Mapping[str, Any]) -> Iterator[str]:
    """The media references a stored message carries (its audio, document, image)."""
    for name in ("audio", "document", "image"):
        media = payload.get(name)
        if isinstance(media, dict) and isinstance(media.get("reference"), str):
            yield media["reference"]
