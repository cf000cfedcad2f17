"""Scheduled messages and what users say about them (SQLite and PostgreSQL).

Users send /stop, /subscribe and /timezone through the real app on Telegram and
WhatsApp; a creator makes schedules in the manager bot and through the REST API. When
runs fall due is checked against a clock the test moves: each zone's subscribers get
a run at their own 08:00, once per local date, on the listed weekdays, late by at most
the catch-up window, across daylight saving changes. The broadcasts are started by a
small recording function that stores each run's broadcast row (the unique occurrence
key is the database's).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.outreach.schedules import CATCH_UP, MAX_SCHEDULES, Plan, Scheduler, Schedules, due
from core.people.timezones import choose, of_number, zone_of
from core.services import Services
from core.storage.database import Database
from core.storage.models import Broadcast, ChannelIdentity, EndUser, Schedule
from tests.api import bearer, problem, register
from tests.coach import BOT, TELEGRAM_USER, Platform, green_tea_coach
from tests.fakes.twilio_requests import USER_NUMBER
from tests.test_channels.telegram_app import Client

WEEKDAYS = [1, 2, 3, 4, 5]
MADE = datetime(2026, 11, 1, tzinfo=UTC)  # when the test's schedules were made


def at(text: str) -> datetime:
    """``2026-11-24 07:00`` UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- time zones -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+33612345678", "Europe/Paris"),
        ("+819012345678", "Asia/Tokyo"),
        ("+4915112345678", "Europe/Berlin"),
        ("+14155550123", "America/Los_Angeles"),  # +1, but San Francisco's area code
        ("+12125551234", "America/New_York"),
        ("+18005550123", None),  # +1 toll-free: the whole of North America
        ("+61412345678", None),  # Australia keeps several zones
        ("+447700900123", None),  # a number kept for drama: no place
        ("not a number", None),
    ],
)
def test_a_whatsapp_number_tells_the_zone_when_its_place_has_one(
    number: str, zone: str | None
) -> None:
    assert of_number(number) == zone
    assert zone_of(None, "whatsapp", number) == zone


def test_a_stored_zone_comes_first_and_other_channels_guess_nothing() -> None:
    assert zone_of("europe/paris", "whatsapp", "+819012345678") == "Europe/Paris"
    assert zone_of("Mars/Olympus", "whatsapp", "+819012345678") == "Asia/Tokyo"
    assert zone_of(None, "telegram", "+819012345678") is None
    assert zone_of(None, "whatsapp", "") is None


@pytest.mark.parametrize(
    ("text", "zone", "fixed"),
    [
        ("europe/PARIS", "Europe/Paris", False),
        ("New York", "America/New_York", False),
        ("são paulo", "America/Sao_Paulo", False),
        ("kolkata", "Asia/Kolkata", False),
        ("14:10", "Etc/GMT-2", True),  # it is 12:10 UTC
        ("2:10 pm", "Etc/GMT-2", True),
        ("12:10", "UTC", True),
        ("07:11", "Etc/GMT+5", True),  # typed a minute late
        ("17:40", "Asia/Colombo", True),  # UTC+5:30 all year
        ("UTC-3:30", "America/St_Johns", False),  # only a place with seasons has it
        ("1:10", "Etc/GMT-13", True),  # New Zealand in summer rather than UTC-11
        ("gmt+14", "Etc/GMT-14", True),
        ("utc+15", None, False),
        ("14:20", None, False),  # UTC+2:10 is nowhere
        ("Lyon", None, False),
        ("25:00", None, False),
    ],
)
def test_users_name_their_zone_by_place_offset_or_clock(
    text: str, zone: str | None, fixed: bool
) -> None:
    choice = choose(text, at("2026-11-24 12:10:30"))
    found = (choice.zone, choice.fixed) if choice else None
    assert found == ((zone, fixed) if zone else None)


# -- when runs are due ------------------------------------------------------------------


