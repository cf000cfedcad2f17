"""``/api/v1/bots/{bot_id}/analytics``: how a bot is doing over the last days (the
numbers ``/stats`` shows in the manager bot, from :mod:`core.insights.analytics`), at most a
minute old."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from core.api.common import API, Strict, owned_bot, services
from core.api.spec import Call
from core.insights.analytics import bot_report


class Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ChannelCount(Read):
    channel: str
    inbound: int
    outbound: int


class Day(Read):
    day: date
    channels: list[ChannelCount] = Field(description="only the channels with messages")
    active_users: int
    inbound: int
    outbound: int


class FlowStep(Read):
    state: str = Field(description="a step of guided creation, in order")
    reached: int = Field(description="conversations that got this far or further")
    dropped: int = Field(description="conversations whose furthest step this was")


class QuestionCount(Read):
    question: str
    count: int


class Analytics(Read):
    bot_id: str
    first_day: date
    last_day: date
    daily: list[Day] = Field(description="every day of the window, oldest first (UTC)")
    channels: list[ChannelCount]
    inbound: int
    outbound: int
    active_users: int = Field(description="distinct users who wrote in the window")
    flow: list[FlowStep]
    flows_started: int
    flows_completed: int
    content_created: int
    questions: int
    unanswered: int = Field(description="questions the bot's knowledge did not cover")
    top_questions: list[QuestionCount]
    unanswered_questions: list[QuestionCount]
    credits_sold: int
    credits_granted: int
    credits_refunded: int
    credits_spent: int


class AnalyticsQuery(Strict):
    days: int = Field(default=30, ge=1, le=366, description="the window, ending today (UTC)")
    top: int = Field(default=10, ge=1, le=100, description="how many questions to list")


@API.route(
    "GET", "/bots/{bot_id}/analytics",
    summary="Messages per day and channel, active users, guided-flow drop-off, top and "
    "uncovered questions, credits sold and spent",
    tag="analytics", scope="analytics:read", query=AnalyticsQuery, response=Analytics,
    errors=(404,),
)  # fmt: skip
async def get_analytics(call: Call) -> Analytics:
    profile = await owned_bot(call)
    query: AnalyticsQuery = call.query
    return await _REPORTS.get(call, profile.id, query.days, query.top)


class _Reports:
    """Reports kept for a minute: one aggregates all of a bot's messages in the window
    (~0.5 s for 100,000), too dear to redo for every request of a dashboard."""

    TTL = 60.0
    SIZE = 256

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], tuple[float, Analytics]] = OrderedDict()

    async def get(self, call: Call, bot_id: str, days: int, top: int) -> Analytics:
        db = services(call).db
        key = (id(db), bot_id, days, top)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.TTL:
            return kept[1]
        report = Analytics.model_validate(await bot_report(db, bot_id, days=days, top=top))
        self._kept[key] = (now, report)
        self._kept.move_to_end(key)
        while len(self._kept) > self.SIZE:
            self._kept.popitem(last=False)
        return report


_REPORTS = _Reports()
