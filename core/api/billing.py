"""``/api/v1/bots/{bot_id}/pricing`` and ``/users/{user_id}/credits``: what a bot
charges, and each user's balance, ledger entries and the creator's grants."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from billing.creator import MAX_GRANT, sale_warning
from billing.pricing import CURRENCIES, Pricing, PricingError
from bots.profile import BotProfile
from core.api.common import (
    API,
    Page,
    PageQuery,
    Strict,
    keyset,
    owned_bot,
    owned_row,
    services,
)
from core.api.spec import ApiError, Call, Moment
from core.storage.models import CreditAccount, EndUser, LedgerEntry

OfferId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class PackModel(Strict):
    """Credits sold once."""

    id: OfferId
    credits: Annotated[int, Field(ge=1, le=1_000_000)]
    price: Annotated[int, Field(ge=1, le=100_000_000, description="minor units (cents)")]


class TierModel(Strict):
    """A monthly plan: credits each month and free questions a day."""

    id: OfferId
    price: Annotated[int, Field(ge=1, le=100_000_000, description="minor units a month")]
    credits: Count
    questions: Count = 0


class PricingModel(Strict):
    """What a bot charges. All zero (the default) is free."""

    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] = Field(
        default="eur", examples=sorted(CURRENCIES)
    )
    free_credits: Count = Field(default=0, description="credits a new user starts with")
    costs: dict[Annotated[str, StringConstraints(max_length=32)], Count] = Field(
        default_factory=dict, description="credits per content type (meditation, ritual…)"
    )
    packs: list[PackModel] = Field(default_factory=list, max_length=10)
    tiers: list[TierModel] = Field(default_factory=list, max_length=10)
    question_cost: Count = Field(default=0, description="credits per question past the free")
    free_questions: Count = Field(default=0, description="free questions a day")
    warnings: list[str] = Field(
        default_factory=list,
        description="read only (ignored when sent): why users can't buy what is on sale, "
        "e.g. Stripe is not configured on the server",
        json_schema_extra={"readOnly": True},
    )


class CreditsOut(BaseModel):
    user_id: int
    balance: int
    debt: int = Field(description="credits owed after a refund of spent credits")
    tier: str | None = Field(description="the monthly plan, if any")


class EntryOut(BaseModel):
    id: int
    kind: str = Field(description="purchase, creator_grant, capture, refund…")
    amount: int
    debt_change: int
    balance_after: int
    cause: str
    created_at: Moment


class EntryPage(Page[EntryOut]):
    pass


class Grant(Strict):
    credits: Annotated[int, Field(ge=1, le=MAX_GRANT)]


@API.route(
    "GET", "/bots/{bot_id}/pricing", summary="What a bot charges",
    tag="credits", scope="credits:read", response=PricingModel, errors=(404,),
)  # fmt: skip
async def get_pricing(call: Call) -> PricingModel:
    profile = await owned_bot(call)
    return _pricing(call, profile.pricing)


@API.route(
    "PUT", "/bots/{bot_id}/pricing", summary="Set what a bot charges (the whole of it)",
    tag="credits", scope="credits:write", body=PricingModel, response=PricingModel,
    errors=(404,),
)  # fmt: skip
async def set_pricing(call: Call) -> PricingModel:
    profile = await owned_bot(call)
    body: PricingModel = call.body
    try:
        pricing = Pricing.from_dict(body.model_dump(exclude={"warnings"}))
    except PricingError as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    stored = pricing.to_dict() if pricing != Pricing() else None
    await services(call).bots.change_settings(profile.id, pricing=stored)
    return _pricing(call, pricing)


def _pricing(call: Call, pricing: Pricing) -> PricingModel:
    """The pricing as the API shows it, with a warning when users can't pay."""
    warning = sale_warning(pricing, services(call).credits.checkout is not None)
    warnings = [warning] if warning else []
    return PricingModel.model_validate({**pricing.to_dict(), "warnings": warnings})


async def _owned_user(call: Call) -> tuple[BotProfile, EndUser]:
    return await owned_row(call, EndUser, "user_id")


async def _account(call: Call, user: EndUser) -> CreditAccount | None:
    async with services(call).db.read() as session:
        return await session.scalar(
            select(CreditAccount).where(CreditAccount.end_user_id == user.id)
        )


def _credits(bot: BotProfile, user: EndUser, account: CreditAccount | None) -> CreditsOut:
    if account is None:  # opened at the first spend, with the welcome credits
        return CreditsOut(user_id=user.id, balance=bot.pricing.free_credits, debt=0, tier=None)
    return CreditsOut(
        user_id=user.id, balance=account.balance, debt=account.debt, tier=account.tier
    )


@API.route(
    "GET", "/bots/{bot_id}/users/{user_id}/credits", summary="A user's credits",
    tag="credits", scope="credits:read", response=CreditsOut, errors=(404,),
)  # fmt: skip
async def get_credits(call: Call) -> CreditsOut:
    profile, user = await _owned_user(call)
    return _credits(profile, user, await _account(call, user))


@API.route(
    "GET", "/bots/{bot_id}/users/{user_id}/credits/entries",
    summary="A user's ledger entries, newest first (never changed, only added to)",
    tag="credits", scope="credits:read", query=PageQuery, response=EntryPage, errors=(404,),
)  # fmt: skip
async def list_entries(call: Call) -> EntryPage:
    _, user = await _owned_user(call)
    query: PageQuery = call.query
    account = await _account(call, user)
    if account is None:
        return EntryPage(items=[], next_cursor=None)
    statement = select(LedgerEntry).where(LedgerEntry.account_id == account.id)
    async with services(call).db.read() as session:
        entries, cursor = await keyset(session, statement, query, LedgerEntry.id)
    return EntryPage(
        items=[EntryOut.model_validate(e, from_attributes=True) for e in entries],
        next_cursor=cursor,
    )


@API.route(
    "POST", "/bots/{bot_id}/users/{user_id}/credits/grants",
    summary="Give a user credits (send an Idempotency-Key to retry safely)",
    tag="credits", scope="credits:write", body=Grant, response=CreditsOut, status=201,
    errors=(404,), idempotent=True,
)  # fmt: skip
async def grant_credits(call: Call) -> CreditsOut:
    profile, user = await _owned_user(call)
    body: Grant = call.body
    await services(call).credits.grant(profile, user.id, body.credits, f"api:{uuid.uuid4().hex}")
    return _credits(profile, user, await _account(call, user))
