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
from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Button, OutboundMessage
from core.storage.database import Database
from core.storage.models import ContentJob, CreditAccount, Payment, QuestionUsage

log = logging.getLogger("chorus.billing")

RECENT = 5
KIND_LABELS = {
    "free_grant": N_("welcome credits"),
    "purchase": N_("bought"),
    "creator_grant": N_("gift from the creator"),
    "allowance": N_("monthly plan"),
    "reserve": N_("set aside for content"),
    "capture": N_("content delivered"),
    "release": N_("returned (not delivered)"),
    "question": N_("question"),
    "reversal": N_("refund"),
    "link_out": N_("moved to the joined account"),
    "link_in": N_("joined from your other chat"),
}


def offer_buttons(pricing: Pricing, tr: Translator = ENGLISH) -> tuple[Button, ...]:
    """A button per pack and per monthly tier (its payload the offer's id)."""
    packs = tuple(
        Button(
            tr.ngettext(
                "%(count)s credit · %(price)s",
                "%(count)s credits · %(price)s",
                p.credits,
                price=pricing.money(p.price),
            ),
            f"buy:{p.id}",
        )
        for p in pricing.packs
    )
    tiers = tuple(
        Button(
            tr.gettext(
                "%(plan)s · %(price)s/month", plan=t.id.title(), price=pricing.money(t.price)
            ),
            f"buy:{t.id}",
        )
        for t in pricing.tiers
    )
    return packs + tiers


