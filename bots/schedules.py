"""``/schedule``, ``/schedules``, ``/unschedule``, ``/pauseschedule`` and
``/resumeschedule``: a creator's messages sent to every subscriber on a timetable.

``/schedule [DAYS] HH:MM [ZONE] TEXT`` makes one: DAYS is ``mon,wed,fri``, a range
``mon-fri``, ``weekdays`` or ``weekends`` (every day without it); ZONE (``Europe/Paris``,
UTC without it) is the zone of the subscribers whose own zone is not known. The other
commands take the number a schedule has in the ``/schedules`` listing. When the runs are
sent is :mod:`core.outreach.schedules`' business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bots.profile import BotProfile
from core.errors import InvalidSchedule, TooManySchedules
from core.i18n.translator import ENGLISH, N_, SOURCE_LANGUAGE, Translator
from core.messages import OutboundMessage
from core.outreach.schedules import EVERY_DAY, MAX_TEXT, Plan, Schedules, next_run
from core.people.timezones import canonical
from core.storage.models import Schedule, utcnow

NAMES = frozenset({"schedule", "schedules", "unschedule", "pauseschedule", "resumeschedule"})
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SHOWN = 60  # characters of a schedule's text in the listing
USAGE = N_(
    "Send /schedule followed by when and what, for example:\n"
    "• /schedule 08:00 Good morning! (every day)\n"
    "• /schedule mon,wed,fri 18:30 Time to practise.\n"
    "• /schedule weekdays 07:45 Europe/Paris Breathe in… (a zone for subscribers whose "
    "own zone I don't know; UTC otherwise)"
)
_TIME = re.compile(r"^\d{1,2}:\d{2}$")
_WORD = re.compile(r"\s*(\S+)")
_SPANS = {
    "daily": EVERY_DAY,
    "everyday": EVERY_DAY,
    "weekdays": (1, 2, 3, 4, 5),
    "weekends": (6, 7),
}


class CreatorSchedules:
    """Answers a creator's schedule commands for the bot they work on."""

    def __init__(self, schedules: Schedules, clock: Callable[[], datetime] = utcnow) -> None:
        self._schedules = schedules
        self._clock = clock

    async def command(
        self, name: str, args: str, bot: BotProfile, *, tr: Translator = ENGLISH
    ) -> list[OutboundMessage]:
        """The replies to one of :data:`NAMES`, in ``tr``'s language."""
        if name == "schedule":
            return _say(await self._create(args, bot, tr))
        listed = await self._schedules.of_bot(bot.id)
        if name == "schedules":
            return _say(self._listing(listed, bot, tr))
        number = args.strip()
        if not number.isdigit() or not 1 <= int(number) <= len(listed):
            if not listed:
                return _say(
                    tr.gettext("%(bot)s has no schedules.", bot=bot.name) + "\n" + tr.gettext(USAGE)
                )
            return _say(
                tr.gettext(
                    "Send /%(command)s followed by a number from 1 to %(last)s (/schedules).",
                    command=name,
                    last=len(listed),
                )
            )
        schedule = listed[int(number) - 1]
        what = f"{number}. {when(schedule.weekdays, schedule.local_time, tr)}: “{_short(schedule)}”"
        if name == "unschedule":
            await self._schedules.delete(bot.id, schedule.id)
            return _say(tr.gettext("Deleted %(schedule)s", schedule=what))
        active = name == "resumeschedule"
        await self._schedules.change(bot.id, schedule.id, active=active)
        if active:
            return _say(tr.gettext("Resumed %(schedule)s", schedule=what))
        return _say(
            tr.gettext("Paused %(schedule)s", schedule=what)
            + "\n"
            + tr.gettext("/resumeschedule %(number)s starts it again.", number=number)
        )

    async def _create(self, args: str, bot: BotProfile, tr: Translator) -> str:
        words = _words(args)
        days: tuple[int, ...] = EVERY_DAY
        if words and not _TIME.match(words[0][0]):
            named = weekdays(words.pop(0)[0])
            if named is None:
                return (
                    tr.gettext(
                        "I don't know which days %(days)s means.", days=repr(args.split()[0][:30])
                    )
                    + "\n"
                    + tr.gettext(USAGE)
                )
            days = named
        if not words or not _TIME.match(words[0][0]):
            return tr.gettext(USAGE)
        local_time, end = words.pop(0)
        zone = "UTC"
        # a zone's name, never a first word of the message that happens to be one (Japan)
        if words and canonical(words[0][0]) and ("/" in words[0][0] or words[0][0] == "UTC"):
            zone, end = words.pop(0)
        try:
            plan = Plan.checked(args[end:], local_time, days, zone)
            schedule = await self._schedules.create(bot.id, plan)
        except InvalidSchedule as exc:
            return _invalid(exc, args[end:], tr) + "\n" + tr.gettext(USAGE)
        except TooManySchedules as exc:
            return tr.gettext(
                "%(bot)s already has %(limit)s schedules: /unschedule one first.",
                bot=bot.name,
                limit=exc.limit,
            )
        return (
            tr.gettext(
                "%(when)s in each subscriber's own time (%(zone)s for those whose zone I "
                "don't know), starting %(day)s: “%(text)s”",
                when=when(plan.weekdays, plan.local_time, tr),
                zone=plan.timezone,
                day=self._day(schedule, tr),
                text=plan.text,
            )
            + "\n"
            + tr.gettext("Subscribers can /stop them. /schedules lists yours.")
        )

    def _listing(self, listed: Sequence[Schedule], bot: BotProfile, tr: Translator) -> str:
        if not listed:
            return tr.gettext("%(bot)s has no schedules.", bot=bot.name) + "\n" + tr.gettext(USAGE)
        lines = [tr.gettext("%(bot)s's schedules:", bot=bot.name)]
        for number, schedule in enumerate(listed, 1):
            said = {
                "number": number,
                "when": when(schedule.weekdays, schedule.local_time, tr),
                "zone": schedule.timezone,
                "text": _short(schedule),
            }
            lines.append(
                tr.gettext(
                    "%(number)s. %(when)s (default zone %(zone)s), next: %(day)s: “%(text)s”",
                    day=self._day(schedule, tr),
                    **said,
                )
                if schedule.active
                else tr.gettext(
                    "%(number)s. %(when)s (default zone %(zone)s), paused: “%(text)s”", **said
                )
            )
        lines.append(
            tr.gettext(
                "/unschedule N deletes one; /pauseschedule N and /resumeschedule N pause and "
                "resume one."
            )
        )
        return "\n".join(lines)

    def _day(self, schedule: Schedule, tr: Translator) -> str:
        """The day of a schedule's next run in its default zone: today, tomorrow, or
        its name and date."""
        now = self._clock()
        at = next_run(schedule, now)
        if at is None:
            return tr.gettext("never")
        zone = ZoneInfo(schedule.timezone)
        day, today = at.astimezone(zone).date(), now.astimezone(zone).date()
        if day == today:
            return tr.gettext("today")
        if day == today + timedelta(days=1):
            return tr.gettext("tomorrow")
        return tr.gettext(
            "%(weekday)s %(date)s",
            weekday=_day_names(tr)[day.weekday()],
            date=tr.day_month(day),
        )


