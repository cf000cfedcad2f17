"""The creator's side of credits: ``/pricing`` to set prices, packs and plans, ``/grant``
to give a user credits. Both run in the creator's own chat with their bot and in the
manager bot, through :class:`bots.commands.CreatorCommands`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from billing.credits import Credits
from billing.pricing import Pack, Pricing, PricingError, Tier, parse_count, parse_price
from bots.profile import BotProfile
from bots.registry import BotDirectory
from core.content import ContentType
from core.storage.database import Database
from core.storage.models import ChannelIdentity
from core.text import counted

MAX_GRANT = 100_000
#: ledger entries an operator's report shows, newest first
REPORT_ENTRIES = 20

PRICING_HELP = """Set prices with:
/pricing cost meditation 3: what a meditation, affirmations or ritual costs
/pricing free 5: credits every new user gets
/pricing pack small 10 4.99: a pack of 10 credits for 4.99
/pricing plan monthly 9.99 100 20: a monthly plan with 100 credits and 20 free questions a day
/pricing questions 5 1: 5 free questions a day, then 1 credit each
/pricing remove small: stop selling a pack or plan
/pricing currency usd, /pricing off: make everything free"""


def sale_warning(pricing: Pricing, payments: bool) -> str | None:
    """Why users can't buy the packs and plans ``pricing`` offers, for the creator, or
    None (nothing on sale, or ``payments`` are set up)."""
    if payments or not (pricing.packs or pricing.tiers):
        return None
    return (
        "Users can't pay for these packs and plans yet: Stripe isn't configured on this "
        "server. Whoever runs it needs to set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET, "
        "so that payments are credited). Until then users are told to ask you, and /grant "
        "gives them credits."
    )


def describe(pricing: Pricing) -> str:
    """The pricing in a few lines, for the creator."""
    if not pricing.charges and not (pricing.packs or pricing.tiers or pricing.free_credits):
        return "Everything is free: nothing costs credits."
    lines = [f"New users get {counted(pricing.free_credits, 'free credit')}."]
    costs = [f"{t.value} {pricing.cost(t.value)}" for t in ContentType]
    lines.append("Costs in credits: " + ", ".join(costs) + ".")
    if pricing.question_cost:
        lines.append(
            f"Questions: {pricing.free_questions} free a day, then "
            f"{counted(pricing.question_cost, 'credit')} each."
        )
    lines += [
        f"Pack {p.id}: {counted(p.credits, 'credit')} for {pricing.money(p.price)}"
        for p in pricing.packs
    ]
    lines += [
        f"Plan {t.id}: {pricing.money(t.price)} a month, {counted(t.credits, 'credit')} a month"
        + (f", {t.questions} free questions a day" if t.questions else "")
        for t in pricing.tiers
    ]
    return "\n".join(lines)


class CreatorBilling:
    """Runs /pricing and /grant for a bot's creator."""

    def __init__(self, db: Database, bots: BotDirectory, credits: Credits) -> None:
        self._db = db
        self._bots = bots
        self._credits = credits

    async def pricing(self, bot: BotProfile, args: str) -> str:
        words = args.split()
        if not words:
            return f"{describe(bot.pricing)}{self._warning(bot.pricing)}\n\n{PRICING_HELP}"
        try:
            changed = _changed(bot.pricing, words)
        except PricingError as exc:
            return f"That didn't work: {exc}.\n\n{PRICING_HELP}"
        if changed is None:
            return PRICING_HELP
        stored = changed.to_dict() if changed != Pricing() else None
        await self._bots.change_settings(bot.id, pricing=stored)
        return f"Saved.\n{describe(changed)}{self._warning(changed)}"

    def _warning(self, pricing: Pricing) -> str:
        warning = sale_warning(pricing, self._credits.checkout is not None)
        return f"\n\n⚠️ {warning}" if warning else ""

    async def grant(self, bot: BotProfile, args: str) -> str:
        words = args.split()
        if len(words) != 2 or not words[1].lstrip("-").isdigit():
            return (
                "Send /grant USER N, where USER is channel:id as in telegram:123456 or "
                "whatsapp:+447700900123, and N the number of credits."
            )
        amount = int(words[1])
        if not 1 <= amount <= MAX_GRANT:
            return f"Grant between 1 and {MAX_GRANT:,} credits at a time."
        end_user = await self.find_user(bot.id, words[0])
        if end_user is None:
            return f"{words[0][:60]} hasn't talked to {bot.name} yet."
        balance = await self._credits.grant(bot, end_user, amount, f"grant:{uuid.uuid4().hex}")
        return f"Gave {counted(amount, 'credit')} to {words[0][:60]}; they have {balance} now."

    async def report(self, bot: BotProfile, who: str) -> str | None:
        """A user's credits as the bot's operator sees them (``chorus credits``): balance,
        plan and debt in the third person, then the latest ledger entries with their
        causes; None when ``who`` (``channel:id``) hasn't talked to the bot."""
        end_user = await self.find_user(bot.id, who)
        if end_user is None:
            return None
        ledger = self._credits.ledger
        account = await ledger.account(bot.id, end_user, bot.pricing.free_credits)
        entries = await ledger.entries(account.id, REPORT_ENTRIES)
        lines = [
            f"{who} has {counted(account.balance, 'credit')} with {bot.id} "
            f"(plan: {account.tier or 'none'})"
        ]
        if account.debt:
            lines.append(
                f"owes {counted(account.debt, 'credit')} after a refund; new credits pay that first"
            )
        if not entries:
            lines.append("no ledger entries yet")
            return "\n".join(lines)
        lines.append(f"latest {counted(len(entries), 'ledger entry', 'ledger entries')}:")
        lines += [
            f"  {e.created_at:%Y-%m-%d %H:%M}  {e.amount:+d}"
            + (f" (debt {e.debt_change:+d})" if e.debt_change else "")
            + f"  = {e.balance_after}  {e.kind}  ({e.cause})"
            for e in entries
        ]
        return "\n".join(lines)

    async def find_user(self, bot_id: str, who: str) -> int | None:
        """The end user behind ``channel:id`` (or a bare id on any one channel)."""
        channel, _, external = who.rpartition(":")
        query = select(ChannelIdentity.end_user_id).where(
            ChannelIdentity.bot_id == bot_id, ChannelIdentity.external_id == external[:200]
        )
        if channel:
            query = query.where(ChannelIdentity.channel == channel)
        async with self._db.read() as session:
            found = list(await session.scalars(query.limit(2)))
        return found[0] if len(found) == 1 else None


