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
from core.errors import Refusal
from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Button, OutboundMessage
from core.outbox import Address
from core.outreach.broadcasts import Broadcasts

_ACTION = re.compile(r"(send|cancel|status)?\s*#?(\d{1,18})", re.IGNORECASE)
USAGE = N_(
    "Send /broadcast followed by your message to send it to all your subscribers. "
    "/broadcast N shows how broadcast N went, /broadcast cancel N stops it."
)


class CreatorBroadcasts:
    """Answers ``/broadcast`` for a creator's bot."""

    def __init__(self, broadcasts: Broadcasts) -> None:
        self._broadcasts = broadcasts

    async def command(
        self, args: str, bot: BotProfile, chat: Address, *, tr: Translator = ENGLISH
    ) -> list[OutboundMessage]:
        """The replies to ``/broadcast ARGS`` in ``tr``'s language, which is also the one
        the broadcast's progress and outcome are told in later."""
        args = args.strip()
        if not args:
            return await self._latest(bot, tr)
        action = _ACTION.fullmatch(args)
        if action is not None:
            return await self._act(bot, (action[1] or "status").lower(), int(action[2]), tr)
        audience = await self._broadcasts.audience(bot.id)
        if not audience.total:
            return _say(tr.gettext("Nobody can get a message from %(bot)s yet.", bot=bot.name))
        try:
            draft = await self._broadcasts.draft(
                bot.id, args, chat, language=None if tr is ENGLISH else tr.language
            )
        except Refusal as exc:
            return _say(exc.translated(tr))
        buttons = (
            Button(
                tr.gettext("Send to %(count)s", count=tr.number(audience.total)),
                f"/broadcast send {draft.id}",
            ),
            Button(tr.gettext("Cancel"), f"/broadcast cancel {draft.id}"),
        )
        preview = tr.gettext(
            "Broadcast %(number)s for %(bot)s would reach %(audience)s",
            number=draft.id,
            bot=bot.name,
            audience=audience.describe(tr),
        )
        return [
            OutboundMessage(
                text=f"{preview}\n\n“{draft.text}”\n\n" + tr.gettext("Send it?"),
                buttons=buttons,
            )
        ]

    async def _act(
        self, bot: BotProfile, action: str, number: int, tr: Translator
    ) -> list[OutboundMessage]:
        if action == "send":
            report = await self._broadcasts.send(bot.id, number)
        elif action == "cancel":
            report = await self._broadcasts.cancel(bot.id, number)
        else:
            report = await self._broadcasts.report(bot.id, number)
        if report is None:
            return _say(
                tr.gettext(
                    "%(bot)s has no broadcast %(number)s. /broadcast lists the latest.",
                    bot=bot.name,
                    number=number,
                )
            )
        if action == "send" and report.status == "sending":
            return _say(
                tr.ngettext(
                    "Sending broadcast %(number)s to %(count)s person. I'll tell you how it "
                    "goes here.",
                    "Sending broadcast %(number)s to %(count)s people. I'll tell you how it "
                    "goes here.",
                    report.count("pending"),
                    number=number,
                )
            )
        return _say(report.summary(tr))

    async def _latest(self, bot: BotProfile, tr: Translator) -> list[OutboundMessage]:
        reports = await self._broadcasts.recent(bot.id)
        if not reports:
            return _say(
                tr.gettext("%(bot)s hasn't sent a broadcast yet.", bot=bot.name)
                + " "
                + tr.gettext(USAGE)
            )
        listed = "\n\n".join(r.summary(tr) for r in reports)
        head = tr.gettext("%(bot)s's latest broadcasts:", bot=bot.name)
        return _say(f"{head}\n\n{listed}\n\n" + tr.gettext(USAGE))


def _say(text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text)]
