"""``/stats``: a creator's numbers for the last 30 days, as a short text and a chart.

The numbers come from :func:`core.insights.analytics.bot_report`; the chart (messages per day,
stacked by channel) is drawn by :func:`core.insights.charts.daily_bars` in a thread, kept in the
media store under one name per bot (drawing it again replaces it) and sent as an image.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bots.profile import BotProfile
from core.insights.analytics import BotReport, QuestionCount, bot_report
from core.insights.charts import Series, daily_bars
from core.messages import OutboundKind, OutboundMessage
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.models import utcnow
from core.text import counted

DAYS = 30
TOP = 5  # questions listed in the text
MAX_QUESTION = 80  # characters of a question shown


class CreatorStats:
    """Answers ``/stats`` for a creator's bot."""

    def __init__(
        self, db: Database, media: MediaStore, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._media = media
        self._clock = clock

    async def reply(self, bot: BotProfile) -> list[OutboundMessage]:
        """The summary of the last :data:`DAYS` days, then the chart."""
        report = await bot_report(self._db, bot.id, days=DAYS, now=self._clock(), top=TOP)
        png = await asyncio.to_thread(chart, report)
        image = await self._media.save_png(
            png, key=f"stats:{bot.id}", filename=f"{bot.id}-last-{DAYS}-days.png"
        )
        caption = f"{bot.name}: messages per day and channel, last {DAYS} days"
        return [
            OutboundMessage(text=summary(bot, report)),
            OutboundMessage(text=caption, kind=OutboundKind.IMAGE, image=image),
        ]


def chart(report: BotReport) -> bytes:
    """Messages per day (to and from users), one stacked segment per channel."""
    channels = [c.channel for c in report.channels]
    series = [
        Series(
            channel,
            tuple(
                sum(c.inbound + c.outbound for c in day.channels if c.channel == channel)
                for day in report.daily
            ),
        )
        for channel in channels
    ]
    days = [day.day for day in report.daily]
    return daily_bars(days, series, title=f"Messages per day, last {len(days)} days")


def summary(bot: BotProfile, report: BotReport) -> str:
    """The report's numbers, in a few lines."""
    first, last = report.first_day, report.last_day
    span = f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    lines = [f"{bot.name}, last {len(report.daily)} days ({span} UTC)"]
    lines.append(
        f"Messages: {report.inbound:,} from users, {report.outbound:,} replies"
        + (":" if report.channels else ".")
    )
    lines += [f"• {c.channel}: {c.inbound:,} in, {c.outbound:,} out" for c in report.channels]
    today = report.daily[-1].active_users if report.daily else 0
    lines.append(f"Active users: {report.active_users:,} ({today:,} today)")
    lines.append(
        f"Questions: {report.questions:,}, {report.unanswered:,} not covered by your documents"
    )
    lines += _listed("Asked most:", report.top_questions)
    lines += _listed("Not covered:", report.unanswered_questions)
    steps = " → ".join(f"{s.state.replace('_', ' ')} {s.reached:,}" for s in report.flow)
    lines.append(
        f"Guided creation: {report.flows_started:,} started, "
        f"{report.flows_completed:,} completed" + (f" ({steps})" if report.flows_started else "")
    )
    dropped = [f"{s.state.replace('_', ' ')} {s.dropped:,}" for s in report.flow if s.dropped]
    if dropped:
        lines.append("Stopped at: " + ", ".join(dropped))
    lines.append(f"Content created: {counted(report.content_created, 'piece')}")
    lines.append(
        f"Credits: {report.credits_sold:,} sold, {report.credits_granted:,} given, "
        f"{report.credits_spent:,} spent"
        + (f", {report.credits_refunded:,} refunded" if report.credits_refunded else "")
    )
    return "\n".join(lines)


def _listed(title: str, questions: tuple[QuestionCount, ...]) -> list[str]:
    if not questions:
        return []
    return [title] + [
        f"{n}. {_short(q.question)} ({q.count:,})" for n, q in enumerate(questions, 1)
    ]


def _short(text: str) -> str:
    return text if len(text) <= MAX_QUESTION else text[: MAX_QUESTION - 1].rstrip() + "…"
