"""What the WhatsApp channel keeps about its conversations, and what it tells the creator.

:class:`WhatsAppRecords` owns the channel's rows: each contact's last message time (the
24-hour window) and the numbered options they were offered last, and every message sent
or held back with its delivery status, which feeds the creator's weekly report. It also
keeps a creator's pending claim on their own number: a short code, stored in the bot's
settings for 15 minutes, that proves the number is theirs once they send it from there.
The webhook, processing and sending stay in :mod:`channels.whatsapp_webhook`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bots.registry import BotDirectory
from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Channel
from core.storage.database import Database
from core.storage.models import Bot, SentMessage, WhatsAppContact, utcnow

CHANNEL = Channel.WHATSAPP.value
CLAIM_TTL = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Outreach:
    """What deciding how to reach a contact later needs: when they last wrote (UTC, or
    None if never) and the bot's approved template setting (None if unset)."""

    last_inbound: datetime | None
    template: object


class WhatsAppRecords:
    """The WhatsApp channel's contacts, sent messages and number claims."""

    def __init__(self, db: Database, bots: BotDirectory) -> None:
        self._db = db
        self._bots = bots

    # -- contacts -------------------------------------------------------------------

    async def touch(self, bot_id: str, user: str) -> WhatsAppContact:
        """The contact, created if new, with its last message time set to now."""
        async with self._db.transaction() as session:
            contact = await session.scalar(
                select(WhatsAppContact).where(
                    WhatsAppContact.bot_id == bot_id, WhatsAppContact.number == user
                )
            )
            if contact is None:
                contact = WhatsAppContact(bot_id=bot_id, number=user, options=[])
                session.add(contact)
            contact.last_inbound_at = utcnow()
            await session.flush()
            session.expunge(contact)
        return contact

    async def offer(self, bot_id: str, user: str, options: list[dict[str, str]]) -> bool:
        """Remember the numbered options the contact was just shown, so a reply "2"
        presses the second button; False if there is no such contact (any more: a user
        who asked to be forgotten)."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(WhatsAppContact)
                .where(WhatsAppContact.bot_id == bot_id, WhatsAppContact.number == user)
                .values(options=options)
            )
        return bool(getattr(result, "rowcount", 0))

    async def outreach(self, bot_id: str, user: str) -> Outreach:
        """When ``user`` last wrote to the bot, and the bot's template for later content."""
        async with self._db.read() as session:
            contact = await session.scalar(
                select(WhatsAppContact).where(
                    WhatsAppContact.bot_id == bot_id, WhatsAppContact.number == user
                )
            )
            bot_settings = await session.scalar(select(Bot.settings).where(Bot.id == bot_id))
        last = contact.last_inbound_at if contact else None
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return Outreach(last, (bot_settings or {}).get("whatsapp_template"))

    # -- sent messages --------------------------------------------------------------

    async def sent(
        self,
        bot_id: str,
        user: str,
        status: str,
        body: str,
        *,
        provider_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a message sent (or held back, or failed) to ``user``."""
        async with self._db.transaction() as session:
            session.add(
                SentMessage(
                    bot_id=bot_id,
                    channel=CHANNEL,
                    recipient=user,
                    provider_id=provider_id,
                    status=status,
                    body=body,
                    error=error,
                )
            )

    async def delivery_status(
        self, bot_id: str, provider_id: str, status: str, error: str | None
    ) -> None:
        """Record what Twilio's status callback says became of a sent message."""
        async with self._db.transaction() as session:
            await session.execute(
                update(SentMessage)
                .where(SentMessage.provider_id == provider_id, SentMessage.bot_id == bot_id)
                .values(status=status, error=error, updated_at=utcnow())
            )

    async def report(self, bot_id: str, number: str, tr: Translator = ENGLISH) -> str:
        """For the creator: the bot's number, how its messages fared this week, and the
        latest problems (held back or failed) with their reasons."""
        since = utcnow() - timedelta(days=7)
        async with self._db.read() as session:
            rows = list(
                await session.execute(
                    select(SentMessage.status, func.count())
                    .where(
                        SentMessage.bot_id == bot_id,
                        SentMessage.channel == CHANNEL,
                        SentMessage.created_at >= since,
                    )
                    .group_by(SentMessage.status)
                )
            )
            problems = list(
                await session.scalars(
                    select(SentMessage)
                    .where(
                        SentMessage.bot_id == bot_id,
                        SentMessage.channel == CHANNEL,
                        SentMessage.status.in_(("held", "failed", "undelivered")),
                    )
                    .order_by(SentMessage.updated_at.desc(), SentMessage.id.desc())
                    .limit(3)
                )
            )
        lines = [tr.gettext("WhatsApp number %(number)s.", number=number)]
        if rows:
            lines.append(tr.gettext("Messages this week:"))
            lines += [f"• {_status(status, tr)}: {tr.number(n)}" for status, n in sorted(rows)]
        else:
            lines.append(tr.gettext("No messages sent this week yet."))
        for problem in problems:
            # the error is ours (marked for translation) or Twilio's own words, kept as they are
            why = tr.gettext(problem.error) if problem.error else "?"
            lines.append(f"• …{problem.recipient[-4:]}: {_status(problem.status, tr)}, {why}")
        return "\n".join(lines)

    # -- the creator's own number ---------------------------------------------------

    async def claim(self, bot_id: str, number: str) -> str:
        """Start a claim on ``number`` (E.164) for the bot's creator: the code to send."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires = (utcnow() + CLAIM_TTL).isoformat()
        await self._bots.change_settings(
            bot_id, whatsapp_claim={"number": number, "code": code, "expires": expires}
        )
        return code

    async def claimed(self, bot_id: str, user: str, body: str) -> str | None:
        """The confirmation for a creator who sent their claim code, else None."""
        claim = (await self._bots.settings(bot_id)).get("whatsapp_claim")
        if not isinstance(claim, dict) or claim.get("number") != user:
            return None
        if not secrets.compare_digest(body.strip(), str(claim.get("code"))):
            return None
        await self._bots.change_settings(bot_id, whatsapp_claim=None)
        if datetime.fromisoformat(claim["expires"]) < utcnow():
            return "That code has expired. Ask for a new one with /whatsapp me in the manager bot."
        if not await self._bots.link_identity(bot_id, CHANNEL, user):
            return "This number already belongs to another creator."
        return "Done: this number is recognised as the creator here. Send me documents to learn."


#: what Twilio's message statuses are called for the creator
STATUS_NAMES = {
    "queued": N_("queued"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "read": N_("read"),
    "held": N_("held back"),
    "failed": N_("failed"),
    "undelivered": N_("undelivered"),
}


def _status(status: str, tr: Translator) -> str:
    """A message status as a word in ``tr``'s language (one Twilio adds later as it is)."""
    return tr.gettext(STATUS_NAMES[status]) if status in STATUS_NAMES else status