def _changed(pricing: Pricing, words: list[str]) -> Pricing | None:
    what, rest = words[0].lower(), words[1:]
    if what == "off":
        return Pricing(currency=pricing.currency)
    if what == "cost" and len(rest) == 2:
        kind = rest[0].lower()
        if kind not in {t.value for t in ContentType}:
            raise PricingError(
                f"{kind[:20]!r} isn't something I make (meditation, affirmations, ritual)"
            )
        return pricing.with_cost(kind, parse_count(rest[1], "the cost"))
    if what == "free" and len(rest) == 1:
        return _valid(
            Pricing.from_dict(
                {**pricing.to_dict(), "free_credits": parse_count(rest[0], "free credits")}
            )
        )
    if what == "pack" and len(rest) == 3:
        return pricing.with_pack(
            Pack(rest[0].lower(), parse_count(rest[1], "the credits"), parse_price(rest[2]))
        )
    if what == "plan" and len(rest) in (3, 4):
        questions = parse_count(rest[3], "free questions") if len(rest) == 4 else 0
        return pricing.with_tier(
            Tier(
                rest[0].lower(),
                parse_price(rest[1]),
                parse_count(rest[2], "the credits"),
                questions,
            )
        )
    if what == "questions" and len(rest) == 2:
        return _valid(
            Pricing.from_dict(
                {
                    **pricing.to_dict(),
                    "free_questions": parse_count(rest[0], "free questions"),
                    "question_cost": parse_count(rest[1], "the cost of a question"),
                }
            )
        )
    if what == "remove" and len(rest) == 1:
        return pricing.without(rest[0].lower())
    if what == "currency" and len(rest) == 1:
        return _valid(Pricing.from_dict({**pricing.to_dict(), "currency": rest[0].lower()}))
    return None


def _valid(pricing: Pricing) -> Pricing:
    pricing.check()
    return pricing
