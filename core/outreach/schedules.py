"""Messages a creator sends on a timetable, at a time of day in each subscriber's own zone.

A schedule says "08:00 on Mon, Wed and Fri"; every subscriber gets it at 08:00 where
they are: in their own zone, else their WhatsApp number's (see :mod:`core.people.timezones`),
else the schedule's default zone. :func:`due` groups a bot's subscribers by zone and
finds, for each group, the run whose time has come there but passed by less than
:data:`CATCH_UP` (a server that was down at 08:00 still sends at 09:10, never in the
evening). A run is one broadcast named by its occurrence, the local date and the zone
("2026-11-24 Europe/Paris"), which the broadcasts table keeps unique: each group gets a
run once, however many processes look. The :class:`Scheduler` looks every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidSchedule, StorageUnavailable, TooManySchedules
from core.messages import Channel
from core.people.timezones import canonical, zone_of
from core.storage.database import Database
from core.storage.models import Broadcast, ChannelIdentity, EndUser, Schedule, as_utc, utcnow

log = logging.getLogger("chorus.schedules")

EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)  # ISO weekdays, Monday to Sunday
MAX_TEXT = 4000
MAX_SCHEDULES = 20  # a bot's
#: how late a run may still be sent, when it could not be on time
CATCH_UP = timedelta(hours=3)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Start(Protocol):
    """Creates a broadcast and queues its sending; None when the schedule's occurrence
    already has one."""

    def __call__(
        self,
        bot_id: str,
        text: str,
        *,
        origin: str,
        schedule_id: int | None = None,
        occurrence: str | None = None,
        user_ids: Collection[int] | None = None,
    ) -> Awaitable[int | None]: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What a schedule sends and when, checked: the text, the local time ``HH:MM``, the
    ISO weekdays, and the zone of the users whose own zone is not known."""

    text: str
    local_time: str
    weekdays: tuple[int, ...] = EVERY_DAY
    timezone: str = "UTC"

    @classmethod
    def checked(
        cls,
        text: str,
        local_time: str,
        weekdays: Collection[int] = EVERY_DAY,
        timezone: str = "UTC",
    ) -> Plan:
        """The plan, with the time as ``08:05`` and the zone as IANA spells it; raises
        :class:`InvalidSchedule` for what cannot be kept."""
        text = text.strip()
        if not text:
            raise InvalidSchedule("text", "the message is empty")
        if len(text) > MAX_TEXT:
            raise InvalidSchedule("text", f"the message is over {MAX_TEXT:,} characters")
        match = _TIME.match(local_time.strip())
        if match is None:
            raise InvalidSchedule("local_time", "the time must be HH:MM, like 08:00 or 18:30")
        days = tuple(sorted(set(weekdays)))
        if not days or any(type(d) is not int or not 1 <= d <= 7 for d in days):
            raise InvalidSchedule("weekdays", "name some days, 1 (Monday) to 7 (Sunday)")
        zone = canonical(timezone)
        if zone is None:
            raise InvalidSchedule("timezone", f"{timezone[:64]!r} is not a time zone")
        return cls(text, f"{int(match.group(1)):02d}:{match.group(2)}", days, zone)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One run of a schedule that is due: its text for the users of one zone."""

    schedule_id: int
    bot_id: str
    text: str
    occurrence: str  # "2026-11-24 Europe/Paris"
    user_ids: tuple[int, ...]


class Schedules:
    """A bot's schedules: stored checked, listed in the order they were made, changed,
    paused and deleted; nothing here reaches another bot's."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def create(self, bot_id: str, plan: Plan) -> Schedule:
        """Store a new schedule; raises :class:`TooManySchedules` past the limit."""
        row = Schedule(
            bot_id=bot_id,
            text=plan.text,
            local_time=plan.local_time,
            weekdays=list(plan.weekdays),
            timezone=plan.timezone,
            active=True,
            created_at=self._clock(),
        )
        async with self._db.transaction() as session:
            count = await session.scalar(
                select(func.count()).select_from(Schedule).where(Schedule.bot_id == bot_id)
            )
            if (count or 0) >= MAX_SCHEDULES:
                raise TooManySchedules(bot_id, MAX_SCHEDULES)
            session.add(row)
        return row

    async def of_bot(self, bot_id: str) -> list[Schedule]:
        """The bot's schedules, oldest first."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Schedule).where(Schedule.bot_id == bot_id).order_by(Schedule.id)
            )
            return list(rows)

    async def change(
        self,
        bot_id: str,
        schedule_id: int,
        *,
        text: str | None = None,
        local_time: str | None = None,
        weekdays: Collection[int] | None = None,
        timezone: str | None = None,
        active: bool | None = None,
    ) -> Schedule | None:
        """Change some of a schedule (checked as a whole); None if the bot has no such
        schedule."""
        async with self._db.transaction() as session:
            row = await session.get(Schedule, schedule_id)
            if row is None or row.bot_id != bot_id:
                return None
            plan = Plan.checked(
                row.text if text is None else text,
                row.local_time if local_time is None else local_time,
                row.weekdays if weekdays is None else weekdays,
                row.timezone if timezone is None else timezone,
            )
            row.text, row.local_time, row.timezone = plan.text, plan.local_time, plan.timezone
            row.weekdays = list(plan.weekdays)
            if active is not None:
                row.active = active
            return row

    async def delete(self, bot_id: str, schedule_id: int) -> bool:
        """Delete a schedule (its past broadcasts stay); False if the bot has no such one."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(Schedule).where(Schedule.id == schedule_id, Schedule.bot_id == bot_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def next_run(schedule: Schedule, now: datetime) -> datetime | None:
    """When a schedule next runs in its default zone, at or after ``now``; None while
    it is paused."""
    if not schedule.active:
        return None
    zone = ZoneInfo(schedule.timezone)
    today = now.astimezone(zone).date()
    for day in (today + timedelta(days=n) for n in range(8)):
        at = _at(day, schedule.local_time, zone)
        if day.isoweekday() in schedule.weekdays and at >= max(now, as_utc(schedule.created_at)):
            return at
    return None


