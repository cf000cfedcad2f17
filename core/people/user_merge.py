"""Joining two end users of a bot into one (``/link``), keeping everything of both.

:func:`merge_users` moves everything that refers to one end user (``other``) onto another
(``keep``), then deletes the emptied user, all in the caller's transaction. What refers
to an end user is read from the schema, not listed here: every foreign key in
``Base.metadata`` that points at ``end_users.id``. A plain reference is re-pointed, so a
table added later moves without a change here. A table that allows one row per user (a
conversation, a credit account), or one per user and something else (a broadcast's
recipients, a day's question count), needs a rule for making two rows one; those are in
:data:`RULES`, and such a table without a rule stops the merge with
:class:`~core.errors.UnmergeableTable`. :func:`moved_references` walks the schema the same
way without touching any data, so a test finds such a table before a user does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, UniqueConstraint, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger as books
from core.errors import UnmergeableTable
from core.storage.models import Base, CreditAccount, utcnow

#: moves the rows of ``table`` whose ``column`` refers to ``other`` over to ``keep``
Rule = Callable[[AsyncSession, Table, Column[Any], Any, Any], Awaitable[None]]
#: folds the other user's row into the kept user's: (session, kept row's id, other row's
#: id, kept user's id, other user's id); the other row is deleted afterwards
Combine = Callable[[AsyncSession, Any, Any, int, int], Awaitable[None]]


async def merge_users(session: AsyncSession, keep: int, other: int) -> None:
    """Move everything of end user ``other`` to ``keep`` and delete ``other``.

    Both must be users of the same bot. The kept user's preferences stay, with the gaps
    filled from the other's; a user who opted out on either stays opted out. A merge done
    already (``other`` is gone) changes nothing.
    """
    users = Base.metadata.tables["end_users"]
    both = select(users.c.id).where(users.c.id.in_((keep, other)))
    # locked in id order, so two merges of the same users cannot deadlock
    found = set(await session.scalars(both.order_by(users.c.id).with_for_update()))
    if other not in found:
        return
    if keep not in found:
        raise LookupError(f"no end user {keep}")
    await _fill_gaps(session, users, keep, other)
    await move_references(session, users, keep, other)
    await session.execute(delete(users).where(users.c.id == other))


async def move_references(session: AsyncSession, parent: Table, keep: Any, other: Any) -> None:
    """Make every row that refers to row ``other`` of ``parent`` refer to row ``keep``."""
    for table, column in references(parent):
        await rule_for(table, column)(session, table, column, keep, other)


def references(parent: Table) -> list[tuple[Table, Column[Any]]]:
    """Every column, with its table, whose foreign key points at ``parent``'s primary key."""
    return [
        (table, fk.parent)
        for table in parent.metadata.sorted_tables
        for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name)
        if fk.column.table is parent and fk.column.primary_key
    ]


def rule_for(table: Table, column: Column[Any]) -> Rule:
    """How rows of ``table`` referring to a user through ``column`` move to another user."""
    rule = RULES.get(table.name)
    if rule is not None:
        return rule
    if _unique_sets(table, column):
        raise UnmergeableTable(table.name, column.name)
    return _repoint


def moved_references(metadata: MetaData) -> list[str]:
    """``table.column`` for every reference that merging two end users moves, found the
    way :func:`merge_users` finds them; raises :class:`UnmergeableTable` for one it could
    not move."""
    found: list[str] = []

    def walk(parent: Table) -> None:
        for table, column in references(parent):
            found.append(f"{table.name}.{column.name}")
            if isinstance(rule_for(table, column), OnePerUser):
                walk(table)  # the other's row goes: what refers to it moves to the kept one

    walk(metadata.tables["end_users"])
    return found


async def _repoint(
    session: AsyncSession, table: Table, column: Column[Any], keep: Any, other: Any
) -> None:
    await session.execute(update(table).where(column == other).values({column.name: keep}))


@dataclass(frozen=True, slots=True)
class OnePerUser:
    """The rule for a table with one row per user: if only the other user has one, it
    becomes the kept user's; if both do, ``combine`` folds the other's into the kept one,
    whatever refers to the other's row moves to the kept row, and the other's is deleted."""

    combine: Combine

    async def __call__(
        self, session: AsyncSession, table: Table, column: Column[Any], keep: int, other: int
    ) -> None:
        (key,) = table.primary_key.columns
        mine = await session.scalar(select(key).where(column == keep))
        theirs = await session.scalar(select(key).where(column == other))
        if theirs is None:
            return
        if mine is None:
            return await _repoint(session, table, column, keep, other)
        await self.combine(session, mine, theirs, keep, other)
        await move_references(session, table, mine, theirs)
        await session.execute(delete(table).where(key == theirs))


async def _conversations(
    session: AsyncSession, mine: int, theirs: int, keep: int, other: int
) -> None:
    """The kept conversation stays as it is, state and all; the other's messages join it
    (keeping their ids, so the two histories interleave in the order they happened).
    Its version moves on, so a copy cached by any process is known to be stale."""
    table = Base.metadata.tables["conversations"]
    await session.execute(
        update(table)
        .where(table.c.id == mine)
        .values(version=table.c.version + 1, updated_at=utcnow())
    )


