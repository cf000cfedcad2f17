"""Messages the engine sends outside a turn: finished content, progress of a job.

A reply to a message goes back through the channel call that brought the message. Work
that finishes later (a meditation being recorded) has no such call to return through, so
each channel registers a :data:`Sender` here and the engine pushes to the user's address.
The messages are stored before they are pushed: a channel that is not connected in this
process (a terminal chat that has ended) loses nothing; the user finds the content in
their /library.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.errors import NotDelivered
from core.messages import OutboundMessage

log = logging.getLogger("chorus.outbox")


@dataclass(frozen=True, slots=True)
class Address:
    """Where an end user is reached: a bot, a channel and the sender id on that channel."""

    bot_id: str
    channel: str
    sender_id: str


Sender = Callable[[Address, Sequence[OutboundMessage]], Awaitable[None]]


class Outbox:
    """Routes pushed messages to the sender registered for their channel."""

    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, channel: str, sender: Sender) -> Callable[[], None]:
        """Deliver ``channel``'s pushed messages with ``sender``; returns an unregister."""
        self._senders[channel] = sender

        def unregister() -> None:
            if self._senders.get(channel) is sender:
                del self._senders[channel]

        return unregister

    async def send(self, address: Address, messages: Sequence[OutboundMessage]) -> bool:
        """Push ``messages``; False when no sender is registered or it failed (the
        messages stay stored either way)."""
        return await self.push(address, messages) is None

    async def push(self, address: Address, messages: Sequence[OutboundMessage]) -> str | None:
        """Push ``messages``; None once the channel took them, else why it did not."""
        if not messages:
            return None
        sender = self._senders.get(address.channel)
        if sender is None:
            log.info(
                "no %s sender in this process; %d message(s) for bot %s kept in storage",
                address.channel,
                len(messages),
                address.bot_id,
            )
            return "this channel can't receive messages now"
        try:
            await sender(address, messages)
        except NotDelivered as exc:
            log.info("a message of bot %s was not delivered: %s", address.bot_id, exc)
            return exc.reason
        except Exception as exc:
            log.exception("pushing %d message(s) on %s failed", len(messages), address.channel)
            return f"the channel failed: {str(exc)[:200] or type(exc).__name__}"
        return None
