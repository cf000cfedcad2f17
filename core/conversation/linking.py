"""``/link``: one account for an end user who talks to a bot on several apps.

``/link`` gives the user a one-time code, valid for :data:`CODE_MINUTES`. ``/link CODE``
sent from another chat with the same bot (another app, or another account on the same
app) joins that chat to the account that asked for the code: its identities, history,
library, credits and the rest move over (:func:`core.people.user_merge.merge_users`) in the
transaction that uses the code up, so it happens once. Codes are
:data:`CODE_LENGTH` characters of an alphabet without look-alikes, drawn with
:mod:`secrets`; only their SHA-256 is stored, and a new code replaces the user's earlier
one. Codes entered are limited per chat (:data:`GUESSES`), so trying codes finds none.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.profile import BotProfile
from core.conversation.turn import TurnResult
from core.i18n.translator import N_, Translator
from core.outbox import Address
from core.people.privacy import Identity
from core.people.user_merge import merge_users
from core.runtime.ratelimit import Buckets, Limit, LocalBuckets
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.models import (
    ChannelIdentity,
    ContentItem,
    CreditAccount,
    LinkCode,
    as_utc,
    utcnow,
)
from core.storage.repository import Party

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0 and O, no 1, I and L
CODE_LENGTH = 8
CODE_MINUTES = 10
#: codes a chat may enter: five at once, then one every twelve minutes
GUESSES = Limit(per_minute=5 / 60, burst=5)
CHAT_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "widget": N_("website")}
UNKNOWN = N_(
    "I don't know that code. Check it, or send /link in your other chat for a new one: "
    "a code works once, for %(minutes)s minutes."
)


@dataclass(frozen=True, slots=True)
class Linked:
    """A chat joined to another user's account: that account's conversation as stored
    now, where the turn is to be stored, and every identity the account has (whatever
    remembers them must look them up again)."""

    party: Party
    identities: tuple[Identity, ...]


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """A code as the user is given it: ``K7QX-4MZP``."""
    return f"{code[:4]}-{code[4:]}"


def entered(text: str) -> str:
    """A code as typed, in any case, with or without its dash or spaces."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class Linking:
    """Runs ``/link`` and ``/link CODE`` for the chat a turn came from."""

    def __init__(
        self,
        db: Database,
        buckets: Buckets | None = None,
        *,
        guesses: Limit = GUESSES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._buckets = buckets or LocalBuckets()
        self._guesses = guesses
        self._clock = clock

    async def run(
        self, args: str, bot: BotProfile, sender: Address, result: TurnResult
    ) -> Linked | None:
        """Give out a code, or use one; returns the link when this chat was joined to
        another account (the turn then belongs to that account's conversation)."""
        if not args.strip():
            await self._hand_out(bot, sender, result)
            return None
        tr = result.tr
        key = f"link:{sender.bot_id}:{sender.channel}:{sender.sender_id}"
        decision = await self._buckets.take(key, self._guesses)
        if not decision.allowed:
            result.say(
                tr.ngettext(
                    "That's too many codes from this chat. Please wait %(count)s minute, "
                    "then try again.",
                    "That's too many codes from this chat. Please wait %(count)s minutes, "
                    "then try again.",
                    max(1, math.ceil(decision.retry_after / 60)),
                )
            )
            return None
        code = entered(args)
        if len(code) != CODE_LENGTH or not set(code) <= set(ALPHABET):
            result.say(tr.gettext(UNKNOWN, minutes=CODE_MINUTES))
            return None
        async with self._db.transaction() as session:
            reply, linked = await self._join(session, bot, sender, code, tr)
        result.say(reply)
        return linked

    async def _hand_out(self, bot: BotProfile, sender: Address, result: TurnResult) -> None:
        """A new code for the sender's account, replacing any earlier one."""
        now = self._clock()
        code = new_code()
        async with self._db.transaction() as session:
            user = await _user_of(session, sender)
            if user is None:
                result.say(result.tr.gettext("Send /link once more and I'll give you a code."))
                return
            await session.execute(  # the user's earlier code, and everyone's expired ones
                delete(LinkCode).where(or_(LinkCode.end_user_id == user, LinkCode.expires_at < now))
            )
            session.add(
                LinkCode(
                    code_hash=code_hash(code),
                    bot_id=bot.id,
                    end_user_id=user,
                    expires_at=now + timedelta(minutes=CODE_MINUTES),
                    created_at=now,
                )
            )
        result.say(
            result.tr.gettext(
                "Your code is %(code)s. Send /link %(code)s to %(bot)s on another app "
                "(WhatsApp, Telegram or the website chat) within %(minutes)s minutes to make "
                "it one account there and here.",
                code=shown(code),
                bot=bot.name,
                minutes=CODE_MINUTES,
            )
        )

    async def _join(
        self, session: AsyncSession, bot: BotProfile, sender: Address, code: str, tr: Translator
    ) -> tuple[str, Linked | None]:
        """Join the sender's chat to the account of ``code``: the reply, and the link if
        it was made (nothing is changed otherwise)."""
        row = await session.scalar(
            select(LinkCode).where(LinkCode.code_hash == code_hash(code)).with_for_update()
        )
        if row is None:
            return tr.gettext(UNKNOWN, minutes=CODE_MINUTES), None
        if row.bot_id != bot.id:
            return tr.gettext(
                "That code is from another bot, not %(bot)s: send it to the bot that "
                "gave it to you.",
                bot=bot.name,
            ), None
        if as_utc(row.expires_at) <= self._clock():
            return tr.gettext(
                "That code has expired: codes last %(minutes)s minutes. Send /link in "
                "your other chat for a new one.",
                minutes=CODE_MINUTES,
            ), None
        keep, mine = row.end_user_id, await _user_of(session, sender, lock=True)
        kept = await _identities(session, keep)
        if mine == keep and len(kept) == 1:
            return tr.gettext(
                "That's the code I gave you here. Send it to me from your other app "
                "(WhatsApp, Telegram or the website chat) to make the two one account."
            ), None
        if mine == keep:
            return tr.gettext(
                "This chat is already part of that account: there's nothing to join."
            ), None
        used = await session.execute(delete(LinkCode).where(LinkCode.code_hash == row.code_hash))
        if getattr(used, "rowcount", 0) != 1:  # used by someone else meanwhile
            return tr.gettext(UNKNOWN, minutes=CODE_MINUTES), None
        if mine is None:  # a chat new to the bot: it starts out in the account
            session.add(
                ChannelIdentity(
                    bot_id=bot.id,
                    channel=sender.channel,
                    external_id=sender.sender_id,
                    end_user_id=keep,
                )
            )
            await session.flush()
        else:
            await merge_users(session, keep, mine)
        party = await repo.find_party(session, bot.id, sender.channel, sender.sender_id)
        assert party is not None
        linked = Linked(party, await _identities(session, keep))
        return await _joined(session, bot, keep, kept, sender.channel, tr), linked


async def _user_of(session: AsyncSession, sender: Address, *, lock: bool = False) -> int | None:
    """The end user a chat belongs to now (None for a chat new to the bot)."""
    query = select(ChannelIdentity.end_user_id).where(
        ChannelIdentity.bot_id == sender.bot_id,
        ChannelIdentity.channel == sender.channel,
        ChannelIdentity.external_id == sender.sender_id,
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def _identities(session: AsyncSession, end_user_id: int) -> tuple[Identity, ...]:
    rows = await session.execute(
        select(ChannelIdentity.bot_id, ChannelIdentity.channel, ChannelIdentity.external_id)
        .where(ChannelIdentity.end_user_id == end_user_id)
        .order_by(ChannelIdentity.id)
    )
    return tuple((bot_id, channel, external_id) for bot_id, channel, external_id in rows)


async def _joined(
    session: AsyncSession,
    bot: BotProfile,
    keep: int,
    kept: tuple[Identity, ...],
    here: str,
    tr: Translator,
) -> str:
    """What the user is told once their chats are one account."""
    chats = sorted(
        tr.gettext("other %(app)s", app=tr.gettext(CHAT_NAMES.get(c, c)))
        if c == here
        else tr.gettext(CHAT_NAMES.get(c, c))
        for c in {c for _bot, c, _id in kept}
    )
    balance = await session.scalar(
        select(CreditAccount.balance).where(CreditAccount.end_user_id == keep)
    )
    items = await session.scalar(
        select(func.count()).select_from(ContentItem).where(ContentItem.end_user_id == keep)
    )
    library = tr.ngettext("%(count)s item", "%(count)s items", items or 0)
    joined = tr.ngettext(
        "Done: this chat and your %(chats)s chat are now one account with %(bot)s.",
        "Done: this chat and your %(chats)s chats are now one account with %(bot)s.",
        len(chats),
        chats=_and(tr, chats),
        bot=bot.name,
    )
    if balance is None:
        together = tr.gettext(
            "Your library (%(library)s) and history are together.", library=library
        )
    else:
        together = tr.gettext(
            "Your credits (%(balance)s), library (%(library)s) and history are together.",
            balance=balance,
            library=library,
        )
    return f"{joined} {together}"


def _and(tr: Translator, words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) == 1:
        return words[0]
    return tr.gettext("%(first)s and %(last)s", first=", ".join(words[:-1]), last=words[-1])
