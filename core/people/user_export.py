"""Everything kept about one end user, as a JSON-safe document (``/export``).

:func:`export_document` reads the user's profile and preferences, the channel identities
they are known by, their conversation with every message, their library, their content
jobs and their credits (account, ledger, holds, payments, daily question usage). Every
row is read through the user's own id, conversation or credit account, so nothing of
another user can enter it; internal bookkeeping (idempotency keys, checkout URLs, hold
reservations, error traces) is left out, and media are named by their references.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.models import (
    Bot,
    ChannelIdentity,
    ContentItem,
    ContentJob,
    Conversation,
    CreditAccount,
    CreditHold,
    EndUser,
    LedgerEntry,
    Message,
    Payment,
    QuestionUsage,
    as_utc,
    utcnow,
)

EXPORT_FORMAT = "chorus.end-user-export/1"


async def export_document(session: AsyncSession, end_user_id: int) -> dict[str, Any] | None:
    """The end user's data as a JSON-safe document, or None if there is no such user."""
    user = await session.get(EndUser, end_user_id)
    if user is None:
        return None
    bot_name = await session.scalar(select(Bot.name).where(Bot.id == user.bot_id))
    identities = await _all(
        session,
        select(ChannelIdentity)
        .where(ChannelIdentity.end_user_id == end_user_id)
        .order_by(ChannelIdentity.id),
    )
    conversation = await session.scalar(
        select(Conversation).where(Conversation.end_user_id == end_user_id)
    )
    messages = await _all(
        session,
        select(Message)
        .where(Message.conversation_id.in_(conversation_ids(end_user_id)))
        .order_by(Message.id),
    )
    items = await _all(
        session,
        select(ContentItem).where(ContentItem.end_user_id == end_user_id).order_by(ContentItem.id),
    )
    jobs = await _all(
        session,
        select(ContentJob)
        .where(ContentJob.end_user_id == end_user_id)
        .order_by(ContentJob.created_at, ContentJob.id),
    )
    account = await session.scalar(
        select(CreditAccount).where(CreditAccount.end_user_id == end_user_id)
    )
    credits = await _credits(session, account) if account is not None else None
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _moment(utcnow()),
        "bot": {"id": user.bot_id, "name": bot_name},
        "profile": {
            "id": user.id,
            "display_name": user.display_name,
            "language": user.language,
            "language_source": user.language_source,
            "voice_enabled": user.voice_enabled,
            "voice_preferences": user.voice_preferences,
            "created_at": _moment(user.created_at),
        },
        "identities": [
            {
                "channel": i.channel,
                "external_id": i.external_id,
                "reachable": i.reachable,
                "created_at": _moment(i.created_at),
            }
            for i in identities
        ],
        "conversation": _conversation(conversation, messages) if conversation else None,
        "library": [
            {
                "id": item.id,
                "content_type": item.content_type,
                "title": item.title,
                "parameters": item.parameters,
                "text": item.text,
                "audio": item.audio,
                "created_at": _moment(item.created_at),
            }
            for item in items
        ],
        "content_jobs": [
            {
                "id": job.id,
                "channel": job.channel,
                "content_type": job.content_type,
                "parameters": job.parameters,
                "language": job.language,
                "status": job.status,
                "attempts": job.attempts,
                "created_at": _moment(job.created_at),
                "updated_at": _moment(job.updated_at),
            }
            for job in jobs
        ],
        "credits": credits,
    }


def conversation_ids(end_user_id: int) -> Select[int]:
    """The ids of the end user's conversations (one, in practice)."""
    return select(Conversation.id).where(Conversation.end_user_id == end_user_id)


async def _all(session: AsyncSession, query: Select[Any]) -> list[Any]:
    return list(await session.scalars(query))


async def _credits(session: AsyncSession, account: CreditAccount) -> dict[str, Any]:
    entries = await _all(
        session,
        select(LedgerEntry).where(LedgerEntry.account_id == account.id).order_by(LedgerEntry.id),
    )
    holds = await _all(
        session,
        select(CreditHold)
        .where(CreditHold.account_id == account.id)
        .order_by(CreditHold.created_at, CreditHold.id),
    )
    payments = await _all(
        session,
        select(Payment)
        .where(Payment.account_id == account.id)
        .order_by(Payment.created_at, Payment.id),
    )
    usage = await _all(
        session,
        select(QuestionUsage)
        .where(QuestionUsage.account_id == account.id)
        .order_by(QuestionUsage.day),
    )
    return {
        "balance": account.balance,
        "debt": account.debt,
        "tier": account.tier,
        "subscription_id": account.subscription_id,
        "created_at": _moment(account.created_at),
        "ledger": [
            {
                "id": e.id,
                "kind": e.kind,
                "amount": e.amount,
                "debt_change": e.debt_change,
                "balance_after": e.balance_after,
                "cause": e.cause,
                "hold_id": e.hold_id,
                "created_at": _moment(e.created_at),
            }
            for e in entries
        ],
        "holds": [
            {
                "id": h.id,
                "amount": h.amount,
                "cause": h.cause,
                "status": h.status,
                "expires_at": _moment(h.expires_at),
                "created_at": _moment(h.created_at),
            }
            for h in holds
        ],
        "payments": [
            {
                "id": p.id,
                "channel": p.channel,
                "offer": p.offer,
                "mode": p.mode,
                "credits": p.credits,
                "amount": p.amount,
                "currency": p.currency,
                "status": p.status,
                "payment_intent": p.payment_intent,
                "subscription_id": p.subscription_id,
                "credits_reversed": p.credits_reversed,
                "created_at": _moment(p.created_at),
            }
            for p in payments
        ],
        "question_usage": [{"day": u.day, "used": u.used} for u in usage],
    }


def _conversation(conversation: Conversation, messages: list[Message]) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "state": conversation.state,
        "context": conversation.context,
        "created_at": _moment(conversation.created_at),
        "updated_at": _moment(conversation.updated_at),
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "channel": m.channel,
                "state": m.state,
                "text": m.text,
                "payload": m.payload,
                "reply_to": m.reply_to_id,
                "created_at": _moment(m.created_at),
            }
            for m in messages
        ],
    }


def _moment(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None