def when(days: Sequence[int], local_time: str, tr: Translator = ENGLISH) -> str:
    """``Every day at 08:00``, ``Every weekday at 07:45``, ``Every Monday and Friday
    at 18:30``, in ``tr``'s language."""
    chosen = tuple(sorted(days))
    if chosen == EVERY_DAY:
        return tr.gettext("Every day at %(time)s", time=local_time)
    if chosen == _SPANS["weekdays"]:
        return tr.gettext("Every weekday (Monday to Friday) at %(time)s", time=local_time)
    names = [_day_names(tr)[d - 1] for d in chosen]
    if tr.language == SOURCE_LANGUAGE:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    else:
        from babel.lists import format_list

        listed = format_list(names, locale=tr.language)
    return tr.gettext("Every %(days)s at %(time)s", days=listed, time=local_time)


def _day_names(tr: Translator) -> Sequence[str]:
    """Monday to Sunday in ``tr``'s language."""
    if tr.language == SOURCE_LANGUAGE:
        return DAY_NAMES
    from babel.dates import get_day_names

    names = get_day_names("wide", locale=tr.language)
    return [names[n] for n in range(7)]


def _invalid(exc: InvalidSchedule, text: str, tr: Translator) -> str:
    """Why a schedule can't be kept, in ``tr``'s language."""
    if exc.field == "text":
        if not text.strip():
            return tr.gettext("The message is empty.")
        return tr.gettext("The message is over %(limit)s characters.", limit=tr.number(MAX_TEXT))
    if exc.field == "local_time":
        return tr.gettext("The time must be HH:MM, like 08:00 or 18:30.")
    if exc.field == "timezone":
        return tr.gettext("That isn't a time zone I know.")
    return tr.gettext("Name some days, from Monday to Sunday.")


def weekdays(text: str) -> tuple[int, ...] | None:
    """The ISO weekdays of ``mon,wed,fri``, ``mon-fri``, ``weekends``, ``daily``...;
    None when a part names no day."""
    text = text.casefold()
    if text in _SPANS:
        return _SPANS[text]
    found: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = _numbered(first)
        end = _numbered(last) if dash else start
        if start is None or end is None:
            return None
        # a range may go round the week end: fri-mon
        found.update(
            range(start, end + 1) if start <= end else [*range(start, 8), *range(1, end + 1)]
        )
    return tuple(sorted(found))


def _numbered(word: str) -> int | None:
    """1 for ``mon``, ``Monday`` or ``mo``... (at least two letters)."""
    if len(word) < 2:
        return None
    matches = [n for n, name in enumerate(DAY_NAMES, 1) if name.casefold().startswith(word)]
    return matches[0] if len(matches) == 1 else None


def _words(text: str) -> list[tuple[str, int]]:
    """The first few words of ``text``, each with where it ends (the rest is the
    message, kept exactly as typed)."""
    words, position = [], 0
    for _ in range(3):
        match = _WORD.match(text, position)
        if match is None:
            break
        words.append((match.group(1), match.end()))
        position = match.end()
    return words


def _short(schedule: Schedule) -> str:
    text = " ".join(schedule.text.split())
    return text if len(text) <= SHOWN else text[: SHOWN - 1].rstrip() + "…"


def _say(text: str) -> list[OutboundMessage]:
    return [OutboundMessage(text=text)]
