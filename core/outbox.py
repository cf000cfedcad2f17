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
        if not messages:
            return True
        sender = self._senders.get(address.channel)
        if sender is None:
            log.info(
                "no %s sender in this process; %d message(s) for bot %s kept in storage",
                address.channel,
                len(messages),
                address.bot_id,
            )
            return False
        try:
            await sender(address, messages)
        except Exception:
            log.exception("pushing %d message(s) on %s failed", len(messages), address.channel)
            return False
        return True
