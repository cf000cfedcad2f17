"""What a creator's bot did over a window of days: the numbers behind ``/stats``.

:func:`bot_report` reads the stored conversation (every message keeps its channel, its
direction and the conversation's state after it), the replies that answered questions
(marked ``grounded`` in their payload), the library and the credits ledger, and sums them
up per UTC day in SQL, so the work stays in the database however many conversations a
bot has. The same queries run on SQLite and PostgreSQL; only the day of a moment is
written differently for each. A conversation is one end user's with the bot, so
counting distinct conversations counts users.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, distinct, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.conversation.statemachine import State
from core.storage.database import Database
from core.storage.models import (
    ContentItem,
    Conversation,
    CreditAccount,
    CreditHold,
    LedgerEntry,
    Message,
    as_utc,
    utcnow,
)

#: the guided creation flow's steps, in the order a conversation goes through them
FLOW_STEPS: tuple[State, ...] = (
    State.INTENT_DISCOVERY,
    State.CONTEXT_GATHERING,
    State.PRACTICE_DETAILS,
    State.CONFIRM,
    State.GENERATING,
    State.DELIVERED,
)
MAX_DAYS = 366
# the ledger's kinds, by what they mean to a creator
_SOLD = ("purchase", "allowance")
_GRANTED = ("free_grant", "creator_grant")
_REFUNDED = ("reversal",)
_SPENT = ("capture",)
# what a question ends with that does not make it another question
_TRAILING = " ?!.…"
# the inbound message an answer replied to, and the answer's mark: covered or not
_QUESTION = Message.__table__.alias("question")
_GROUNDED = Message.payload["grounded"].as_boolean()


@dataclass(frozen=True, slots=True)
class ChannelCount:
    """Messages on one channel: from end users (``inbound``) and from the bot."""

    channel: str
    inbound: int
    outbound: int


class _Traffic:
    """Messages in and out, summed over ``channels``."""

    __slots__ = ()
    channels: tuple[ChannelCount, ...]

    @property
    def inbound(self) -> int:
        return sum(c.inbound for c in self.channels)

    @property
    def outbound(self) -> int:
        return sum(c.outbound for c in self.channels)


@dataclass(frozen=True, slots=True)
class DayActivity(_Traffic):
    """One UTC day: messages per channel (only channels that had any, by name) and the
    end users who wrote."""

    day: date
    channels: tuple[ChannelCount, ...]
    active_users: int


@dataclass(frozen=True, slots=True)
class FlowStep:
    """A step of the guided creation flow: the conversations that got this far (or
    further), and those for which it was the furthest step (they dropped off there, or
    are still there). For ``delivered``, ``dropped`` is 0: they completed."""

    state: str
    reached: int
    dropped: int


@dataclass(frozen=True, slots=True)
class QuestionCount:
    """A question as asked (lower case, without trailing punctuation) and how often."""

    question: str
    count: int


@dataclass(frozen=True, slots=True)
class BotReport(_Traffic):
    """A bot's activity from ``first_day`` to ``last_day`` (UTC days, both included).

    ``daily`` has every day of the window, oldest first; ``channels`` the window's
    totals per channel. ``active_users`` counts end users who wrote at least once.
    ``questions`` counts questions answered or found not covered by the bot's material
    (``unanswered``), with the most frequent of each. Credits: ``sold`` through Stripe
    (packs and plans' monthly allowances), ``granted`` free (to new users, by the
    creator), ``refunded`` (taken back after a refund), ``spent`` on content and paid
    questions. ``content_created`` counts pieces added to users' libraries.
    """

    bot_id: str
    first_day: date
    last_day: date
    daily: tuple[DayActivity, ...]
    channels: tuple[ChannelCount, ...]
    active_users: int
    flow: tuple[FlowStep, ...]
    content_created: int
    questions: int
    unanswered: int
    top_questions: tuple[QuestionCount, ...]
    unanswered_questions: tuple[QuestionCount, ...]
    credits_sold: int
    credits_granted: int
    credits_refunded: int
    credits_spent: int

    @property
    def flows_started(self) -> int:
        """Conversations that entered the guided flow."""
        return self.flow[0].reached if self.flow else 0

    @property
    def flows_completed(self) -> int:
        """Conversations whose content was delivered."""
        return self.flow[-1].reached if self.flow else 0


async def bot_report(
    db: Database,
    bot_id: str,
    *,
    days: int = 30,
    now: datetime | None = None,
    top: int = 10,
) -> BotReport:
    """The activity of ``bot_id`` over the ``days`` UTC days that end with today (the day
    of ``now``, which defaults to the current time; a naive one is taken as UTC), with
    the ``top`` most frequent questions. Raises ``ValueError`` for a window outside
    1..366 days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"the window must be 1 to {MAX_DAYS} days, not {days}")
    last_day = as_utc(now or utcnow()).astimezone(UTC).date()
    first_day = last_day - timedelta(days=days - 1)
    window = _Window(
        bot_id,
        datetime.combine(first_day, time(), UTC),
        datetime.combine(last_day + timedelta(days=1), time(), UTC),
    )
    async with db.read() as session:
        day = _day_of(Message.created_at, postgres=not db.is_sqlite)
        traffic = await _traffic(session, window, day)
        active = await _active_by_day(session, window, day)
        active_users = await _active_users(session, window)
        flow = await _flow(session, window)
        content = await _content(session, window)
        questions = await _questions(session, window, top, unanswered_only=False)
        not_covered = await _questions(session, window, top, unanswered_only=True)
        credits = await _credits(session, window)
    dates = [first_day + timedelta(days=n) for n in range(days)]
    daily = tuple(DayActivity(d, _by_channel(traffic.get(d, {})), active.get(d, 0)) for d in dates)
    totals: Counter[tuple[str, str]] = Counter()
    for counts in traffic.values():
        totals.update(counts)
    return BotReport(
        bot_id=bot_id,
        first_day=first_day,
        last_day=last_day,
        daily=daily,
        channels=_by_channel(totals),
        active_users=active_users,
        flow=flow,
        content_created=content,
        questions=questions.asked,
        unanswered=questions.unanswered,
        top_questions=questions.top,
        unanswered_questions=not_covered.top,
        credits_sold=sum(credits.get(k, 0) for k in _SOLD),
        credits_granted=sum(credits.get(k, 0) for k in _GRANTED),
        credits_refunded=-sum(credits.get(k, 0) for k in _REFUNDED),
        credits_spent=sum(credits.get(k, 0) for k in _SPENT),
    )


