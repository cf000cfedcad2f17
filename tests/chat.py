"""A small driver for talking to the engine in tests, the way a channel would."""

from __future__ import annotations

import itertools
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.conversation.engine import ConversationEngine
from core.conversation.studio import ContentStudio
from core.messages import Channel, InboundMessage, OutboundMessage, parse_command
from core.outbox import Address, Outbox
from core.services import Services

_ids = itertools.count(1)


class Mailbox:
    """Collects the messages pushed through an outbox, per address, on every channel."""

    def __init__(self, outbox: Outbox) -> None:
        self._messages: defaultdict[Address, list[OutboundMessage]] = defaultdict(list)
        for channel in Channel:
            outbox.register(channel.value, self.receive)

    async def receive(self, address: Address, messages: Sequence[OutboundMessage]) -> None:
        self._messages[address].extend(messages)

    def take(self, address: Address) -> list[OutboundMessage]:
        return self._messages.pop(address, [])


_mailboxes: weakref.WeakKeyDictionary[Outbox, Mailbox] = weakref.WeakKeyDictionary()


def mailbox(outbox: Outbox) -> Mailbox:
    """The one mailbox collecting ``outbox``'s pushed messages."""
    if outbox not in _mailboxes:
        _mailboxes[outbox] = Mailbox(outbox)
    return _mailboxes[outbox]


@dataclass
class Chat:
    """One end user talking to one bot over one channel."""

    engine: ConversationEngine
    sender_id: str = "user-1"
    bot_id: str = "demo"
    channel: Channel = Channel.TERMINAL
    last: list[OutboundMessage] = field(default_factory=list)
    # with a studio, content confirmed in a turn is waited for, and what the studio
    # pushes (progress, the finished content) is added to that turn's replies
    studio: ContentStudio | None = None
    outbox: Outbox | None = None

    def __post_init__(self) -> None:
        if self.outbox is not None:
            mailbox(self.outbox)

    @property
    def address(self) -> Address:
        return Address(self.bot_id, self.channel.value, self.sender_id)

    async def say(
        self, text: str, *, message_id: str | None = None, language: str | None = None
    ) -> list[OutboundMessage]:
        """Send ``text`` as the chat's channel would; ``language`` is the one its platform
        reports (Telegram's ``language_code``, the browser's in the website chat)."""
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
                language=language,
            )
        )

    async def press(self, payload: str) -> list[OutboundMessage]:
        """Press a button that the last replies offered (fails if none did)."""
        return await self.send(self.to_button(payload))

    def to_button(self, payload: str) -> InboundMessage:
        """The message pressing a button the last replies offered (fails if none did)."""
        offered = [b.payload for r in self.last for b in r.buttons]
        assert payload in offered, f"{payload!r} not offered; offered: {offered}"
        return InboundMessage(
            channel=self.channel,
            bot_id=self.bot_id,
            sender_id=self.sender_id,
            button_payload=payload,
            platform_message_id=f"m{next(_ids)}",
        )

    async def send(self, message: InboundMessage) -> list[OutboundMessage]:
        self.last = await self.engine.handle(message)
        self.last += await self.pushed()
        return self.last

    async def pushed(self) -> list[OutboundMessage]:
        """Wait for running content jobs; the messages they pushed to this user."""
        if self.studio is None or self.outbox is None:
            return []
        await self.studio.idle()
        return mailbox(self.outbox).take(self.address)

    @property
    def text(self) -> str:
        """All text of the last replies, joined."""
        return "\n".join(r.text for r in self.last)


def chat_with(services: Services, **options: Any) -> Chat:
    """A chat on a process's engine that also waits for and receives finished content."""
    return Chat(services.engine, studio=services.studio, outbox=services.outbox, **options)
