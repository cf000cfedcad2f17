"""What the engine stores for a turn: the decision it reached, written as a TurnRecord.

A turn's :class:`Outcome` is the dialogue's (or a command's) :class:`TurnResult` plus the
changes to the user it asked for. :func:`turn_record` and :func:`system_record` turn an
outcome into the :class:`~core.conversation.turn_store.TurnRecord` the writer stores in one
transaction: the inbound message as received (its text capped, the rest kept as a
payload), the replies, the new state, and any content finished or job started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.conversation.handoff import CreatorNote
from core.conversation.linking import Linked
from core.conversation.turn import TurnResult
from core.conversation.turn_store import NewJob, TurnRecord
from core.messages import MAX_TEXT, InboundMessage
from core.outbox import Address
from core.people.privacy import Erasure
from core.storage.repository import Party
from core.text import normalise


@dataclass(slots=True)
class Outcome:
    """A decided turn: the result, the user's settings it changes (``/voice on``), and
    any words for the bot's creator, sent once the turn is stored."""

    result: TurnResult
    user_updates: dict[str, Any] = field(default_factory=dict)
    note: CreatorNote | None = None
    # set when the turn erased the user (/forget): then it is not stored
    erased: Erasure | None = None
    # set when the turn joined the chat to another account (/link): it is stored there
    linked: Linked | None = None


def turn_record(
    message: InboundMessage,
    bot_id: str,
    party: Party | None,
    text: str,
    outcome: Outcome,
    language: str | None,
) -> TurnRecord:
    """The record of a turn that answered ``message`` (``text`` is what was read) in
    ``language`` (the one content it started is made in)."""
    result, content = outcome.result, outcome.result.content
    return TurnRecord(
        bot_id=bot_id,
        channel=message.channel.value,
        sender_id=message.sender_id,
        party=party,
        inbound_text=text,
        inbound_payload=inbound_record(message, text),
        platform_message_id=message.platform_message_id,
        state=result.state.value,
        context=result.context,
        replies=result.replies,
        sender_name=message.sender_name,
        language=normalise(message.language),
        timezone=message.timezone,
        user_updates=outcome.user_updates,
        content=content,
        job=new_job(result, language),
        announced=result.announced,
    )


def system_record(
    address: Address, party: Party, result: TurnResult, language: str | None
) -> TurnRecord:
    """The record of a turn without a user message (a job finished), spoken in
    ``language``."""
    return TurnRecord(
        bot_id=address.bot_id,
        channel=address.channel,
        sender_id=address.sender_id,
        party=party,
        inbound_text="",
        inbound_payload={},
        platform_message_id=None,
        state=result.state.value,
        context=result.context,
        replies=result.replies,
        content=result.content,
        job=new_job(result, language),
        inbound=False,
        announced=result.announced,
    )


def new_job(result: TurnResult, language: str | None) -> NewJob | None:
    """The job a turn confirmed, to store with it."""
    job = result.job
    if job is None:
        return None
    return NewJob(job.id, job.content_type, job.parameters, language, job.hold)


def inbound_record(message: InboundMessage, text: str) -> dict[str, Any]:
    """What is kept of an inbound message besides its text."""
    record: dict[str, Any] = {"received_at": message.received_at.isoformat()}
    optional = {
        "sender_name": message.sender_name,
        "command": message.command,
        "command_args": message.command_args or None,
        "button": message.button_payload,
        "platform_message_id": message.platform_message_id,
        "language": message.language,
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    if message.attachments:
        record["attachments"] = [
            {
                "kind": a.kind.value,
                "mime_type": a.mime_type,
                "size": a.size,
                "reference": a.reference,
                "filename": a.filename,
            }
            for a in message.attachments
        ]
    if len(text) > MAX_TEXT:
        record["truncated_from"] = len(text)
    return record