@dataclass
class Recorder:
    """A broadcasts' start function that only stores the broadcast row, and remembers
    each run it started and when."""

    db: Database
    clock: Moment
    started: list[tuple[datetime, str, tuple[int, ...]]] = field(default_factory=list)

    async def __call__(
        self,
        bot_id: str,
        text: str,
        *,
        origin: str,
        schedule_id: int | None = None,
        occurrence: str | None = None,
        user_ids: Collection[int] | None = None,
    ) -> int | None:
        row = Broadcast(
            bot_id=bot_id,
            text=text,
            origin=origin,
            schedule_id=schedule_id,
            occurrence=occurrence,
            status="sending",
        )
        try:
            async with self.db.transaction() as session:
                session.add(row)
        except IntegrityError:
            return None
        self.started.append((self.clock(), occurrence or "", tuple(user_ids or ())))
        return row.id

    def times(self) -> dict[str, datetime]:
        return {key: moment for moment, key, _ in self.started}


@dataclass
class Moment:
    """A clock for datetimes that moves only when the test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def user(
    services: Services,
    *,
    zone: str | None = None,
    whatsapp: str | None = None,
    bot_id: str = "demo",
    opted_out: bool = False,
) -> int:
    async with services.db.transaction() as session:
        row = EndUser(bot_id=bot_id, timezone=zone, opted_out_at=MADE if opted_out else None)
        session.add(row)
        await session.flush()
        if whatsapp:
            session.add(
                ChannelIdentity(
                    bot_id=bot_id, channel="whatsapp", external_id=whatsapp, end_user_id=row.id
                )
            )
        return row.id


async def test_each_zone_gets_its_run_at_its_own_eight_once(services: Services) -> None:
    paris = await user(services, zone="Europe/Paris")
    also_paris = await user(services, whatsapp="+33612345678")
    tokyo = await user(services, whatsapp="+819012345678")
    new_york = await user(services, zone="America/New_York")
    unknown = await user(services)
    australia = await user(services, whatsapp="+61412345678")  # several zones: the default
    await user(services, zone="Europe/Paris", opted_out=True)
    other = await services.bots.create("Other Coach")
    await user(services, zone="Europe/Paris", bot_id=other.id)  # a bot without schedules
    schedules = Schedules(services.db, clock=lambda: MADE)
    made = await schedules.create("demo", Plan.checked("Good morning!", "08:00", WEEKDAYS))

    clock = Moment(at("2026-11-23 20:00"))  # Monday evening in UTC
    recorder = Recorder(services.db, clock)
    scheduler = Scheduler(services.db, recorder, 30, now=clock)
    while clock.now < at("2026-11-25 00:00"):
        await scheduler.tick()
        clock.now += timedelta(minutes=10)

    assert recorder.times() == {
        "2026-11-24 Asia/Tokyo": at("2026-11-23 23:00"),
        "2026-11-24 Europe/Paris": at("2026-11-24 07:00"),
        "2026-11-24 UTC": at("2026-11-24 08:00"),
        "2026-11-24 America/New_York": at("2026-11-24 13:00"),
        "2026-11-25 Asia/Tokyo": at("2026-11-24 23:00"),  # Wednesday there already
    }
    users = {key: ids for _, key, ids in recorder.started}
    assert users["2026-11-24 Europe/Paris"] == (paris, also_paris)
    assert users["2026-11-24 Asia/Tokyo"] == (tokyo,)
    assert users["2026-11-24 UTC"] == (unknown, australia)
    assert users["2026-11-24 America/New_York"] == (new_york,)
    async with services.db.read() as session:
        stored = await session.scalars(select(Broadcast).order_by(Broadcast.id))
        assert {(b.schedule_id, b.origin, b.text) for b in stored} == {
            (made.id, "schedule", "Good morning!")
        }
        # once started, a run is due no more
        assert await due(session, at("2026-11-24 07:30")) == []


async def test_a_late_run_is_caught_up_within_the_window_only(services: Services) -> None:
    await user(services, zone="Europe/Paris")
    await Schedules(services.db, clock=lambda: MADE).create(
        "demo", Plan.checked("Good morning!", "08:00", WEEKDAYS)
    )
    async with services.db.read() as session:
        assert await due(session, at("2026-11-24 06:59:59")) == []  # 07:59:59 in Paris
        (late,) = await due(session, at("2026-11-24 08:10"))  # a server down at 08:00
        assert late.occurrence == "2026-11-24 Europe/Paris"
        assert await due(session, at("2026-11-24 07:00") + CATCH_UP) == []
        assert await due(session, at("2026-11-24 22:00")) == []
        # not on a weekend, and not before the schedule was made
        assert await due(session, at("2026-11-28 07:00")) == []
    await Schedules(services.db, clock=lambda: at("2026-11-24 07:30")).create(
        "demo", Plan.checked("Made after eight", "08:00", WEEKDAYS)
    )
    async with services.db.read() as session:
        assert [o.text for o in await due(session, at("2026-11-24 07:45"))] == ["Good morning!"]
        assert {o.text for o in await due(session, at("2026-11-25 07:00"))} == {
            "Good morning!",
            "Made after eight",
        }


async def test_a_run_close_to_midnight_is_caught_up_the_next_day(services: Services) -> None:
    await user(services, zone="Asia/Tokyo")
    await Schedules(services.db, clock=lambda: MADE).create(
        "demo", Plan.checked("Good night", "23:30", [2], "UTC")
    )
    async with services.db.read() as session:
        # Tuesday 23:30 in Tokyo is 14:30 UTC; at 01:00 on Wednesday it is still due
        (run,) = await due(session, at("2026-11-24 16:00"))
        assert run.occurrence == "2026-11-24 Asia/Tokyo"
        assert await due(session, at("2026-11-24 17:30")) == []


async def test_runs_follow_each_zones_daylight_saving_changes(services: Services) -> None:
    await user(services)  # in the schedule's default zone
    await user(services, zone="America/New_York")
    await Schedules(services.db, clock=lambda: MADE.replace(year=2025)).create(
        "demo", Plan.checked("Good morning!", "08:00", timezone="europe/paris")
    )
    clock = Moment(at("2026-03-06 00:00"))
    recorder = Recorder(services.db, clock)
    scheduler = Scheduler(services.db, recorder, 30, now=clock)
    while clock.now < at("2026-03-31 00:00"):
        await scheduler.tick()
        clock.now += timedelta(minutes=15)
    times = recorder.times()
    # New York moves its clocks on 8 March, Paris on 29 March
    assert times["2026-03-07 America/New_York"] == at("2026-03-07 13:00")
    assert times["2026-03-08 America/New_York"] == at("2026-03-08 12:00")
    assert times["2026-03-28 Europe/Paris"] == at("2026-03-28 07:00")
    assert times["2026-03-29 Europe/Paris"] == at("2026-03-29 06:00")
    assert len(times) == 2 * 25  # every day in both zones, once


async def test_the_scheduler_runs_until_closed(services: Services) -> None:
    await user(services)
    await Schedules(services.db, clock=lambda: MADE).create("demo", Plan.checked("Hello", "08:00"))
    clock = Moment(at("2026-11-24 08:05"))
    recorder = Recorder(services.db, clock)
    scheduler = Scheduler(services.db, recorder, 0.01, now=clock)
    running = asyncio.create_task(scheduler.run())
    for _ in range(200):
        if recorder.started:
            break
        await asyncio.sleep(0.01)
    await scheduler.close()
    await asyncio.wait_for(running, 5)
    assert [key for _, key, _ in recorder.started] == ["2026-11-24 UTC"]
    assert await scheduler.tick() == 0  # already started


# -- users and creators on their channels -----------------------------------------------

RIVAL = 3_002  # another creator, with an agent of her own
BEN = str(TELEGRAM_USER)


@pytest.fixture
async def platform(
    app_database: dict[str, str], aiohttp_server: AiohttpServer, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with green_tea_coach(aiohttp_server, tmp_path / "data", **app_database) as made:
        yield made


async def last(replies: Awaitable[list[str]]) -> str:
    """The last message sent in answer."""
    return (await replies)[-1]


async def test_users_stop_and_subscribe_again_on_telegram_and_whatsapp(
    platform: Platform,
) -> None:
    stopped = await last(platform.ben("/stop"))
    assert "no more announcements or scheduled messages from Green Tea Coach" in stopped
    assert "/subscribe" in stopped
    ben = await platform.user("telegram", BEN)
    assert ben.opted_out_at is not None
    await platform.ben("/stop")  # again: still when they first asked
    assert (await platform.user("telegram", BEN)).opted_out_at == ben.opted_out_at
    assert "You're subscribed" in await last(platform.ben("/subscribe"))
    assert (await platform.user("telegram", BEN)).opted_out_at is None
    assert "/stop" in await last(platform.ben("/help"))

    # on WhatsApp the bare words count, whatever their case; START still begins again
    await platform.ada("STOP")
    assert (await platform.user("whatsapp", USER_NUMBER)).opted_out_at is not None
    bot = await platform.services.bots.get(BOT)
    assert (await platform.ada("Start"))[0].startswith(bot.welcome[:20])
    assert (await platform.user("whatsapp", USER_NUMBER)).opted_out_at is not None
    assert "You're subscribed" in await last(platform.ada("subscribe"))
    assert (await platform.user("whatsapp", USER_NUMBER)).opted_out_at is None
    await platform.ada("Unsubscribe.")
    assert (await platform.user("whatsapp", USER_NUMBER)).opted_out_at is not None
    # a sentence with the word in it is only a message
    await platform.ada("/subscribe")
    await platform.ada("Please don't stop the tips")
    assert (await platform.user("whatsapp", USER_NUMBER)).opted_out_at is None


async def test_users_set_their_time_zone(platform: Platform) -> None:
    assert "I don't know your time zone" in await last(platform.ben("/timezone"))
    assert (await platform.user("telegram", BEN)).timezone is None
    told = await last(platform.ben("/timezone europe/paris"))
    assert "Time zone set to Europe/Paris (UTC+" in told
    assert (await platform.user("telegram", BEN)).timezone == "Europe/Paris"
    assert "Your time zone is Europe/Paris" in await last(platform.ben("/timezone"))
    await platform.ben("/timezone São Paulo")
    assert (await platform.user("telegram", BEN)).timezone == "America/Sao_Paulo"
    refused = await last(platform.ben("/timezone Atlantis"))
    assert "I don't know the time zone 'Atlantis'" in refused
    assert (await platform.user("telegram", BEN)).timezone == "America/Sao_Paulo"

    # the time on her clock: two hours ahead of UTC
    clock = f"{datetime.now(UTC) + timedelta(hours=2):%H:%M}"
    told = await last(platform.ada(f"/timezone {clock}"))
    assert f"Time zone set to UTC+2: it's {clock}" in told
    assert "daylight saving" in told
    assert (await platform.user("whatsapp", USER_NUMBER)).timezone == "Etc/GMT-2"
    assert "Your time zone is UTC+2" in await last(platform.ada("/timezone"))


async def test_a_creator_schedules_messages_in_the_manager_bot(platform: Platform) -> None:
    made = await last(platform.manager("/schedule 08:00 Good morning! Time for tea."))
    assert re.match(
        r"Every day at 08:00 in each subscriber's own time \(UTC for those whose zone I "
        r"don't know\), starting (today|tomorrow): “Good morning! Time for tea.”",
        made,
    ), made
    made = await last(platform.manager("/schedule mon,wed,fri 18:30 europe/paris Steep\nthen sip."))
    assert made.startswith("Every Monday, Wednesday and Friday at 18:30 in each")
    assert "(Europe/Paris for those whose zone I don't know)" in made
    made = await last(platform.manager("/schedule weekdays 7:45 Breathe."))
    assert made.startswith("Every weekday (Monday to Friday) at 07:45")
    for wrong, answer in [
        ("/schedule 25:00 Hello", "/schedule followed by when"),
        ("/schedule someday 08:00 Hello", "which days 'someday'"),
        ("/schedule 08:00", "The message is empty"),
    ]:
        assert answer in await last(platform.manager(wrong))
    async with platform.services.db.read() as session:
        rows = list(await session.scalars(select(Schedule).order_by(Schedule.id)))
    assert [(r.bot_id, r.local_time, r.weekdays, r.timezone) for r in rows] == [
        (BOT, "08:00", [1, 2, 3, 4, 5, 6, 7], "UTC"),
        (BOT, "18:30", [1, 3, 5], "Europe/Paris"),
        (BOT, "07:45", [1, 2, 3, 4, 5], "UTC"),
    ]
    assert rows[1].text == "Steep\nthen sip."

    listing = await last(platform.manager("/schedules"))
    assert listing.startswith("Green Tea Coach's schedules:\n1. Every day at 08:00 (default zone")
    assert "2. Every Monday, Wednesday and Friday at 18:30 (default zone Europe/Paris)" in listing
    assert "“Steep then sip.”" in listing
    assert listing.count(", next: ") == 3
    assert "Paused 2. Every Monday" in await last(platform.manager("/pauseschedule 2"))
    assert "(default zone Europe/Paris), paused:" in await last(platform.manager("/schedules"))
    assert "Resumed 2." in await last(platform.manager("/resumeschedule 2"))
    assert "Deleted 1. Every day at 08:00" in await last(platform.manager("/unschedule 1"))
    assert "from 1 to 2" in await last(platform.manager("/unschedule 3"))
    listing = await last(platform.manager("/schedules"))
    assert "1. Every Monday, Wednesday and Friday" in listing
    assert "Every day" not in listing

    # another creator sees only their own agent's
    await platform.manager("/newbot Rival Coach", RIVAL)
    assert "Rival Coach has no schedules" in await last(platform.manager("/schedules", RIVAL))
    assert "has no schedules" in await last(platform.manager("/unschedule 1", RIVAL))
    async with platform.services.db.read() as session:
        assert len(list(await session.scalars(select(Schedule)))) == 2


# -- the REST API -----------------------------------------------------------------------


async def test_schedules_through_the_api(api: Client) -> None:
    headers = bearer((await register(api))["access_token"])
    response = await api.post("/api/v1/bots", json={"name": "Tea Guide"}, headers=headers)
    url = f"/api/v1/bots/{(await response.json())['id']}/schedules"
    body = {"text": "Tea time!", "local_time": "16:00", "weekdays": [5, 1, 1]}
    key = {**headers, "Idempotency-Key": "schedule-1"}
    created = await api.post(url, json=body, headers=key)
    assert created.status == 201, await created.text()
    schedule = await created.json()
    assert {k: schedule[k] for k in ("text", "local_time", "weekdays", "timezone", "active")} == {
        "text": "Tea time!",
        "local_time": "16:00",
        "weekdays": [1, 5],
        "timezone": "UTC",
        "active": True,
    }
    assert datetime.fromisoformat(schedule["next_run_at"]).strftime("%H:%M %w") in (
        "16:00 1",
        "16:00 5",
    )
    again = await api.post(url, json=body, headers=key)
    assert (await again.json())["id"] == schedule["id"]
    one = f"{url}/{schedule['id']}"
    assert (await (await api.get(one, headers=headers)).json()) == schedule

    changed = await api.patch(
        one,
        json={"active": False, "timezone": "asia/tokyo", "local_time": "07:30"},
        headers=headers,
    )
    out = await changed.json()
    assert (out["active"], out["timezone"], out["local_time"], out["next_run_at"]) == (
        False,
        "Asia/Tokyo",
        "07:30",
        None,
    )
    for bad, detail in [
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a time zone"),
        ({"text": "   "}, "text: the message is empty"),
        ({"local_time": "8:00"}, "local_time"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [0]}, "weekdays.0"),
        ({"repeat": True}, "repeat"),
    ]:
        refused = await api.patch(one, json=bad, headers=headers)
        assert detail in (await problem(refused, 422))["detail"], bad
    refused = await api.post(url, json={"text": "Hi", "local_time": "24:00"}, headers=headers)
    await problem(refused, 422)

    for n in range(MAX_SCHEDULES - 1):
        made = await api.post(
            url, json={"text": f"Tip {n}", "local_time": "09:00"}, headers=headers
        )
        assert made.status == 201
    over = await api.post(url, json={"text": "One more", "local_time": "09:00"}, headers=headers)
    assert "at most 20" in (await problem(over, 409))["detail"]
    pages = [await (await api.get(url, params={"limit": "15"}, headers=headers)).json()]
    cursor = {"limit": "15", "cursor": pages[0]["next_cursor"]}
    pages.append(await (await api.get(url, params=cursor, headers=headers)).json())
    ids = [s["id"] for page in pages for s in page["items"]]
    assert ids == sorted(ids)
    assert len(ids) == MAX_SCHEDULES
    assert pages[1]["next_cursor"] is None

    # another creator's calls find nothing, and change nothing
    rival = bearer((await register(api))["access_token"])
    await problem(await api.get(one, headers=rival), 404)
    await problem(await api.patch(one, json={"active": True}, headers=rival), 404)
    await problem(await api.delete(one, headers=rival), 404)
    assert (await (await api.get(one, headers=headers)).json())["active"] is False

    assert (await api.delete(one, headers=headers)).status == 204
    await problem(await api.get(one, headers=headers), 404)
    await problem(await api.delete(one, headers=headers), 404)
    await problem(await api.get(f"{url}/not-a-number", headers=headers), 404)