@dataclass(frozen=True, slots=True)
class _Window:
    bot_id: str
    start: datetime
    end: datetime

    def messages(self) -> list[ColumnElement[bool]]:
        """The conditions for the bot's messages in the window (joined to their
        conversation)."""
        return [
            Conversation.bot_id == self.bot_id,
            Message.created_at >= self.start,
            Message.created_at < self.end,
        ]


def _day_of(moment: Any, *, postgres: bool) -> ColumnElement[Any]:
    """The UTC day of a stored moment. SQLite keeps moments as UTC text; PostgreSQL's
    ``date()`` would use the session's time zone, so the moment is turned to UTC first
    (the zone is written into the SQL, not bound, so that the grouping repeats the same
    expression)."""
    if postgres:
        return cast(func.timezone(literal_column("'UTC'"), moment), Date)
    return func.date(moment)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _by_channel(counts: dict[tuple[str, str], int]) -> tuple[ChannelCount, ...]:
    channels = sorted({channel for channel, _ in counts})
    return tuple(
        ChannelCount(c, counts.get((c, "in"), 0), counts.get((c, "out"), 0)) for c in channels
    )


async def _traffic(
    session: AsyncSession, window: _Window, day: ColumnElement[Any]
) -> dict[date, dict[tuple[str, str], int]]:
    """Messages per day, channel and direction."""
    query = (
        select(day, Message.channel, Message.direction, func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*window.messages())
        .group_by(day, Message.channel, Message.direction)
    )
    traffic: dict[date, dict[tuple[str, str], int]] = {}
    for when, channel, direction, count in await session.execute(query):
        traffic.setdefault(_as_date(when), {})[(channel, direction)] = count
    return traffic


async def _active_by_day(
    session: AsyncSession, window: _Window, day: ColumnElement[Any]
) -> dict[date, int]:
    """End users who wrote, per day."""
    query = (
        select(day, func.count(distinct(Message.conversation_id)))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*window.messages(), Message.direction == "in")
        .group_by(day)
    )
    return {_as_date(when): count for when, count in await session.execute(query)}


