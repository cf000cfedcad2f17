"""Human handoff on the creator's side, in the manager bot: ``/takeover`` and ``/release``.

``/takeover`` lists the latest conversations of the agent the creator is working on,
each with its user's number; ``/takeover N`` moves user N's conversation into the
``handoff`` state. From then on, whatever the creator writes to the manager bot that is
not a command goes to that user on their own channel, stored in their conversation and
pushed through the outbox; what the user writes comes back to the creator
(:mod:`core.conversation.handoff`), and the agent stays silent. ``/release`` hands the user back.

Only a bot's owner reaches its users: the number of anyone else's user is answered
exactly like a number that does not exist. A creator talks with one user at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bots.profile import BotProfile
from core.conversation.guided import menu
from core.conversation.handoff import TAKEN_BY, taken_by, user_label
from core.conversation.statemachine import Event, State
from core.conversation.turn import TurnResult, Wallet
from core.i18n.translator import ENGLISH, Translator
from core.messages import Channel, OutboundMessage
from core.outbox import Address
from core.storage.database import Database
from core.storage.models import ChannelIdentity, Conversation, EndUser, Message, as_utc

log = logging.getLogger("chorus.handoff")

#: runs a turn without a user message for an address (the engine's ``system_turn``)
SystemTurn = Callable[
    [Address, Callable[[TurnResult, Wallet | None], Awaitable[None]]],
    Awaitable[list[OutboundMessage]],
]
#: pushes messages to an address (the outbox's ``send``); False if they did not go out
Send = Callable[[Address, Sequence[OutboundMessage]], Awaitable[bool]]

LISTED = 10
MAX_QUOTE = 120
# WhatsApp lets a business write freely only within 24 hours of the user's last message
WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class UserConversation:
    """One end user of a creator's bot as the creator sees them, with their conversation."""

    number: int  # the end user's id: stable, and shown to the creator
    bot: BotProfile
    name: str | None
    address: Address
    state: str
    context: dict[str, Any]
    reachable: bool
    last_text: str = ""
    last_at: datetime | None = None  # when the user last wrote

    def label(self, tr: Translator = ENGLISH) -> str:
        """Their name, number and channel, in ``tr``'s language."""
        return user_label(self.name, self.number, self.address.channel, tr)

    def quiet_on_whatsapp(self, now: datetime) -> bool:
        """Whether WhatsApp will hold messages to them: they last wrote over a day ago."""
        return self.address.channel == Channel.WHATSAPP.value and (
            self.last_at is None or now - self.last_at > WHATSAPP_WINDOW
        )


