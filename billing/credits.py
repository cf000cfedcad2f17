"""End users' credits as the conversation sees them: wallets, /credits, /buy, and holds.

:class:`Credits` hands the engine a :class:`UserWallet` per turn (the dialogue reserves a
content job's cost with it, pays for questions beyond the free daily quota, and shows a
bot's offers) and is the studio's :class:`~core.conversation.studio.CreditHold`: it captures a job's
hold on delivery and releases it on failure. An account is opened, with the bot's free
credits, the first time anything needs it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from billing import ledger as books
from billing.checkout import Buyer, Checkout, PaymentsUnavailable
from billing.ledger import Ledger, NotEnoughCredits
from billing.pricing import Pricing
from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.conversation.turn import Charge
from core.messages import Button, OutboundMessage
from core.storage.database import Database
from core.storage.models import ContentJob, CreditAccount, Payment, QuestionUsage
from core.text import counted

log = logging.getLogger("chorus.billing")

RECENT = 5
KIND_LABELS = {
    "free_grant": "welcome credits",
    "purchase": "bought",
    "creator_grant": "gift from the creator",
    "allowance": "monthly plan",
    "reserve": "set aside for content",
    "capture": "content delivered",
    "release": "returned (not delivered)",
    "question": "question",
    "reversal": "refund",
    "link_out": "moved to the joined account",
    "link_in": "joined from your other chat",
}


def offer_buttons(pricing: Pricing) -> tuple[Button, ...]:
    """A button per pack and per monthly tier."""
    packs = tuple(
        Button(f"{p.credits} credits · {pricing.money(p.price)}", f"buy:{p.id}")
        for p in pricing.packs
    )
    tiers = tuple(
        Button(f"{t.id.title()} · {pricing.money(t.price)}/month", f"buy:{t.id}")
        for t in pricing.tiers
    )
    return packs + tiers


def credits_help(bot: BotProfile, creator_reachable: bool) -> str:
    """Who can help a user who needs credits where none are on sale: the bot's creator,
    through ``/human`` when they can be reached from the chat."""
    if creator_reachable:
        return f"{bot.name}'s creator can give you credits: send /human and I'll let them know."
    return (
        f"{bot.name}'s creator can give you credits; I can't reach them from here, so "
        f"please contact them where you found {bot.name}."
    )


class Credits:
    """Credits for a server's bots: wallets for turns, holds for the studio."""

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        ledger: Ledger,
        checkout: Checkout | None = None,
    ) -> None:
        self._db = db
        self._bots = bots
        self.ledger = ledger
        self.checkout = checkout

    def wallet(
        self,
        bot: BotProfile,
        end_user_id: int | None,
        channel: str,
        sender_id: str,
        *,
        creator_reachable: bool = False,
    ) -> UserWallet:
        return UserWallet(
            self, bot, end_user_id, channel, sender_id, creator_reachable=creator_reachable
        )

    async def settle(self, hold: str, *, spend: bool) -> None:
        if spend:
            await self.ledger.capture(hold)
        else:
            await self.ledger.release(hold)

    # -- the studio's holds ----------------------------------------------------------------

    async def reserve(self, job: ContentJob) -> str | None:
        """Hold a job's cost (a job confirmed before the bot charged for it, say)."""
        bot = await self._bots.get(job.bot_id)
        cost = bot.pricing.cost(job.content_type)
        if not cost:
            return None
        account = await self.ledger.account(bot.id, job.end_user_id, bot.pricing.free_credits)
        return await self.ledger.reserve(account.id, cost, f"job:{job.id}")

    async def capture(self, reservation: str) -> None:
        await self.ledger.capture(reservation)

    async def release(self, reservation: str) -> None:
        await self.ledger.release(reservation)

    async def subscribed(self, end_user_id: int) -> bool:
        """Whether the user is on a monthly plan."""
        async with self._db.read() as session:
            tier = await session.scalar(
                select(CreditAccount.tier).where(CreditAccount.end_user_id == end_user_id)
            )
        return tier is not None

    async def grant(self, bot: BotProfile, end_user_id: int, amount: int, key: str) -> int:
        """A creator's gift of ``amount`` credits; returns the new balance."""
        account = await self.ledger.account(bot.id, end_user_id, bot.pricing.free_credits)
        entry = await self.ledger.post(
            account.id, kind="creator_grant", amount=amount, key=key, cause=f"creator:{bot.id}"
        )
        return entry.balance_after

    async def statement(self, bot: BotProfile, end_user_id: int | None) -> str:
        """Balance, plan, today's free questions, prices and the latest entries; on a bot
        where nothing costs credits, just that."""
        pricing = bot.pricing
        if not pricing.charges:
            return f"Everything on {bot.name} is free: you don't need credits."
        if end_user_id is None:
            balance, debt, tier, entries = pricing.free_credits, 0, None, []
        else:
            account = await self.ledger.account(bot.id, end_user_id, pricing.free_credits)
            balance, debt, tier = account.balance, account.debt, account.tier
            entries = await self.ledger.entries(account.id, RECENT)
        lines = [f"You have {counted(balance, 'credit')}."]
        if debt:
            lines.append(
                f"A refund left {counted(debt, 'credit')} owed; new credits pay that first."
            )
        if (plan := pricing.tier(tier)) is not None:
            lines.append(
                f"Your plan: {plan.id}, {counted(plan.credits, 'credit')} a month"
                + (f" and {plan.questions} free questions a day." if plan.questions else ".")
            )
        if pricing.question_cost:
            used = await self._questions_used(end_user_id)
            free = pricing.daily_questions(tier)
            lines.append(
                f"Free questions left today: {max(free - used, 0)} of {free}; after that a "
                f"question costs {counted(pricing.question_cost, 'credit')}."
            )
        if costs := [f"{kind} {cost}" for kind, cost in sorted(pricing.costs.items()) if cost]:
            lines.append("Prices in credits: " + ", ".join(costs) + ".")
        if entries:
            lines.append("Latest:")
            lines += [
                f"{e.created_at:%d %b} {e.amount:+d} {KIND_LABELS.get(e.kind, e.kind)}"
                for e in entries
                if e.amount or e.debt_change
            ]
        return "\n".join(lines)

    async def _questions_used(self, end_user_id: int | None) -> int:
        if end_user_id is None:
            return 0
        async with self._db.read() as session:
            used = await session.scalar(
                select(QuestionUsage.used)
                .join_from(QuestionUsage, CreditAccount)
                .where(CreditAccount.end_user_id == end_user_id, QuestionUsage.day == today())
            )
        return used or 0


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


