"""The credits ledger: append-only entries, a balance that never goes below zero.

Every change to an account is a :class:`~core.storage.models.LedgerEntry` that is never
updated or deleted: a free grant, a purchase, a creator's grant, a monthly allowance, a
reservation for content being made and its capture or release, a question paid for, a
refund's reversal, credits moved when a user joins two accounts (``/link``). (The one
exception is an end user's erasure at their request, which removes their account whole:
:meth:`core.people.privacy.EndUserData.erase`.) Each carries an idempotency key (posting the
same key twice returns the first entry and changes nothing) and names its cause
(``job:…``, ``stripe:evt_…``, ``creator:…``). The account row caches the balance, updated
in the same transaction as the entry, so the balance is always the sum of the entries.

Overdrawing is refused three times over: the account row is locked (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite serialises writers), the balance is changed by a
conditional ``UPDATE … WHERE balance + change >= 0``, and a CHECK constraint backs both.
Only a refund's reversal may take more than is there, and then the rest is recorded as a
debt that later credits pay off first.

The functions taking a session let a Stripe event record itself in the same transaction
as its effect; :class:`Ledger` wraps them in a transaction each for everyone else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import ChorusError, NotEnoughCredits
from core.storage.database import Database
from core.storage.models import CreditAccount, CreditHold, LedgerEntry, utcnow

HOLD_TTL = timedelta(minutes=30)
EntryKind = Literal[
    "free_grant",
    "purchase",
    "creator_grant",
    "allowance",
    "reserve",
    "capture",
    "release",
    "question",
    "reversal",
    "link_out",
    "link_in",
]
__all__ = ["Ledger", "NotEnoughCredits", "UnknownHold"]


class UnknownHold(ChorusError):
    """A capture or release of a reservation that does not exist."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    bot_id: str
    end_user_id: int
    balance: int
    debt: int
    tier: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    kind: str
    amount: int
    debt_change: int
    balance_after: int
    cause: str
    created_at: datetime


def _account(row: CreditAccount) -> Account:
    return Account(row.id, row.bot_id, row.end_user_id, row.balance, row.debt, row.tier)


def _entry(row: LedgerEntry) -> Entry:
    return Entry(
        row.id, row.kind, row.amount, row.debt_change, row.balance_after, row.cause, row.created_at
    )