def credits_help(bot: BotProfile, creator_reachable: bool, tr: Translator = ENGLISH) -> str:
    """Who can help a user who needs credits where none are on sale: the bot's creator,
    through ``/human`` when they can be reached from the chat."""
    if creator_reachable:
        return tr.gettext(
            "%(bot)s's creator can give you credits: send /human and I'll let them know.",
            bot=bot.name,
        )
    return tr.gettext(
        "%(bot)s's creator can give you credits; I can't reach them from here, so "
        "please contact them where you found %(bot)s.",
        bot=bot.name,
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
        tr: Translator = ENGLISH,
    ) -> UserWallet:
        return UserWallet(
            self, bot, end_user_id, channel, sender_id, creator_reachable=creator_reachable, tr=tr
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

    async def statement(
        self, bot: BotProfile, end_user_id: int | None, tr: Translator = ENGLISH
    ) -> str:
        """Balance, plan, today's free questions, prices and the latest entries; on a bot
        where nothing costs credits, just that."""
        pricing = bot.pricing
        if not pricing.charges:
            return tr.gettext(
                "Everything on %(bot)s is free: you don't need credits.", bot=bot.name
            )
        if end_user_id is None:
            balance, debt, tier, entries = pricing.free_credits, 0, None, []
        else:
            account = await self.ledger.account(bot.id, end_user_id, pricing.free_credits)
            balance, debt, tier = account.balance, account.debt, account.tier
            entries = await self.ledger.entries(account.id, RECENT)
        lines = [tr.ngettext("You have %(count)s credit.", "You have %(count)s credits.", balance)]
        if debt:
            lines.append(
                tr.ngettext(
                    "A refund left %(count)s credit owed; new credits pay that first.",
                    "A refund left %(count)s credits owed; new credits pay that first.",
                    debt,
                )
            )
        if (plan := pricing.tier(tier)) is not None:
            lines.append(_plan_line(tr, plan.id, plan.credits, plan.questions))
        if pricing.question_cost:
            used = await self._questions_used(end_user_id)
            free = pricing.daily_questions(tier)
            lines.append(
                tr.ngettext(
                    "Free questions left today: %(left)s of %(free)s; after that a question "
                    "costs %(count)s credit.",
                    "Free questions left today: %(left)s of %(free)s; after that a question "
                    "costs %(count)s credits.",
                    pricing.question_cost,
                    left=max(free - used, 0),
                    free=free,
                )
            )
        if costs := [_price_line(tr, kind, cost) for kind, cost in pricing.costs.items() if cost]:
            lines.append(tr.gettext("What I can make for you costs:"))
            lines += sorted(costs)
        if entries:
            lines.append(tr.gettext("Latest:"))
            lines += [
                f"{tr.day_month(e.created_at)} {e.amount:+d} {_kind(tr, e.kind)}"
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


def _plan_line(tr: Translator, plan: str, credits: int, questions: int) -> str:
    """``Your plan: gold, 100 credits a month and 5 free questions a day.``"""
    if questions:
        return tr.ngettext(
            "Your plan: %(plan)s, %(count)s credit a month and %(questions)s free questions a day.",
            "Your plan: %(plan)s, %(count)s credits a month and %(questions)s free questions "
            "a day.",
            credits,
            plan=plan,
            questions=questions,
        )
    return tr.ngettext(
        "Your plan: %(plan)s, %(count)s credit a month.",
        "Your plan: %(plan)s, %(count)s credits a month.",
        credits,
        plan=plan,
    )


def _kind(tr: Translator, kind: str) -> str:
    """A ledger entry's kind in words (an unknown kind as it is stored)."""
    return tr.gettext(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


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
        tr: Translator = ENGLISH,
    ) -> None:
        self._credits = credits
        self._bot = bot
        self._user = end_user_id
        self._channel = channel
        self._sender = sender_id
        self._reachable = creator_reachable
        self._tr = tr

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
        if self._credits.checkout is None:
            return ()
        return offer_buttons(self._bot.pricing, self._tr)

    def help(self) -> str:
        return credits_help(self._bot, self._reachable, self._tr)

    async def command(self, name: str, args: str) -> list[OutboundMessage]:
        if name == "credits":
            text = await self._credits.statement(self._bot, self._user, self._tr)
            offers = self.offers() if self._bot.pricing.charges else ()
            return [OutboundMessage(text=text, buttons=offers)]
        if name == "buy":
            return [await self._buy(args.strip().lower())]
        if name == "checkout":
            return [await self._returned(args)]
        raise ValueError(f"not a credits command: {name}")

    async def _buy(self, offer_id: str) -> OutboundMessage:
        tr = self._tr
        pricing = self._bot.pricing
        checkout = self._credits.checkout
        if checkout is None or not (pricing.packs or pricing.tiers):
            unavailable = tr.gettext(
                "Purchases aren't available on %(bot)s yet.", bot=self._bot.name
            )
            return OutboundMessage(text=f"{unavailable} {self.help()}")
        if not offer_id:
            lines = [tr.gettext("Choose a pack:")]
            lines += [
                tr.ngettext(
                    "• %(count)s credit for %(price)s (/buy %(offer)s)",
                    "• %(count)s credits for %(price)s (/buy %(offer)s)",
                    p.credits,
                    price=pricing.money(p.price),
                    offer=p.id,
                )
                for p in pricing.packs
            ]
            lines += [
                tr.ngettext(
                    "• %(plan)s: %(price)s a month for %(count)s credit a month (/buy %(offer)s)",
                    "• %(plan)s: %(price)s a month for %(count)s credits a month (/buy %(offer)s)",
                    t.credits,
                    plan=t.id.title(),
                    price=pricing.money(t.price),
                    offer=t.id,
                )
                for t in pricing.tiers
            ]
            return OutboundMessage(text="\n".join(lines), buttons=self.offers())
        if self._user is None:
            return OutboundMessage(text=tr.gettext("Say hello first, then /buy again."))
        buyer = Buyer(self._bot, await self._account_id(), self._channel, self._sender)
        try:
            payment = await checkout.start(buyer, offer_id)
        except PaymentsUnavailable as exc:
            return OutboundMessage(
                text=tr.gettext(
                    "I couldn't open the payment page: %(reason)s. Please try again in a moment.",
                    reason=str(exc),
                ),
                buttons=self.offers(),
            )
        price = pricing.money(payment.amount)
        if payment.mode == "payment":
            text = tr.ngettext(
                "Here's a secure Stripe page to buy %(count)s credit for %(price)s. "
                "I'll tell you here as soon as it's paid.",
                "Here's a secure Stripe page to buy %(count)s credits for %(price)s. "
                "I'll tell you here as soon as it's paid.",
                payment.credits,
                price=price,
            )
        else:
            text = tr.ngettext(
                "Here's a secure Stripe page to buy the %(plan)s plan (%(count)s credit a "
                "month) for %(price)s. I'll tell you here as soon as it's paid.",
                "Here's a secure Stripe page to buy the %(plan)s plan (%(count)s credits a "
                "month) for %(price)s. I'll tell you here as soon as it's paid.",
                payment.credits,
                plan=payment.offer,
                price=price,
            )
        return OutboundMessage(
            text=text, buttons=(Button(tr.gettext("Pay with Stripe"), url=payment.url),)
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
                text=self._tr.gettext("No payment was taken. /buy whenever you're ready."),
                buttons=self.offers(),
            )
        if payment.status == "paid":
            return OutboundMessage(
                text=self._tr.ngettext(
                    "Your payment is through: you have %(count)s credit.",
                    "Your payment is through: you have %(count)s credits.",
                    await self.balance(),
                )
            )
        return OutboundMessage(
            text=self._tr.gettext(
                "Thank you! I'll confirm here as soon as Stripe tells me the payment went through."
            )
        )


def _price_line(tr: Translator, kind: str, cost: int) -> str:
    """What one type of content costs, as a whole sentence per type (a type's name put
    into a translated frame would not agree with it in every language)."""
    if kind == "meditation":
        return tr.ngettext(
            "• a guided meditation: %(count)s credit",
            "• a guided meditation: %(count)s credits",
            cost,
        )
    if kind == "affirmations":
        return tr.ngettext(
            "• a set of affirmations: %(count)s credit",
            "• a set of affirmations: %(count)s credits",
            cost,
        )
    if kind == "ritual":
        return tr.ngettext("• a ritual: %(count)s credit", "• a ritual: %(count)s credits", cost)
    return f"• {kind}: {tr.number(cost)}"  # a type this version doesn't know: its code
