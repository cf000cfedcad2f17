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
from core.conversation.statemachine import State
from core.i18n.translator import ENGLISH, N_, Translator
from core.insights.analytics import BotReport, QuestionCount, bot_report
from core.insights.charts import Series, daily_bars
from core.messages import OutboundKind, OutboundMessage
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.models import utcnow

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

    async def reply(self, bot: BotProfile, *, tr: Translator = ENGLISH) -> list[OutboundMessage]:
        """The summary of the last :data:`DAYS` days, then the chart, in ``tr``'s language."""
        report = await bot_report(self._db, bot.id, days=DAYS, now=self._clock(), top=TOP)
        png = await asyncio.to_thread(chart, report, tr)
        image = await self._media.save_png(
            png, key=f"stats:{bot.id}", filename=f"{bot.id}-last-{DAYS}-days.png"
        )
        caption = tr.ngettext(
            "%(bot)s: messages per day and channel, last %(count)s day",
            "%(bot)s: messages per day and channel, last %(count)s days",
            DAYS,
            bot=bot.name,
        )
        language = None if tr is ENGLISH else tr.language
        return [
            OutboundMessage(text=summary(bot, report, tr), language=language),
            OutboundMessage(text=caption, kind=OutboundKind.IMAGE, image=image, language=language),
        ]


#: what a creator calls the steps of guided creation
STEP_NAMES = {
    State.INTENT_DISCOVERY.value: N_("intent discovery"),
    State.CONTEXT_GATHERING.value: N_("context gathering"),
    State.PRACTICE_DETAILS.value: N_("practice details"),
    State.CONFIRM.value: N_("confirm"),
    State.GENERATING.value: N_("generating"),
    State.DELIVERED.value: N_("delivered"),
}


def chart(report: BotReport, tr: Translator = ENGLISH) -> bytes:
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
    title = tr.ngettext(
        "Messages per day, last %(count)s day", "Messages per day, last %(count)s days", len(days)
    )
    return daily_bars(days, series, title=title)


def summary(bot: BotProfile, report: BotReport, tr: Translator = ENGLISH) -> str:
    """The report's numbers, in a few lines, in ``tr``'s language."""
    n = tr.number
    lines = [
        tr.ngettext(
            "%(bot)s, last %(count)s day (%(first)s – %(last)s UTC)",
            "%(bot)s, last %(count)s days (%(first)s – %(last)s UTC)",
            len(report.daily),
            bot=bot.name,
            first=tr.day_month(report.first_day),
            last=tr.day(report.last_day),
        )
    ]
    lines.append(
        tr.gettext(
            "Messages: %(inbound)s from users, %(outbound)s replies:",
            inbound=n(report.inbound),
            outbound=n(report.outbound),
        )
        if report.channels
        else tr.gettext(
            "Messages: %(inbound)s from users, %(outbound)s replies.",
            inbound=n(report.inbound),
            outbound=n(report.outbound),
        )
    )
    lines += [
        "• "
        + tr.gettext(
            "%(channel)s: %(inbound)s in, %(outbound)s out",
            channel=c.channel,
            inbound=n(c.inbound),
            outbound=n(c.outbound),
        )
        for c in report.channels
    ]
    today = report.daily[-1].active_users if report.daily else 0
    lines.append(
        tr.gettext(
            "Active users: %(users)s (%(today)s today)",
            users=n(report.active_users),
            today=n(today),
        )
    )
    lines.append(
        tr.gettext(
            "Questions: %(questions)s, %(unanswered)s not covered by your documents",
            questions=n(report.questions),
            unanswered=n(report.unanswered),
        )
    )
    lines += _listed(tr.gettext("Asked most:"), report.top_questions, tr)
    lines += _listed(tr.gettext("Not covered:"), report.unanswered_questions, tr)
    started = tr.gettext(
        "Guided creation: %(started)s started, %(completed)s completed",
        started=n(report.flows_started),
        completed=n(report.flows_completed),
    )
    if report.flows_started:
        steps = " → ".join(f"{_step(s.state, tr)} {n(s.reached)}" for s in report.flow)
        started += f" ({steps})"
    lines.append(started)
    dropped = [f"{_step(s.state, tr)} {n(s.dropped)}" for s in report.flow if s.dropped]
    if dropped:
        lines.append(tr.gettext("Stopped at: %(steps)s", steps=", ".join(dropped)))
    lines.append(
        tr.ngettext(
            "Content created: %(count)s piece",
            "Content created: %(count)s pieces",
            report.content_created,
        )
    )
    credits = {
        "sold": n(report.credits_sold),
        "given": n(report.credits_granted),
        "spent": n(report.credits_spent),
    }
    lines.append(
        tr.gettext(
            "Credits: %(sold)s sold, %(given)s given, %(spent)s spent, %(refunded)s refunded",
            refunded=n(report.credits_refunded),
            **credits,
        )
        if report.credits_refunded
        else tr.gettext("Credits: %(sold)s sold, %(given)s given, %(spent)s spent", **credits)
    )
    return "\n".join(lines)


def _step(state: str, tr: Translator) -> str:
    return tr.gettext(STEP_NAMES[state]) if state in STEP_NAMES else state.replace("_", " ")


def _listed(title: str, questions: tuple[QuestionCount, ...], tr: Translator) -> list[str]:
    if not questions:
        return []
    return [title] + [
        f"{number}. {_short(q.question)} ({tr.number(q.count)})"
        for number, q in enumerate(questions, 1)
    ]


def _short(text: str) -> str:
    return text if len(text) <= MAX_QUESTION else text[: MAX_QUESTION - 1].rstrip() + "…"