class HumanHandoff:
    """Lists, takes over, relays to and releases a creator's end users."""

    def __init__(self, db: Database, system_turn: SystemTurn, send: Send) -> None:
        self._db = db
        self._system_turn = system_turn
        self._send = send

    async def command(
        self,
        name: str,
        args: str,
        creator: Address,
        creator_name: str | None,
        mine: Sequence[BotProfile],
        current: BotProfile | None,
        *,
        tr: Translator = ENGLISH,
    ) -> list[OutboundMessage]:
        """Run ``/takeover [N]`` or ``/release`` for the creator in the manager chat
        ``creator``, who owns ``mine`` and works on ``current``; replies in ``tr``'s
        language."""
        if name == "release":
            return await self._release(creator, mine, tr)
        wanted = args.strip().removeprefix("#")
        if not wanted:
            if current is None:
                return _say(
                    tr.gettext(
                        "You have no agent yet. Create one with /newbot followed by its name."
                    )
                )
            return await self._listing(creator, current, tr)
        if not wanted.isdigit() or len(wanted) > 18:
            return _say(
                tr.gettext(
                    "Send /takeover followed by a user's number from the list, like /takeover 7."
                )
            )
        return await self._take_over(creator, creator_name, mine, int(wanted), tr)

    async def relay(
        self,
        creator: Address,
        mine: Sequence[BotProfile],
        text: str,
        *,
        tr: Translator = ENGLISH,
    ) -> list[OutboundMessage] | None:
        """Send the creator's ``text`` to the user they took over; None when they have
        not taken anyone over. The replies for the creator (none when all went well),
        in ``tr``'s language."""
        talking = await self._talking_with(creator, mine)
        if talking is None:
            return None
        if not talking.reachable:
            return _say(
                tr.gettext(
                    "%(user)s has blocked %(bot)s, so your message can't reach them. Send "
                    "/release to end the conversation.",
                    user=talking.label(tr),
                    bot=talking.bot.name,
                )
            )

        async def decide(result: TurnResult, wallet: Wallet | None) -> None:
            if result.state is State.HANDOFF and taken_by(result.context) == creator:
                result.move(Event.ANSWER)
                result.say(text)

        replies = await self._system_turn(talking.address, decide)
        if not replies:  # released meanwhile, from another chat or process
            return _say(
                tr.gettext("You're no longer talking with %(user)s.", user=talking.label(tr))
            )
        if not await self._send(talking.address, replies):
            return _say(
                tr.gettext(
                    "I couldn't deliver that to %(user)s just now. It's kept in their "
                    "conversation; try again in a moment.",
                    user=talking.label(tr),
                )
            )
        if talking.quiet_on_whatsapp(datetime.now(UTC)):
            return _say(
                tr.gettext(
                    "%(name)s last wrote over a day ago, so WhatsApp holds your messages until "
                    "they write again.",
                    name=talking.name,
                )
                if talking.name
                else tr.gettext(
                    "They last wrote over a day ago, so WhatsApp holds your messages until "
                    "they write again."
                )
            )
        return []

    async def _listing(
        self, creator: Address, bot: BotProfile, tr: Translator
    ) -> list[OutboundMessage]:
        users = await self._users({bot.id: bot}, limit=LISTED)
        if not users:
            return _say(tr.gettext("Nobody has talked to %(bot)s yet.", bot=bot.name))
        now = datetime.now(UTC)
        lines = [tr.gettext("The latest conversations with %(bot)s:", bot=bot.name)]
        for user in users:
            parts = [user.label(tr)]
            if user.last_at:
                parts.append(_ago(now - user.last_at, tr))
            line = "• " + ", ".join(parts)
            if user.last_text:
                line += f": “{_quote(user.last_text)}”"
            if taken_by(user.context) == creator:
                line += " ← " + tr.gettext("talking with you")
            lines.append(line)
        lines.append(
            tr.gettext(
                "Send /takeover followed by a number to talk to that user yourself, like "
                "/takeover %(number)s.",
                number=users[0].number,
            )
        )
        return _say("\n".join(lines))

    async def _take_over(
        self,
        creator: Address,
        creator_name: str | None,
        mine: Sequence[BotProfile],
        number: int,
        mine_tr: Translator,
    ) -> list[OutboundMessage]:
        talking = await self._talking_with(creator, mine)
        if talking is not None:
            if talking.number == number:
                return _say(
                    mine_tr.gettext(
                        "You're already talking with %(user)s.", user=talking.label(mine_tr)
                    )
                )
            return _say(
                mine_tr.gettext(
                    "You're talking with %(user)s right now. Send /release to hand them back "
                    "first.",
                    user=talking.label(mine_tr),
                )
            )
        found = await self._users({b.id: b for b in mine}, number=number)
        if not found:
            return _say(
                mine_tr.gettext(
                    "There's no user #%(number)s among your agents' conversations. /takeover "
                    "lists the latest ones.",
                    number=number,
                )
            )
        user = found[0]
        if not user.reachable:
            return _say(
                mine_tr.gettext(
                    "%(user)s has blocked %(bot)s: nothing can reach them.",
                    user=user.label(mine_tr),
                    bot=user.bot.name,
                )
            )

        async def decide(result: TurnResult, wallet: Wallet | None) -> None:
            if result.state is State.HANDOFF:
                return  # taken over from another of the owner's chats meanwhile
            result.move(Event.TAKEOVER)
            result.context[TAKEN_BY] = {
                "channel": creator.channel,
                "sender_id": creator.sender_id,
                "language": mine_tr.language,  # for their words relayed to the creator
            }
            tr = result.tr  # the user's language
            result.say(
                tr.gettext(
                    "%(person)s from %(bot)s has joined the conversation and will answer "
                    "you personally.",
                    person=creator_name,
                    bot=user.bot.name,
                )
                if creator_name
                else tr.gettext(
                    "A person from %(bot)s has joined the conversation and will answer "
                    "you personally.",
                    bot=user.bot.name,
                )
            )

        replies = await self._system_turn(user.address, decide)
        tr = mine_tr
        label = user.label(tr)
        if not replies:
            return _say(tr.gettext("%(user)s is already being answered in person.", user=label))
        told = await self._send(user.address, replies)
        log.info("a creator took over user %d of bot %s", user.number, user.bot.id)
        lines = [
            tr.gettext(
                "You're now talking with %(user)s, a user of %(bot)s.",
                user=label,
                bot=user.bot.name,
            )
        ]
        if user.last_text:
            lines.append(tr.gettext("Their last message: “%(text)s”", text=_quote(user.last_text)))
        lines.append(
            tr.gettext(
                "Everything you send me that isn't a command goes to them, and what they "
                "write comes here. %(bot)s stays silent until you send /release.",
                bot=user.bot.name,
            )
        )
        if not told:
            lines.append(tr.gettext("(I couldn't tell them you've joined just now.)"))
        if user.quiet_on_whatsapp(datetime.now(UTC)):
            lines.append(
                tr.gettext(
                    "They last wrote over a day ago: WhatsApp holds your messages until they "
                    "write again."
                )
            )
        return _say("\n".join(lines))

    async def _release(
        self, creator: Address, mine: Sequence[BotProfile], mine_tr: Translator
    ) -> list[OutboundMessage]:
        talking = await self._talking_with(creator, mine)
        if talking is None:
            return _say(
                mine_tr.gettext(
                    "You aren't talking with any user right now. /takeover lists your "
                    "agent's latest conversations."
                )
            )
        bot = talking.bot

        async def decide(result: TurnResult, wallet: Wallet | None) -> None:
            if result.state is not State.HANDOFF or taken_by(result.context) != creator:
                return
            result.move(Event.RELEASE)
            result.context.pop(TAKEN_BY, None)
            result.context.pop("flow", None)  # the chat state has no flow to go back to
            offers = menu(bot, result.tr)
            result.say(
                result.tr.gettext(
                    "You're back with %(bot)s, the assistant. Ask me anything, or pick "
                    "something to make.",
                    bot=bot.name,
                )
                if offers
                else result.tr.gettext(
                    "You're back with %(bot)s, the assistant. Ask me anything.", bot=bot.name
                ),
                offers,
            )

        replies = await self._system_turn(talking.address, decide)
        if replies and talking.reachable:
            await self._send(talking.address, replies)
        log.info("a creator handed user %d of bot %s back", talking.number, bot.id)
        return _say(
            mine_tr.gettext(
                "%(user)s is back with %(bot)s, which answers them again. I've let them know.",
                user=talking.label(mine_tr),
                bot=bot.name,
            )
        )

    async def _talking_with(
        self, creator: Address, mine: Sequence[BotProfile]
    ) -> UserConversation | None:
        """The user this creator has taken over, if any."""
        if not mine:
            return None
        taken = await self._users({b.id: b for b in mine}, state=State.HANDOFF)
        return next((u for u in taken if taken_by(u.context) == creator), None)

    async def _users(
        self,
        bots: dict[str, BotProfile],
        *,
        number: int | None = None,
        state: State | None = None,
        limit: int | None = None,
    ) -> list[UserConversation]:
        """End users of ``bots`` (the latest conversations first), with their last message;
        the bots' creators, when they try their own agent, are not among them."""
        query = (
            select(
                EndUser.id,
                EndUser.display_name,
                Conversation.id,
                Conversation.bot_id,
                Conversation.state,
                Conversation.context,
                ChannelIdentity.channel,
                ChannelIdentity.external_id,
                ChannelIdentity.reachable,
            )
            .join(Conversation, Conversation.end_user_id == EndUser.id)
            .join(ChannelIdentity, ChannelIdentity.end_user_id == EndUser.id)
            .where(Conversation.bot_id.in_(list(bots)))
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc(), ChannelIdentity.id)
        )
        if number is not None:
            query = query.where(EndUser.id == number)
        if state is not None:
            query = query.where(Conversation.state == state.value)
        async with self._db.read() as session:
            rows = list(await session.execute(query.limit(limit * 2) if limit else query))
            conversations = {row[2] for row in rows}
            latest = (
                select(func.max(Message.id))
                .where(Message.conversation_id.in_(conversations), Message.direction == "in")
                .group_by(Message.conversation_id)
            )
            said = {
                conversation: (text, as_utc(at))
                for conversation, text, at in await session.execute(
                    select(Message.conversation_id, Message.text, Message.created_at).where(
                        Message.id.in_(latest)
                    )
                )
            }
        users: dict[int, UserConversation] = {}
        for user_id, name, conversation, bot_id, at_state, context, channel, sender, ok in rows:
            if user_id in users:  # someone known on several channels: the first one
                continue
            if bots[bot_id].is_creator(channel, sender):  # the creator trying their agent
                continue
            text, at = said.get(conversation, ("", None))
            users[user_id] = UserConversation(
                number=user_id,
                bot=bots[bot_id],
                name=name,
                address=Address(bot_id, channel, sender),
                state=at_state,
                context=dict(context or {}),
                reachable=ok,
                last_text=text,
                last_at=at,
            )
        return list(users.values())[:limit]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def _ago(elapsed: timedelta, tr: Translator) -> str:
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return tr.gettext("just now")
    if minutes < 60:
        return tr.ngettext("%(count)s minute ago", "%(count)s minutes ago", minutes)
    if minutes < 48 * 60:
        return tr.ngettext("%(count)s hour ago", "%(count)s hours ago", minutes // 60)
    return tr.ngettext("%(count)s day ago", "%(count)s days ago", minutes // (24 * 60))


def _say(text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text)]