async def _credit_accounts(
    session: AsyncSession, mine: int, theirs: int, keep: int, other: int
) -> None:
    """Move the other account's balance and debt through the ledger: a ``link_out`` entry
    empties it, a ``link_in`` entry adds the same to the kept one (which pays any debt
    first, as every credit does). The keys name both users, so posting them again adds
    nothing. The entries then move with the rest of the account's history, which sums to
    zero after ``link_out``, so the kept balance stays the sum of its entries.

    A plan moves over when the kept account has none; when both have one, the kept
    account's stays, and the other subscription's renewals (it stays active with Stripe
    until cancelled there) no longer find an account.
    """
    for account_id in sorted((mine, theirs)):
        await books.locked(session, account_id)
    source = await books.locked(session, theirs)
    balance, debt, tier = source.balance, source.debt, source.tier
    subscription, tier_changed_at = source.subscription_id, source.tier_changed_at
    tag, cause = f"{other}:{keep}", f"link:{other}>{keep}"
    moves: list[tuple[int, books.EntryKind, int, str]] = [
        (theirs, "link_out", -balance, f"link_out:{tag}"),
        (theirs, "link_out", debt, f"link_out_debt:{tag}"),  # settled here, owed there
        (mine, "link_in", balance, f"link_in:{tag}"),
        (mine, "link_in", -debt, f"link_in_debt:{tag}"),
    ]
    for account_id, kind, amount, key in moves:
        if amount:
            await books.post(
                session, account_id, kind=kind, amount=amount, key=key, cause=cause, into_debt=True
            )
    if tier is not None:
        await session.execute(
            update(CreditAccount)
            .where(CreditAccount.id == mine, CreditAccount.tier.is_(None))
            .values(tier=tier, subscription_id=subscription, tier_changed_at=tier_changed_at)
        )


def _fold(*counters: str) -> Rule:
    """The rule for a table with one row per user and something else (a day, a
    broadcast): the other's rows move over, except where the kept user has the same row
    already; there ``counters`` are added into the kept row and the other's is dropped."""

    async def fold(
        session: AsyncSession, table: Table, column: Column[Any], keep: Any, other: Any
    ) -> None:
        unique = _unique_sets(table, column)
        rows = (await session.execute(select(table).where(column == other))).mappings().all()
        for row in rows:
            this = [c == row[c.name] for c in table.primary_key.columns]
            twin = or_(
                *(
                    and_(column == keep, *(c == row[c.name] for c in cols if c is not column))
                    for cols in unique
                )
            )
            if await session.scalar(select(column).where(twin).limit(1)) is None:
                await session.execute(update(table).where(*this).values({column.name: keep}))
                continue
            if counters:
                added = {name: table.c[name] + row[name] for name in counters}
                await session.execute(update(table).where(twin).values(added))
            await session.execute(delete(table).where(*this))

    return fold


async def _drop(
    session: AsyncSession, table: Table, column: Column[Any], keep: Any, other: Any
) -> None:
    """Rows that only mean something for the user that goes (their /link code)."""
    await session.execute(delete(table).where(column == other))


#: how rows move where re-pointing them could break a unique constraint
RULES: dict[str, Rule] = {
    "conversations": OnePerUser(_conversations),
    "credit_accounts": OnePerUser(_credit_accounts),
    "question_usage": _fold("used"),  # both users' questions of a day count against the quota
    "broadcast_recipients": _fold(),  # one person got the broadcast: one record of it
    "link_codes": _drop,
}


def _unique_sets(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """The column sets of ``table``'s primary key, unique constraints and unique indexes
    that include ``column``."""
    sets = [list(table.primary_key.columns)]
    sets += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    sets += [list(i.columns) for i in table.indexes if i.unique]
    if column.unique:
        sets.append([column])
    return [cols for cols in sets if any(c is column for c in cols)]


async def _fill_gaps(session: AsyncSession, users: Table, keep: int, other: int) -> None:
    """Give the kept user what only the other set: a language, a time zone, voice
    settings, an opt-out. Mappings are combined, the kept user's values winning."""
    rows = await session.execute(select(users).where(users.c.id.in_((keep, other))))
    found = {row["id"]: row for row in rows.mappings()}
    mine, theirs = found[keep], found[other]
    gaps: dict[str, Any] = {}
    for column in users.columns:
        if column.primary_key or column.foreign_keys:
            continue
        name = column.name
        if isinstance(mine[name], dict) and isinstance(theirs[name], dict):
            combined = {**theirs[name], **mine[name]}
            if combined != mine[name]:
                gaps[name] = combined
        elif mine[name] is None and theirs[name] is not None:
            gaps[name] = theirs[name]
    if gaps:
        await session.execute(update(users).where(users.c.id == keep).values(gaps))
