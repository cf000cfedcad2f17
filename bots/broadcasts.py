"""``/broadcast``: a creator's message to every subscriber of their agent, from chat.

``/broadcast TEXT`` shows who it would reach (by channel, and who is skipped and why)
and keeps it as a draft until the creator presses *Send* (or sends ``/broadcast send
N``); nothing goes out by a slip of the thumb. Progress and the outcome are told in the
same chat by :class:`~core.outreach.broadcasts.Broadcasts` as the sending goes.
``/broadcast`` alone lists the latest ones, ``/broadcast N`` shows one, ``/broadcast
cancel N`` stops one.
"""

from __future__ import annotations

import re

from bots.profile import BotProfile
from core.messages import Button, OutboundMessage
from core.outbox import Address
from core.outreach.broadcasts import Broadcasts

_ACTION = re.compile(r"(send|cancel|status)?\s*#?(\d{1,18})", re.IGNORECASE)
USAGE = (
    "Send /broadcast followed by your message to send it to all your subscribers. "
    "/broadcast N shows how broadcast N went, /broadcast cancel N stops it."
)


class CreatorBroadcasts:
    """Answers ``/broadcast`` for a creator's bot."""

    def __init__(self, broadcasts: Broadcasts) -> None:
        self._broadcasts = broadcasts

    async def command(self, args: str, bot: BotProfile, chat: Address) -> list[OutboundMessage]:
        args = args.strip()
        if not args:
            return await self._latest(bot)
        action = _ACTION.fullmatch(args)
        if action is not None:
            return await self._act(bot, (action[1] or "status").lower(), int(action[2]))
        audience = await self._broadcasts.audience(bot.id)
        if not audience.total:
            return _say(f"Nobody can get a message from {bot.name} yet: {audience.describe()}.")
        try:
            draft = await self._broadcasts.draft(bot.id, args, chat)
        except ValueError as exc:
            return _say(f"{str(exc).capitalize()}.")
        buttons = (
            Button(f"Send to {audience.total:,}", f"/broadcast send {draft.id}"),
            Button("Cancel", f"/broadcast cancel {draft.id}"),
        )
        return [
            OutboundMessage(
                text=f"Broadcast {draft.id} for {bot.name} would reach "
                f"{audience.describe()}.\n\n“{draft.text}”\n\nSend it?",
                buttons=buttons,
            )
        ]

    async def _act(self, bot: BotProfile, action: str, number: int) -> list[OutboundMessage]:
        if action == "send":
            report = await self._broadcasts.send(bot.id, number)
        elif action == "cancel":
            report = await self._broadcasts.cancel(bot.id, number)
        else:
            report = await self._broadcasts.report(bot.id, number)
        if report is None:
            return _say(f"{bot.name} has no broadcast {number}. /broadcast lists the latest.")
        if action == "send" and report.status == "sending":
            return _say(
                f"Sending broadcast {number} to {report.count('pending'):,} people. "
                "I'll tell you how it goes here."
            )
        return _say(report.summary())

    async def _latest(self, bot: BotProfile) -> list[OutboundMessage]:
        reports = await self._broadcasts.recent(bot.id)
        if not reports:
            return _say(f"{bot.name} hasn't sent a broadcast yet. {USAGE}")
        listed = "\n\n".join(r.summary() for r in reports)
        return _say(f"{bot.name}'s latest broadcasts:\n\n{listed}\n\n{USAGE}")


def _say(text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text)]
