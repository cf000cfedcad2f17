"""``/api/v1/bots/{bot_id}/broadcasts``: messages to every subscriber of a bot, and how
each went (see :mod:`core.outreach.broadcasts`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from core.api.common import API, Page, PageQuery, Strict, keyset, owned_bot, owned_row, services
from core.api.spec import ApiError, Call, Moment
from core.outreach.audience import Audience, Report
from core.outreach.broadcasts import MAX_TEXT, Broadcasts
from core.storage.models import Broadcast

Status = Literal["draft", "sending", "done", "cancelled"]


class BroadcastCreate(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="the message, as sent")


class Counts(BaseModel):
    pending: int = 0
    sending: int = 0
    delivered: int = Field(default=0, description="handed to the channel")
    failed: int = Field(default=0, description="the channel refused it (see reasons)")
    skipped: int = Field(default=0, description="opted out, blocked the bot, or cancelled")


class BroadcastOut(BaseModel):
    id: int
    text: str
    origin: Literal["chat", "api", "schedule"]
    status: Status
    total: int = Field(description="recipients: every user of the bot when it was sent")
    counts: Counts
    channels: dict[str, Counts] = Field(description="the counts on each channel")
    reasons: dict[str, int] = Field(description="why recipients failed or were skipped")
    created_at: Moment
    finished_at: Moment | None


class BroadcastPage(Page[BroadcastOut]):
    pass


class AudienceOut(BaseModel):
    total: int = Field(description="users a broadcast would reach now")
    channels: dict[str, int] = Field(description="of them, on each channel")
    opted_out: int = Field(description="users who sent /stop")
    unreachable: int = Field(description="users who blocked the bot or cannot get messages")
    whatsapp_outside_window: int = Field(
        description="WhatsApp users who last wrote more than 24 hours ago"
    )
    whatsapp_template: bool = Field(description="whether those get the bot's approved template")
    summary: str


def _out(report: Report) -> BroadcastOut:
    return BroadcastOut(
        id=report.id,
        text=report.text,
        origin=report.origin,
        status=report.status,
        total=report.total,
        counts=Counts(**report.counts),
        channels={c: Counts(**n) for c, n in report.channels.items()},
        reasons=dict(report.reasons),
        created_at=report.created_at,
        finished_at=report.finished_at,
    )


def _broadcasts(call: Call) -> Broadcasts:
    found = services(call).broadcasts
    if found is None:
        raise ApiError(503, "Service Unavailable", "broadcasts are not available here")
    return found


@API.route(
    "GET", "/bots/{bot_id}/audience",
    summary="Who a broadcast would reach now, by channel, and who would be skipped",
    tag="broadcasts", scope="broadcasts", response=AudienceOut, errors=(404,),
)  # fmt: skip
async def get_audience(call: Call) -> AudienceOut:
    bot = await owned_bot(call)
    audience: Audience = await _broadcasts(call).audience(bot.id)
    return AudienceOut(
        total=audience.total,
        channels=dict(audience.reachable),
        opted_out=audience.opted_out,
        unreachable=audience.unreachable,
        whatsapp_outside_window=audience.whatsapp_outside_window,
        whatsapp_template=audience.whatsapp_template,
        summary=audience.describe(),
    )


@API.route(
    "POST", "/bots/{bot_id}/broadcasts",
    summary="Send a message to every user of the bot (sent in the background)",
    tag="broadcasts", scope="broadcasts", body=BroadcastCreate, response=BroadcastOut,
    status=202, errors=(404,), idempotent=True,
)  # fmt: skip
async def create_broadcast(call: Call) -> BroadcastOut:
    bot = await owned_bot(call)
    body: BroadcastCreate = call.body
    broadcasts = _broadcasts(call)
    try:
        created = await broadcasts.start(bot.id, body.text, origin="api")
    except ValueError as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    assert created is not None
    report = await broadcasts.report(bot.id, created)
    assert report is not None
    return _out(report)


@API.route(
    "GET", "/bots/{bot_id}/broadcasts", summary="The bot's broadcasts, newest first",
    tag="broadcasts", scope="broadcasts", query=PageQuery, response=BroadcastPage, errors=(404,),
)  # fmt: skip
async def list_broadcasts(call: Call) -> BroadcastPage:
    bot = await owned_bot(call)
    statement = select(Broadcast).where(Broadcast.bot_id == bot.id)
    async with services(call).db.read() as session:
        rows, cursor = await keyset(session, statement, call.query, Broadcast.id)
    reports = await _broadcasts(call).reports(bot.id, rows)
    return BroadcastPage(items=[_out(r) for r in reports], next_cursor=cursor)


@API.route(
    "GET", "/bots/{bot_id}/broadcasts/{broadcast_id}",
    summary="One broadcast: delivered, failed and skipped, by channel and reason",
    tag="broadcasts", scope="broadcasts", response=BroadcastOut, errors=(404,),
)  # fmt: skip
async def get_broadcast(call: Call) -> BroadcastOut:
    bot, row = await owned_row(call, Broadcast, "broadcast_id")
    report = await _broadcasts(call).report(bot.id, row.id)
    assert report is not None
    return _out(report)


@API.route(
    "POST", "/bots/{bot_id}/broadcasts/{broadcast_id}/cancel",
    summary="Stop a broadcast: users not sent to yet are skipped (a finished one stays)",
    tag="broadcasts", scope="broadcasts", response=BroadcastOut, errors=(404,),
)  # fmt: skip
async def cancel_broadcast(call: Call) -> BroadcastOut:
    bot, row = await owned_row(call, Broadcast, "broadcast_id")
    report = await _broadcasts(call).cancel(bot.id, row.id)
    assert report is not None
    return _out(report)