class UserWallet:
    """One end user's credits with one bot, for the turn at hand."""

    def __init__(
        self,
        credits: Credits,
        bot: BotProfile,
        end_user_id: int | None,
        channel: str,
        sender_id: str,
        *,
        creator_reachable: bool = False,
    ) -> None:
        self._credits = credits
        self._bot = bot
        self._user = end_user_id
        self._channel = channel
        self._sender = sender_id
        self._reachable = creator_reachable

    async def _account_id(self) -> int:
        if self._user is None:
            raise LookupError("the user is not stored yet")
        account = await self._credits.ledger.account(
            self._bot.id, self._user, self._bot.pricing.free_credits
        )
        return account.id

    async def balance(self) -> int:
        if self._user is None:
            return self._bot.pricing.free_credits
        return (await self._credits.ledger.get(await self._account_id())).balance

    async def reserve(self, cost: int, cause: str) -> Charge:
        account_id = await self._account_id()
        try:
            return Charge(hold=await self._credits.ledger.reserve(account_id, cost, cause))
        except NotEnoughCredits as exc:
            return Charge(short=True, balance=exc.balance)

    async def question(self) -> Charge:
        """Free while today's quota lasts; then the question's cost is held. A new user's
        very first message is free (their account opens with it)."""
        pricing = self._bot.pricing
        if self._user is None:
            return Charge()
        account_id = await self._account_id()
        ledger = self._credits.ledger
        async with self._credits._db.transaction() as session:
            account = await books.locked(session, account_id)
            usage = await session.get(QuestionUsage, (account_id, today()))
            if usage is None:
                usage = QuestionUsage(account_id=account_id, day=today(), used=0)
                session.add(usage)
            usage.used += 1
            if usage.used <= pricing.daily_questions(account.tier):
                return Charge()
            try:
                hold = await books.hold(
                    session,
                    account_id,
                    pricing.question_cost,
                    f"question:{account_id}:{today()}:{usage.used}",
                    ledger.expires_at(),
                )
            except NotEnoughCredits as exc:
                usage.used -= 1
                return Charge(short=True, balance=exc.balance)
            return Charge(hold=hold)

    async def settle(self, hold: str, *, spend: bool) -> None:
        await self._credits.settle(hold, spend=spend)

    def offers(self) -> tuple[Button, ...]:
        return offer_buttons(self._bot.pricing) if self._credits.checkout is not None else ()

    def help(self) -> str:
        return credits_help(self._bot, self._reachable)

    async def command(self, name: str, args: str) -> list[OutboundMessage]:
        if name == "credits":
            text = await self._credits.statement(self._bot, self._user)
            offers = self.offers() if self._bot.pricing.charges else ()
            return [OutboundMessage(text=text, buttons=offers)]
        if name == "buy":
            return [await self._buy(args.strip().lower())]
        if name == "checkout":
            return [await self._returned(args)]
        raise ValueError(f"not a credits command: {name}")

    async def _buy(self, offer_id: str) -> OutboundMessage:
        pricing = self._bot.pricing
        checkout = self._credits.checkout
        if checkout is None or not (pricing.packs or pricing.tiers):
            return OutboundMessage(
                text=f"Purchases aren't available on {self._bot.name} yet. {self.help()}"
            )
        if not offer_id:
            lines = ["Choose a pack:"] + [
                f"• {p.credits} credits for {pricing.money(p.price)} (/buy {p.id})"
                for p in pricing.packs
            ]
            lines += [
                f"• {t.id.title()}: {pricing.money(t.price)} a month for "
                f"{counted(t.credits, 'credit')} a month (/buy {t.id})"
                for t in pricing.tiers
            ]
            return OutboundMessage(text="\n".join(lines), buttons=self.offers())
        if self._user is None:
            return OutboundMessage(text="Say hello first, then /buy again.")
        buyer = Buyer(self._bot, await self._account_id(), self._channel, self._sender)
        try:
            payment = await checkout.start(buyer, offer_id)
        except PaymentsUnavailable as exc:
            return OutboundMessage(
                text=f"I couldn't open the payment page: {exc}. Please try again in a moment.",
                buttons=self.offers(),
            )
        what = (
            f"{payment.credits} credits"
            if payment.mode == "payment"
            else f"the {payment.offer} plan ({payment.credits} credits a month)"
        )
        return OutboundMessage(
            text=f"Here's a secure Stripe page to buy {what} for "
            f"{pricing.money(payment.amount)}. I'll tell you here as soon as it's paid.",
            buttons=(Button("Pay with Stripe", url=payment.url),),
        )

    async def _returned(self, args: str) -> OutboundMessage:
        """Back from Checkout through a deep link (``paid_ID`` or ``unpaid_ID``)."""
        status, _, session_id = args.partition("_")
        async with self._credits._db.read() as session:
            payment = await session.get(Payment, session_id.strip()[:255])
        mine = payment is not None and self._user is not None
        if mine and payment is not None:
            mine = payment.account_id == await self._account_id()
        if status == "unpaid" or not mine or payment is None:
            return OutboundMessage(
                text="No payment was taken. /buy whenever you're ready.", buttons=self.offers()
            )
        if payment.status == "paid":
            return OutboundMessage(
                text=f"Your payment is through: you have {counted(await self.balance(), 'credit')}."
            )
        return OutboundMessage(
            text="Thank you! I'll confirm here as soon as Stripe tells me the payment went through."
        )