async def due(
    session: AsyncSession, now: datetime, catch_up: timedelta = CATCH_UP
) -> list[Occurrence]:
    """The runs of active schedules due at ``now`` that have no broadcast yet: for each
    schedule, one per zone whose local time has reached the schedule's today (or
    yesterday, close to midnight) on one of its weekdays, less than ``catch_up`` ago,
    and not before the schedule was made. Opted-out users are left out."""
    schedules = list(
        await session.scalars(select(Schedule).where(Schedule.active).order_by(Schedule.id))
    )
    if not schedules:
        return []
    zones = await _subscribers_by_zone(session, {s.bot_id for s in schedules})
    found: list[Occurrence] = []
    for schedule in schedules:
        groups = _grouped(zones.get(schedule.bot_id, {}), schedule.timezone)
        for zone, user_ids in groups.items():
            day = _run_day(schedule, ZoneInfo(zone), now, catch_up)
            if day is not None:
                key = f"{day.isoformat()} {zone}"
                found.append(Occurrence(schedule.id, schedule.bot_id, schedule.text, key, user_ids))
    if not found:
        return []
    made = {
        (schedule_id, occurrence)
        for schedule_id, occurrence in await session.execute(
            select(Broadcast.schedule_id, Broadcast.occurrence).where(
                Broadcast.schedule_id.in_(sorted({o.schedule_id for o in found})),
                Broadcast.occurrence.in_(sorted({o.occurrence for o in found})),
            )
        )
    }
    return [o for o in found if (o.schedule_id, o.occurrence) not in made]


