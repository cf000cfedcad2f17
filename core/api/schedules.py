"""``/api/v1/bots/{bot_id}/schedules``: messages sent to every subscriber of a bot on
some weekdays at a time of day in each subscriber's own zone (see
:mod:`core.outreach.schedules`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from core.api.common import (
    API,
    Page,
    PageQuery,
    Strict,
    keyset,
    not_found,
    owned_bot,
    owned_row,
    services,
)
from core.api.spec import ApiError, Call, Moment
from core.errors import InvalidSchedule, TooManySchedules
from core.outreach.schedules import EVERY_DAY, MAX_SCHEDULES, MAX_TEXT, Plan, Schedules, next_run
from core.storage.models import Schedule, utcnow

Message = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
LocalTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Weekdays = Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=64)]

TIME = "HH:MM (24-hour) in each subscriber's own time zone"
DAYS = "ISO weekdays it runs on: 1 Monday … 7 Sunday"
ZONE = "IANA time zone of the subscribers whose own zone is not known"


class ScheduleCreate(Strict):
    text: Message = Field(description="the message, as sent")
    local_time: LocalTime = Field(description=TIME, examples=["08:00"])
    weekdays: Weekdays = Field(default_factory=lambda: list(EVERY_DAY), description=DAYS)
    timezone: Zone = Field(default="UTC", description=ZONE, examples=["Europe/Paris"])


class ScheduleChange(Strict):
    text: Message | None = None
    local_time: LocalTime | None = Field(default=None, description=TIME)
    weekdays: Weekdays | None = Field(default=None, description=DAYS)
    timezone: Zone | None = Field(default=None, description=ZONE)
    active: bool | None = Field(default=None, description="false pauses it")


class ScheduleOut(BaseModel):
    id: int
    text: str
    local_time: str
    weekdays: list[int]
    timezone: str
    active: bool
    next_run_at: Moment | None = Field(
        description="its next run for subscribers in its default zone (null while paused)"
    )
    created_at: Moment


class SchedulePage(Page[ScheduleOut]):
    pass


def _out(row: Schedule) -> ScheduleOut:
    return ScheduleOut(
        id=row.id,
        text=row.text,
        local_time=row.local_time,
        weekdays=row.weekdays,
        timezone=row.timezone,
        active=row.active,
        next_run_at=next_run(row, utcnow()),
        created_at=row.created_at,
    )


def _refused(exc: InvalidSchedule) -> ApiError:
    return ApiError(422, "Unprocessable Content", f"{exc.field}: {exc.reason}")


@API.route(
    "POST", "/bots/{bot_id}/schedules",
    summary="Send a message to every subscriber on some weekdays at a time of their day",
    tag="schedules", scope="broadcasts", body=ScheduleCreate, response=ScheduleOut,
    status=201, errors=(404, 409), idempotent=True,
)  # fmt: skip
async def create_schedule(call: Call) -> ScheduleOut:
    profile = await owned_bot(call)
    body: ScheduleCreate = call.body
    try:
        plan = Plan.checked(body.text, body.local_time, body.weekdays, body.timezone)
        row = await Schedules(services(call).db).create(profile.id, plan)
    except InvalidSchedule as exc:
        raise _refused(exc) from None
    except TooManySchedules:
        raise ApiError(409, "Conflict", f"a bot has at most {MAX_SCHEDULES} schedules") from None
    return _out(row)


@API.route(
    "GET", "/bots/{bot_id}/schedules", summary="The bot's schedules, oldest first",
    tag="schedules", scope="broadcasts", query=PageQuery, response=SchedulePage, errors=(404,),
)  # fmt: skip
async def list_schedules(call: Call) -> SchedulePage:
    profile = await owned_bot(call)
    query: PageQuery = call.query
    statement = select(Schedule).where(Schedule.bot_id == profile.id)
    async with services(call).db.read() as session:
        rows, cursor = await keyset(session, statement, query, Schedule.id, newest_first=False)
    return SchedulePage(items=[_out(row) for row in rows], next_cursor=cursor)


@API.route(
    "GET", "/bots/{bot_id}/schedules/{schedule_id}", summary="One schedule",
    tag="schedules", scope="broadcasts", response=ScheduleOut, errors=(404,),
)  # fmt: skip
async def get_schedule(call: Call) -> ScheduleOut:
    _, row = await owned_row(call, Schedule, "schedule_id")
    return _out(row)


@API.route(
    "PATCH", "/bots/{bot_id}/schedules/{schedule_id}",
    summary="Change a schedule's message, time, days or default zone, or pause it",
    tag="schedules", scope="broadcasts", body=ScheduleChange, response=ScheduleOut,
    errors=(404,),
)  # fmt: skip
async def change_schedule(call: Call) -> ScheduleOut:
    profile, row = await owned_row(call, Schedule, "schedule_id")
    body: ScheduleChange = call.body
    try:
        changed = await Schedules(services(call).db).change(
            profile.id, row.id, **body.model_dump(exclude_none=True)
        )
    except InvalidSchedule as exc:
        raise _refused(exc) from None
    if changed is None:  # deleted meanwhile
        raise not_found("schedule")
    return _out(changed)


@API.route(
    "DELETE", "/bots/{bot_id}/schedules/{schedule_id}",
    summary="Delete a schedule (the broadcasts it made stay)",
    tag="schedules", scope="broadcasts", status=204, errors=(404,),
)  # fmt: skip
async def delete_schedule(call: Call) -> None:
    profile, row = await owned_row(call, Schedule, "schedule_id")
    await Schedules(services(call).db).delete(profile.id, row.id)