async def _active_users(session: AsyncSession, window: _Window) -> int:
    query = (
        select(func.count(distinct(Message.conversation_id)))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*window.messages(), Message.direction == "in")
    )
    return int(await session.scalar(query) or 0)


async def _flow(session: AsyncSession, window: _Window) -> tuple[FlowStep, ...]:
    """How far each conversation went in the guided flow, counted per step."""
    rank = case({step.value: n for n, step in enumerate(FLOW_STEPS, 1)}, value=Message.state)
    furthest = (
        select(func.max(rank).label("furthest"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*window.messages(), Message.state.in_([s.value for s in FLOW_STEPS]))
        .group_by(Message.conversation_id)
        .subquery()
    )
    query = select(furthest.c.furthest, func.count()).group_by(furthest.c.furthest)
    stopped = {int(n): count for n, count in await session.execute(query)}
    steps = []
    for n, step in enumerate(FLOW_STEPS, 1):
        reached = sum(count for m, count in stopped.items() if m >= n)
        dropped = stopped.get(n, 0) if step is not State.DELIVERED else 0
        steps.append(FlowStep(step.value, reached, dropped))
    return tuple(steps)


async def _content(session: AsyncSession, window: _Window) -> int:
    query = select(func.count()).where(
        ContentItem.bot_id == window.bot_id,
        ContentItem.created_at >= window.start,
        ContentItem.created_at < window.end,
    )
    return int(await session.scalar(query) or 0)


@dataclass(frozen=True, slots=True)
class _Questions:
    asked: int
    unanswered: int
    top: tuple[QuestionCount, ...]


async def _questions(
    session: AsyncSession, window: _Window, top: int, *, unanswered_only: bool
) -> _Questions:
    """The questions answered and how many the bot's material did not cover, with the
    most frequent (of those not covered, with ``unanswered_only``).

    Questions are grouped in SQL by their lower-cased text without trailing punctuation,
    then merged here where they differ only in spacing; a few more groups than asked for
    are read so that merging does not miss one that belongs in the top. The totals are
    sums over every group, taken before the limit, so one pass over the answers serves
    both.
    """
    question = _QUESTION
    # written into the SQL, not bound: the grouping must repeat the very same expression
    key = func.rtrim(func.lower(question.c.text), literal_column(f"'{_TRAILING}'"))
    covered = _GROUNDED.is_(False) if unanswered_only else _GROUNDED.is_not(None)
    uncovered = func.sum(case((_GROUNDED.is_(False), 1), else_=0))
    query = (
        select(key, func.count(), func.sum(func.count()).over(), func.sum(uncovered).over())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(question, question.c.id == Message.reply_to_id)
        .where(*window.messages(), Message.direction == "out", covered, question.c.text != "")
        .group_by(key)
        .order_by(func.count().desc(), key)
        .limit(max(top, 1) * 4)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return _Questions(0, 0, ())
    return _Questions(int(rows[0][2]), int(rows[0][3]), _merged(rows, top))


def _merged(rows: Sequence[Any], top: int) -> tuple[QuestionCount, ...]:
    merged: Counter[str] = Counter()
    for key, count, *_ in rows:
        text = " ".join(str(key).split())
        if text:
            merged[text] += int(count)
    ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return tuple(QuestionCount(text, count) for text, count in ordered[:top])


async def _credits(session: AsyncSession, window: _Window) -> dict[str, int]:
    """Credits moved per ledger kind: what was added (with the part that paid off a
    debt) or taken back; for a capture, the amount of the hold it spent."""
    moved = case(
        (LedgerEntry.kind.in_(_SPENT), func.coalesce(CreditHold.amount, 0)),
        else_=LedgerEntry.amount - LedgerEntry.debt_change,
    )
    query = (
        select(LedgerEntry.kind, func.sum(moved))
        .join(CreditAccount, CreditAccount.id == LedgerEntry.account_id)
        .outerjoin(CreditHold, CreditHold.id == LedgerEntry.hold_id)
        .where(
            CreditAccount.bot_id == window.bot_id,
            LedgerEntry.created_at >= window.start,
            LedgerEntry.created_at < window.end,
            LedgerEntry.kind.in_([*_SOLD, *_GRANTED, *_REFUNDED, *_SPENT]),
        )
        .group_by(LedgerEntry.kind)
    )
    return {kind: int(total or 0) for kind, total in await session.execute(query)}