class Scheduler:
    """Starts the schedules' runs as they fall due, looking every ``poll_seconds``. Every
    web process may run one: ``start`` refuses an occurrence that already has its
    broadcast, so a run is sent once."""

    def __init__(
        self,
        db: Database,
        start: Start,
        poll_seconds: float,
        *,
        now: Callable[[], datetime] = utcnow,
        catch_up: timedelta = CATCH_UP,
    ) -> None:
        self._db = db
        self._start = start
        self._every = poll_seconds
        self._now = now
        self._catch_up = catch_up
        self._closed = asyncio.Event()

    async def tick(self) -> int:
        """Start the runs due now; how many were started (by this process)."""
        async with self._db.read() as session:
            found = await due(session, self._now(), self._catch_up)
        started = 0
        for run in found:
            try:
                broadcast = await self._start(
                    run.bot_id,
                    run.text,
                    origin="schedule",
                    schedule_id=run.schedule_id,
                    occurrence=run.occurrence,
                    user_ids=run.user_ids,
                )
            except StorageUnavailable:
                raise
            except Exception:  # one failing run must not hold back the others
                log.exception("schedule %d: starting %s failed", run.schedule_id, run.occurrence)
                continue
            if broadcast is not None:
                started += 1
                log.info(
                    "schedule %d: broadcast %d for %s to %d user(s)",
                    run.schedule_id,
                    broadcast,
                    run.occurrence,
                    len(run.user_ids),
                )
        return started

    async def run(self, after: Awaitable[object] | None = None) -> None:
        """Start due runs every ``poll_seconds`` (once ``after`` is done: the database
        is ready) until closed or cancelled; waiting longer while the database is away."""
        if after is not None:
            await after
        pause = self._every
        while not self._closed.is_set():
            try:
                await self.tick()
                pause = self._every
            except StorageUnavailable as exc:
                log.warning("schedules wait for the database: %s", exc.reason)
                pause = min(pause * 2, 300.0)
            except Exception:  # never let one bad round stop every later one
                log.exception("looking for due schedules failed")
                pause = min(pause * 2, 300.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), pause)

    async def close(self) -> None:
        """Stop :meth:`run` after the round under way."""
        self._closed.set()


async def _subscribers_by_zone(
    session: AsyncSession, bot_ids: Collection[str]
) -> dict[str, dict[str | None, list[int]]]:
    """The users of these bots who have not opted out, by bot and zone (None: unknown),
    in one query."""
    number = (
        select(func.min(ChannelIdentity.external_id))
        .where(
            ChannelIdentity.end_user_id == EndUser.id,
            ChannelIdentity.channel == Channel.WHATSAPP.value,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(EndUser.bot_id, EndUser.id, EndUser.timezone, number)
        .where(EndUser.bot_id.in_(sorted(bot_ids)), EndUser.opted_out_at.is_(None))
        .order_by(EndUser.id)
    )
    zones: dict[str, dict[str | None, list[int]]] = {}
    for bot_id, user_id, stored, whatsapp in rows:
        zone = zone_of(stored, Channel.WHATSAPP.value if whatsapp else None, whatsapp)
        zones.setdefault(bot_id, {}).setdefault(zone, []).append(user_id)
    return zones


def _grouped(zones: dict[str | None, list[int]], default: str) -> dict[str, tuple[int, ...]]:
    """Users by the zone a schedule reaches them in: the unknown ones in ``default``."""
    groups: dict[str, list[int]] = {}
    for zone, user_ids in zones.items():
        groups.setdefault(zone or default, []).extend(user_ids)
    return {zone: tuple(sorted(ids)) for zone, ids in groups.items()}


def _run_day(schedule: Schedule, zone: ZoneInfo, now: datetime, catch_up: timedelta) -> date | None:
    """The local date of the run due in ``zone`` at ``now``, if one is."""
    today = now.astimezone(zone).date()
    made = as_utc(schedule.created_at)
    for day in (today, today - timedelta(days=1)):
        if day.isoweekday() not in schedule.weekdays:
            continue
        at = _at(day, schedule.local_time, zone)
        if made <= at <= now < at + catch_up:
            return day
    return None


def _at(day: date, local_time: str, zone: ZoneInfo) -> datetime:
    """The moment (UTC) the clocks of ``zone`` show ``local_time`` on ``day``. A time the
    clocks skip (02:30 the night they go forward) is reached an hour later by them."""
    hour, minute = (int(part) for part in local_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
