"""The ledger on SQLite and PostgreSQL: append-only, idempotent, never below zero."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from billing.ledger import Ledger, NotEnoughCredits
from core.services import Services
from core.storage.models import CreditAccount, EndUser, LedgerEntry


async def new_user(services: Services, bot_id: str = "demo") -> int:
    async with services.db.transaction() as session:
        user = EndUser(bot_id=bot_id, display_name="Ana")
        session.add(user)
        await session.flush()
        return user.id


async def test_free_grant_once_and_balance_is_the_sum_of_entries(services: Services) -> None:
    ledger = Ledger(services.db)
    user = await new_user(services)
    account = await ledger.account("demo", user, free_credits=5)
    again = await ledger.account("demo", user, free_credits=5)
    assert (account.balance, again.id, again.balance) == (5, account.id, 5)
    await ledger.post(account.id, kind="purchase", amount=10, key="buy-1", cause="stripe:evt_1")
    await ledger.post(account.id, kind="purchase", amount=10, key="buy-1", cause="stripe:evt_1")
    hold = await ledger.reserve(account.id, 3, "job:a")
    await ledger.capture(hold)
    await ledger.capture(hold)
    assert (await ledger.get(account.id)).balance == 12 == await ledger.total(account.id)
    kinds = [e.kind for e in await ledger.entries(account.id)]
    assert kinds == ["capture", "reserve", "purchase", "free_grant"]


async def test_release_gives_back_and_a_released_hold_cannot_be_released_twice(
    services: Services,
) -> None:
    ledger = Ledger(services.db)
    account = await ledger.account("demo", await new_user(services), free_credits=4)
    hold = await ledger.reserve(account.id, 4, "job:b")
    assert (await ledger.get(account.id)).balance == 0
    with pytest.raises(NotEnoughCredits):
        await ledger.reserve(account.id, 1, "job:c")
    assert await ledger.release(hold) is not None
    assert await ledger.release(hold) is None
    assert (await ledger.get(account.id)).balance == 4 == await ledger.total(account.id)


async def test_the_same_cause_reuses_its_open_hold(services: Services) -> None:
    ledger = Ledger(services.db)
    account = await ledger.account("demo", await new_user(services), free_credits=10)
    assert await ledger.reserve(account.id, 3, "job:d") == await ledger.reserve(
        account.id, 3, "job:d"
    )
    assert (await ledger.get(account.id)).balance == 7


async def test_reversal_beyond_the_balance_records_a_debt_paid_by_the_next_credit(
    services: Services,
) -> None:
    ledger = Ledger(services.db)
    account = await ledger.account("demo", await new_user(services))
    await ledger.post(account.id, kind="purchase", amount=10, key="p", cause="stripe:evt_p")
    await ledger.capture(await ledger.reserve(account.id, 8, "job:e"))
    async with services.db.transaction() as session:
        from billing.ledger import post

        await post(
            session, account.id, kind="reversal", amount=-10, key="r", cause="x", into_debt=True
        )
    after = await ledger.get(account.id)
    assert (after.balance, after.debt) == (0, 8)
    await ledger.post(account.id, kind="creator_grant", amount=10, key="g", cause="creator:1")
    after = await ledger.get(account.id)
    assert (after.balance, after.debt) == (2, 0)
    assert await ledger.total(account.id) == 2


async def test_expired_holds_are_released(services: Services) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ledger = Ledger(services.db, hold_ttl=timedelta(minutes=30), clock=lambda: now[0])
    account = await ledger.account("demo", await new_user(services), free_credits=3)
    await ledger.reserve(account.id, 3, "job:f")
    assert await ledger.expire() == 0
    now[0] += timedelta(minutes=31)
    assert await ledger.expire() == 1
    assert (await ledger.get(account.id)).balance == 3


async def test_a_hold_captured_after_it_expired_is_charged_again(services: Services) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ledger = Ledger(services.db, clock=lambda: now[0])
    account = await ledger.account("demo", await new_user(services), free_credits=3)
    hold = await ledger.reserve(account.id, 2, "job:g")
    now[0] += timedelta(hours=1)
    await ledger.expire()
    await ledger.capture(hold)
    assert (await ledger.get(account.id)).balance == 1 == await ledger.total(account.id)


async def test_100_concurrent_spends_against_10_credits(services: Services) -> None:
    ledger = Ledger(services.db)
    account = await ledger.account("demo", await new_user(services), free_credits=10)

    async def spend(n: int) -> bool:
        try:
            await ledger.capture(await ledger.reserve(account.id, 1, f"job:{n}"))
        except NotEnoughCredits:
            return False
        return True

    outcomes = await asyncio.gather(*(spend(n) for n in range(100)))
    assert sum(outcomes) == 10
    assert (await ledger.get(account.id)).balance == 0 == await ledger.total(account.id)
    async with services.db.read() as session:
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        balance = await session.scalar(select(CreditAccount.balance))
    assert (entries, balance) == (1 + 10 + 10, 0)


async def test_concurrent_first_use_opens_one_account(services: Services) -> None:
    ledger = Ledger(services.db)
    user = await new_user(services)
    accounts = await asyncio.gather(*(ledger.account("demo", user, 5) for _ in range(10)))
    assert {a.id for a in accounts} == {accounts[0].id}
    assert (await ledger.get(accounts[0].id)).balance == 5
