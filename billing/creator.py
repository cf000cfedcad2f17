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
from core.i18n.translator import ENGLISH, N_, SOURCE_LANGUAGE, Translator
from core.storage.database import Database
from core.storage.models import ChannelIdentity
from core.text import counted

MAX_GRANT = 100_000
#: ledger entries an operator's report shows, newest first
REPORT_ENTRIES = 20

PRICING_HELP = N_(
    """Set prices with:
/pricing cost meditation 3: what a meditation, affirmations or ritual costs
/pricing free 5: credits every new user gets
/pricing pack small 10 4.99: a pack of 10 credits for 4.99
/pricing plan monthly 9.99 100 20: a monthly plan with 100 credits and 20 free questions a day
/pricing questions 5 1: 5 free questions a day, then 1 credit each
/pricing remove small: stop selling a pack or plan
/pricing currency usd, /pricing off: make everything free"""
)


def sale_warning(pricing: Pricing, payments: bool, tr: Translator = ENGLISH) -> str | None:
    """Why users can't buy the packs and plans ``pricing`` offers, for the creator, or
    None (nothing on sale, or ``payments`` are set up)."""
    if payments or not (pricing.packs or pricing.tiers):
        return None
    return tr.gettext(
        "Users can't pay for these packs and plans yet: Stripe isn't configured on this "
        "server. Whoever runs it needs to set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET, "
        "so that payments are credited). Until then users are told to ask you, and /grant "
        "gives them credits."
    )


def money(pricing: Pricing, amount: int, tr: Translator = ENGLISH) -> str:
    """``amount`` minor units of the pricing's currency as ``tr``'s language writes
    money: "€5.00", "5,00 €", "5,00 €" (Babel, loaded only for another language)."""
    if tr.language == SOURCE_LANGUAGE:
        return pricing.money(amount)
    from babel.numbers import format_currency

    return format_currency(amount / 100, pricing.currency.upper(), locale=tr.language)


def pricing_problem(exc: PricingError, tr: Translator = ENGLISH) -> str:
    """What is wrong with a price the creator gave, in ``tr``'s language (English keeps
    its fuller words, which name the field)."""
    if tr.language == SOURCE_LANGUAGE:
        return str(exc)
    params = {k: tr.number(v) if isinstance(v, int) else v for k, v in exc.params.items()}
    return tr.gettext(exc.template, **params)


def describe(pricing: Pricing, tr: Translator = ENGLISH) -> str:
    """The pricing in a few lines, for the creator."""
    if not pricing.charges and not (pricing.packs or pricing.tiers or pricing.free_credits):
        return tr.gettext("Everything is free: nothing costs credits.")
    lines = [
        tr.ngettext(
            "New users get %(count)s free credit.",
            "New users get %(count)s free credits.",
            pricing.free_credits,
        )
    ]
    costs = {t.value: tr.number(pricing.cost(t.value)) for t in ContentType}
    lines.append(
        tr.gettext(
            "Costs in credits: meditation %(meditation)s, affirmations %(affirmations)s, "
            "ritual %(ritual)s.",
            **costs,
        )
    )
    if pricing.question_cost:
        lines.append(
            tr.ngettext(
                "Questions: %(free)s free a day, then %(count)s credit each.",
                "Questions: %(free)s free a day, then %(count)s credits each.",
                pricing.question_cost,
                free=tr.number(pricing.free_questions),
            )
        )
    lines += [
        tr.ngettext(
            "Pack %(id)s: %(count)s credit for %(price)s",
            "Pack %(id)s: %(count)s credits for %(price)s",
            p.credits,
            id=p.id,
            price=money(pricing, p.price, tr),
        )
        for p in pricing.packs
    ]
    for t in pricing.tiers:
        price = money(pricing, t.price, tr)
        if t.questions:
            lines.append(
                tr.ngettext(
                    "Plan %(id)s: %(price)s a month, %(count)s credit a month, "
                    "%(questions)s free questions a day",
                    "Plan %(id)s: %(price)s a month, %(count)s credits a month, "
                    "%(questions)s free questions a day",
                    t.credits,
                    id=t.id,
                    price=price,
                    questions=tr.number(t.questions),
                )
            )
        else:
            lines.append(
                tr.ngettext(
                    "Plan %(id)s: %(price)s a month, %(count)s credit a month",
                    "Plan %(id)s: %(price)s a month, %(count)s credits a month",
                    t.credits,
                    id=t.id,
                    price=price,
                )
            )
    return "\n".join(lines)


class CreatorBilling:
    """Runs /pricing and /grant for a bot's creator."""

    def __init__(self, db: Database, bots: BotDirectory, credits: Credits) -> None:
        self._db = db
        self._bots = bots
        self._credits = credits

    async def pricing(self, bot: BotProfile, args: str, *, tr: Translator = ENGLISH) -> str:
        """``/pricing`` (the prices, and how to change them) and its changes, in ``tr``'s
        language."""
        words = args.split()
        help_text = tr.gettext(PRICING_HELP)
        if not words:
            return f"{describe(bot.pricing, tr)}{self._warning(bot.pricing, tr)}\n\n{help_text}"
        try:
            changed = _changed(bot.pricing, words)
        except PricingError as exc:
            problem = tr.gettext("That didn't work: %(reason)s.", reason=pricing_problem(exc, tr))
            return f"{problem}\n\n{help_text}"
        if changed is None:
            return help_text
        stored = changed.to_dict() if changed != Pricing() else None
        await self._bots.change_settings(bot.id, pricing=stored)
        saved = tr.gettext("Saved.")
        return f"{saved}\n{describe(changed, tr)}{self._warning(changed, tr)}"

    def _warning(self, pricing: Pricing, tr: Translator) -> str:
        warning = sale_warning(pricing, self._credits.checkout is not None, tr)
        return f"\n\n⚠️ {warning}" if warning else ""

    async def grant(self, bot: BotProfile, args: str, *, tr: Translator = ENGLISH) -> str:
        """``/grant USER N``: give a user credits, told in ``tr``'s language."""
        words = args.split()
        if len(words) != 2 or not words[1].lstrip("-").isdigit():
            return tr.gettext(
                "Send /grant USER N, where USER is channel:id as in telegram:123456 or "
                "whatsapp:+447700900123, and N the number of credits."
            )
        amount = int(words[1])
        if not 1 <= amount <= MAX_GRANT:
            return tr.gettext(
                "Grant between 1 and %(most)s credits at a time.", most=tr.number(MAX_GRANT)
            )
        end_user = await self.find_user(bot.id, words[0])
        if end_user is None:
            return tr.gettext(
                "%(user)s hasn't talked to %(bot)s yet.", user=words[0][:60], bot=bot.name
            )
        balance = await self._credits.grant(bot, end_user, amount, f"grant:{uuid.uuid4().hex}")
        return tr.ngettext(
            "Gave %(count)s credit to %(user)s; they have %(balance)s now.",
            "Gave %(count)s credits to %(user)s; they have %(balance)s now.",
            amount,
            user=words[0][:60],
            balance=tr.number(balance),
        )

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
                N_("%(kind)s isn't something I make (meditation, affirmations, ritual)"),
                kind=repr(kind[:20]),
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
