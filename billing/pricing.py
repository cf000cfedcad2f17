"""A bot's prices: what content costs, the credit packs and monthly tiers on sale, the free
credits a new user gets and the questions they may ask free each day.

The creator sets them with ``/pricing``; they are kept in the bot's settings as the plain
dictionary :meth:`Pricing.to_dict` gives. A bot without pricing is free: nothing is
reserved, captured or shown. Money is in the currency's minor unit (cents).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.content import ContentType
from core.i18n.translator import N_

MAX_CREDITS = 1_000_000
MAX_PRICE = 1_000_000  # 10,000.00 in the currency's minor unit
MAX_OFFERS = 6
CURRENCIES = frozenset({"eur", "usd", "gbp", "chf", "cad", "aud", "sek", "nok", "dkk", "pln"})
OFFER_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class PricingError(ValueError):
    """A price, pack or tier a creator gave that cannot be used; the message says why.

    ``template`` and ``params`` say it in the creator's language through the gettext
    catalogues; ``detail`` is a fuller English message (naming the field) when it differs."""

    def __init__(self, template: str, *, detail: str | None = None, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(detail or (template % params if params else template))


@dataclass(frozen=True, slots=True)
class Pack:
    """Credits sold once: ``credits`` for ``price`` (minor units)."""

    id: str
    credits: int
    price: int


@dataclass(frozen=True, slots=True)
class Tier:
    """A monthly subscription: ``price`` a month buys ``credits`` each month and
    ``questions`` free questions a day."""

    id: str
    price: int
    credits: int
    questions: int = 0


@dataclass(frozen=True, slots=True)
class Pricing:
    """Everything a bot charges for; the default is free."""

    currency: str = "eur"
    free_credits: int = 0
    costs: dict[str, int] = field(default_factory=dict)
    packs: tuple[Pack, ...] = ()
    tiers: tuple[Tier, ...] = ()
    # questions beyond the day's free ones cost this much (0: questions are always free)
    question_cost: int = 0
    free_questions: int = 0

    @property
    def charges(self) -> bool:
        """Whether anything costs credits."""
        return any(self.costs.values()) or self.question_cost > 0

    def cost(self, content_type: str) -> int:
        return self.costs.get(content_type, 0)

    def pack(self, offer_id: str) -> Pack | None:
        return next((p for p in self.packs if p.id == offer_id), None)

    def tier(self, tier_id: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def daily_questions(self, tier_id: str | None) -> int:
        """Free questions a day for a user on ``tier_id`` (None: no subscription)."""
        tier = self.tier(tier_id)
        return tier.questions if tier is not None else self.free_questions

    def money(self, amount: int) -> str:
        """``amount`` minor units as text: "€5.00"."""
        symbol = {"eur": "€", "usd": "$", "gbp": "£"}.get(self.currency)
        value = f"{amount / 100:,.2f}"
        return f"{symbol}{value}" if symbol else f"{value} {self.currency.upper()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "free_credits": self.free_credits,
            "costs": dict(self.costs),
            "packs": [{"id": p.id, "credits": p.credits, "price": p.price} for p in self.packs],
            "tiers": [
                {"id": t.id, "price": t.price, "credits": t.credits, "questions": t.questions}
                for t in self.tiers
            ],
            "question_cost": self.question_cost,
            "free_questions": self.free_questions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Pricing:
        """Pricing as stored; raises :class:`PricingError` for anything out of range."""
        if not data:
            return cls()
        try:
            pricing = cls(
                currency=str(data.get("currency", "eur")),
                free_credits=int(data.get("free_credits", 0)),
                costs={str(k): int(v) for k, v in (data.get("costs") or {}).items()},
                packs=tuple(
                    Pack(str(p["id"]), int(p["credits"]), int(p["price"]))
                    for p in data.get("packs") or ()
                ),
                tiers=tuple(
                    Tier(str(t["id"]), int(t["price"]), int(t["credits"]), int(t["questions"]))
                    for t in data.get("tiers") or ()
                ),
                question_cost=int(data.get("question_cost", 0)),
                free_questions=int(data.get("free_questions", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PricingError(
                N_("the stored pricing is malformed (%(problem)s)"), problem=exc
            ) from exc
        pricing.check()
        return pricing

    def check(self) -> None:
        """Raise :class:`PricingError` unless every value is in range."""
        if self.currency not in CURRENCIES:
            raise PricingError(
                N_("%(currency)s isn't a currency I can charge in (%(currencies)s)"),
                currency=repr(self.currency),
                currencies=", ".join(sorted(CURRENCIES)),
            )
        _count("free credits", self.free_credits)
        _count("the cost of a question", self.question_cost)
        _count("free questions a day", self.free_questions)
        for name, cost in self.costs.items():
            if name not in {t.value for t in ContentType}:
                raise PricingError(N_("%(name)s isn't something I make"), name=repr(name))
            _count(f"the cost of a {name}", cost)
        offers: tuple[Pack, ...] | tuple[Tier, ...]
        for offers in (self.packs, self.tiers):
            if len(offers) > MAX_OFFERS:
                raise PricingError(N_("at most %(most)s packs and %(most)s tiers"), most=MAX_OFFERS)
            ids = [o.id for o in offers]
            if len(set(ids)) != len(ids):
                raise PricingError(N_("two offers have the same name"))
        every: list[Pack | Tier] = [*self.packs, *self.tiers]
        for offer in every:
            if not OFFER_ID.fullmatch(offer.id):
                raise PricingError(
                    N_(
                        "%(id)s can't name an offer: use up to 32 lower-case letters, "
                        "digits, - or _"
                    ),
                    id=repr(offer.id[:40]),
                )
            _count(f"the credits of {offer.id}", offer.credits, least=1)
            if not 50 <= offer.price <= MAX_PRICE:
                raise PricingError(
                    N_("the price of %(id)s must be between %(least)s and %(most)s"),
                    id=offer.id,
                    least=self.money(50),
                    most=self.money(MAX_PRICE),
                )
        for tier in self.tiers:
            _count(f"the free questions of {tier.id}", tier.questions)

    def with_pack(self, pack: Pack) -> Pricing:
        return _checked(replace(self, packs=(*[p for p in self.packs if p.id != pack.id], pack)))

    def with_tier(self, tier: Tier) -> Pricing:
        return _checked(replace(self, tiers=(*[t for t in self.tiers if t.id != tier.id], tier)))

    def without(self, offer_id: str) -> Pricing:
        if self.pack(offer_id) is None and self.tier(offer_id) is None:
            raise PricingError(N_("there is no pack or tier called %(id)s"), id=repr(offer_id))
        return replace(
            self,
            packs=tuple(p for p in self.packs if p.id != offer_id),
            tiers=tuple(t for t in self.tiers if t.id != offer_id),
        )

    def with_cost(self, content_type: str, cost: int) -> Pricing:
        return _checked(replace(self, costs={**self.costs, content_type: cost}))


def parse_price(text: str) -> int:
    """ "5", "5.5" or "4.99" (major units) as minor units; raises :class:`PricingError`."""
    match = re.fullmatch(r"(\d{1,6})(?:[.,](\d{1,2}))?", text.strip().lstrip("€$£"))
    if match is None:
        raise PricingError(N_("%(value)s isn't a price: write it like 4.99"), value=repr(text[:20]))
    whole, cents = match.group(1), (match.group(2) or "0").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def parse_count(text: str, what: str) -> int:
    """A whole number of credits or questions; raises :class:`PricingError`."""
    if not text.strip().isdigit():
        value = repr(text[:20])
        raise PricingError(
            N_("%(value)s isn't a whole number"),
            detail=f"{what} must be a whole number, not {value}",
            value=value,
        )
    return _count(what, int(text.strip()))


def _count(what: str, value: int, least: int = 0) -> int:
    if not least <= value <= MAX_CREDITS:
        raise PricingError(
            N_("%(value)s is out of range: use a number from %(least)s to %(most)s"),
            detail=f"{what} must be between {least} and {MAX_CREDITS:,}",
            value=value,
            least=least,
            most=MAX_CREDITS,
        )
    return value


def _checked(pricing: Pricing) -> Pricing:
    pricing.check()
    return pricing