async def locked(session: AsyncSession, account_id: int) -> CreditAccount:
    """The account row, locked until the transaction ends (on PostgreSQL)."""
    row = await session.scalar(
        select(CreditAccount)
        .where(CreditAccount.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise LookupError(f"no credit account {account_id}")
    return row


async def post(
    session: AsyncSession,
    account_id: int,
    *,
    kind: EntryKind,
    amount: int,
    key: str,
    cause: str,
    hold_id: str | None = None,
    into_debt: bool = False,
) -> Entry:
    """Append one entry and apply it to the balance; replays ``key`` without effect.

    A credit (``amount`` > 0) pays off any debt first. A debit beyond the balance raises
    :class:`NotEnoughCredits`, unless ``into_debt``: then it takes the whole balance and
    records the rest as debt.
    """
    account = await locked(session, account_id)
    done = await session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if done is not None:
        return _entry(done)
    return await _append(
        session,
        account,
        kind=kind,
        amount=amount,
        key=key,
        cause=cause,
        hold_id=hold_id,
        into_debt=into_debt,
    )


async def _append(
    session: AsyncSession,
    account: CreditAccount,
    *,
    kind: EntryKind,
    amount: int,
    key: str,
    cause: str,
    hold_id: str | None = None,
    into_debt: bool = False,
) -> Entry:
    """:func:`post` on an account already locked, with a key known to be new."""
    change, debt_change = amount, 0
    if amount > 0:
        debt_change = -min(account.debt, amount)
        change = amount + debt_change
    elif -amount > account.balance:
        if not into_debt:
            raise NotEnoughCredits(account.balance, -amount)
        change, debt_change = -account.balance, -amount - account.balance
    balance = account.balance
    if change or debt_change:
        applied = await session.execute(
            update(CreditAccount)
            .where(CreditAccount.id == account.id, CreditAccount.balance + change >= 0)
            .values(balance=CreditAccount.balance + change, debt=CreditAccount.debt + debt_change)
            .returning(CreditAccount.balance)
            .execution_options(synchronize_session=False)
        )
        returned = applied.scalar_one_or_none()
        if returned is None:  # only if another writer got past the lock (never, but be sure)
            raise NotEnoughCredits(account.balance, -amount)
        balance = returned
        # the row as it is now, without making the session write it again
        set_committed_value(account, "balance", balance)
        set_committed_value(account, "debt", account.debt + debt_change)
    row = LedgerEntry(
        account_id=account.id,
        kind=kind,
        amount=change,
        debt_change=debt_change,
        balance_after=balance,
        idempotency_key=key,
        hold_id=hold_id,
        cause=cause,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return _entry(row)


async def hold(
    session: AsyncSession, account_id: int, amount: int, cause: str, expires_at: datetime
) -> str:
    """Set ``amount`` aside for ``cause`` (an open hold for the same cause is reused);
    returns the hold's id. Raises :class:`NotEnoughCredits`."""
    account = await locked(session, account_id)
    existing = await session.scalar(
        select(CreditHold.id).where(
            CreditHold.account_id == account_id,
            CreditHold.cause == cause,
            CreditHold.status == "open",
        )
    )
    if existing is not None:
        return existing
    hold_id = uuid.uuid4().hex
    await _append(
        session,
        account,
        kind="reserve",
        amount=-amount,
        key=f"reserve:{hold_id}",
        cause=cause,
        hold_id=hold_id,
    )
    session.add(
        CreditHold(
            id=hold_id,
            account_id=account_id,
            amount=amount,
            cause=cause,
            status="open",
            expires_at=expires_at,
            created_at=utcnow(),
        )
    )
    return hold_id


async def settle(session: AsyncSession, hold_id: str, *, capture: bool) -> Entry | None:
    """Capture (spend) or release (give back) a hold; None if it was settled already.

    Capturing a hold that expired and was released charges it again, into debt if the
    balance no longer covers it: the content was delivered.
    """
    row = await session.get(CreditHold, hold_id, with_for_update=True)
    if row is None:
        raise UnknownHold(hold_id)
    if row.status == "captured" or (row.status == "released" and not capture):
        return None
    account = await locked(session, row.account_id)
    kind: EntryKind = "capture" if capture else "release"
    amount = 0 if capture else row.amount
    if capture and row.status == "released":
        amount = -row.amount
    row.status = "captured" if capture else "released"
    return await _append(
        session,
        account,
        kind=kind,
        amount=amount,
        key=f"{kind}:{hold_id}",
        cause=row.cause,
        hold_id=hold_id,
        into_debt=True,
    )


async def open_account(
    session: AsyncSession, bot_id: str, end_user_id: int, free_credits: int
) -> CreditAccount:
    """The user's account with the bot, created (with the free grant) on first use."""
    row = await session.scalar(
        select(CreditAccount).where(CreditAccount.end_user_id == end_user_id)
    )
    if row is None:
        row = CreditAccount(
            bot_id=bot_id, end_user_id=end_user_id, balance=0, debt=0, tier_changed_at=0
        )
        session.add(row)
        await session.flush()
        if free_credits > 0:
            await post(
                session,
                row.id,
                kind="free_grant",
                amount=free_credits,
                key=f"free:{row.id}",
                cause=f"welcome:{bot_id}",
            )
    return row


class Ledger:
    """The ledger's operations, each in its own transaction."""

    def __init__(
        self,
        db: Database,
        *,
        hold_ttl: timedelta = HOLD_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self.hold_ttl = hold_ttl
        self._clock = clock

    def expires_at(self) -> datetime:
        """When a hold made now expires."""
        return self._clock() + self.hold_ttl

    async def account(self, bot_id: str, end_user_id: int, free_credits: int = 0) -> Account:
        """The account, opened with ``free_credits`` if it is new."""
        async with self._db.read() as session:
            row = await session.scalar(
                select(CreditAccount).where(CreditAccount.end_user_id == end_user_id)
            )
            if row is not None:
                return _account(row)
        try:
            async with self._db.transaction() as session:
                return _account(await open_account(session, bot_id, end_user_id, free_credits))
        except IntegrityError:  # a concurrent first use opened it: read that one
            async with self._db.read() as session:
                row = await session.scalar(
                    select(CreditAccount).where(CreditAccount.end_user_id == end_user_id)
                )
            if row is None:  # no race: the user is gone (erased, or joined to another)
                raise
            return _account(row)

    async def get(self, account_id: int) -> Account:
        async with self._db.read() as session:
            row = await session.get(CreditAccount, account_id)
            if row is None:
                raise LookupError(f"no credit account {account_id}")
            return _account(row)

    async def post(
        self, account_id: int, *, kind: EntryKind, amount: int, key: str, cause: str
    ) -> Entry:
        """Append one entry (see :func:`post`)."""
        async with self._db.transaction() as session:
            return await post(session, account_id, kind=kind, amount=amount, key=key, cause=cause)

    async def reserve(self, account_id: int, amount: int, cause: str) -> str:
        """Hold ``amount`` for ``cause``; raises :class:`NotEnoughCredits`."""
        async with self._db.transaction() as session:
            return await hold(session, account_id, amount, cause, self.expires_at())

    async def capture(self, hold_id: str) -> Entry | None:
        async with self._db.transaction() as session:
            return await settle(session, hold_id, capture=True)

    async def release(self, hold_id: str) -> Entry | None:
        async with self._db.transaction() as session:
            return await settle(session, hold_id, capture=False)

    async def expire(self, limit: int = 500) -> int:
        """Release the holds whose time ran out (their maker died); returns how many."""
        async with self._db.read() as session:
            due = list(
                await session.scalars(
                    select(CreditHold.id)
                    .where(CreditHold.status == "open", CreditHold.expires_at < self._clock())
                    .limit(limit)
                )
            )
        released = 0
        for hold_id in due:
            released += await self.release(hold_id) is not None
        return released

    async def entries(self, account_id: int, limit: int = 10) -> list[Entry]:
        """The newest entries first."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.account_id == account_id)
                .order_by(LedgerEntry.id.desc())
                .limit(limit)
            )
            return [_entry(r) for r in rows]

    async def total(self, account_id: int) -> int:
        """The balance as the sum of the entries (the account row caches it)."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(LedgerEntry.amount).where(LedgerEntry.account_id == account_id)
            )
            return sum(rows)
