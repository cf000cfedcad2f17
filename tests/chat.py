"""A small driver for talking to the engine in tests, the way a channel would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from core.engine import ConversationEngine
from core.messages import Channel, InboundMessage, OutboundMessage, parse_command

_ids = itertools.count(1)


@dataclass
class Chat:
    """One end user talking to one bot over one channel."""

    engine: ConversationEngine
    sender_id: str = "user-1"
    bot_id: str = "demo"
    channel: Channel = Channel.TERMINAL
    last: list[OutboundMessage] = field(default_factory=list)

    async def say(self, text: str, *, message_id: str | None = None) -> list[OutboundMessage]:
        command, args = parse_command(text)
        return await self.send(
            InboundMessage(
                channel=self.channel,
                bot_id=self.bot_id,
                sender_id=self.sender_id,
                text=text,
                command=command,
                command_args=args,
                platform_message_id=message_id or f"m{next(_ids)}",
            )
        )

    async def press(self, payload: str) -> list[OutboundMessage]:
        """Press a button that the last replies offered (fails if none did)."""
        offered = [b.payload for r in self.last for b in r.buttons]
        assert payload in offered, f"{payload!r} not offered; offered: {offered}"
        return await self.send(
            InboundMessage(
                channel=self.channel,
                bot_id=self.bot_id,
                sender_id=self.sender_id,
                button_payload=payload,
                platform_message_id=f"m{next(_ids)}",
            )
        )

    async def send(self, message: InboundMessage) -> list[OutboundMessage]:
        self.last = await self.engine.handle(message)
        return self.last

    @property
    def text(self) -> str:
        """All text of the last replies, joined."""
        return "\n".join(r.text for r in self.last)
