"""Who a broadcast reaches, and how it went.

Each end user of a bot is reached on one channel: a reachable one the message can be
pushed to, Telegram first (no window, no cost), then WhatsApp, then the website chat.
Users who sent /stop, blocked the bot everywhere, or talk only in the terminal are
skipped, and the reason is kept. A :class:`Report` counts a broadcast's recipients by
status, channel and reason, in SQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n.translator import ENGLISH, N_, Translator
from core.messages import Channel
from core.storage.models import (
    Bot,
    Broadcast,
    BroadcastRecipient,
    ChannelIdentity,
    EndUser,
    WhatsAppContact,
    as_utc,
    utcnow,
)

#: the channels a message can be pushed to, the preferred first for a user on several
PUSHED = (Channel.TELEGRAM.value, Channel.WHATSAPP.value, Channel.WIDGET.value)
WHATSAPP_WINDOW = timedelta(hours=24)
# why a recipient is skipped, kept with them and translated where shown
OPTED_OUT = N_("opted out with /stop")
BLOCKED = N_("has blocked the bot")
NO_PUSH = N_("talks only in the terminal or through the API")
_BATCH = 1000  # bounded parameter lists and inserts on every database


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast of a bot would reach now, for the creator to confirm."""

    reachable: Mapping[str, int]  # channel -> users
    opted_out: int
    unreachable: int
    # WhatsApp users who last wrote more than 24 hours ago: only a template reaches them
    whatsapp_outside_window: int
    whatsapp_template: bool

    @property
    def total(self) -> int:
        return sum(self.reachable.values())

    def describe(self, tr: Translator = ENGLISH) -> str:
        """In words, in ``tr``'s language: "812 people: 500 on Telegram, 300 on WhatsApp,
        12 on the website." and who is left out and why, one sentence each."""
        if not self.total:
            return tr.gettext("Nobody can be reached yet.")
        parts = [
            tr.gettext(REACHED_ON[c], count=tr.number(n))
            if c in REACHED_ON
            else f"{tr.number(n)} {c}"
            for c, n in self.reachable.items()
            if n
        ]
        sentences = [
            tr.ngettext(
                "%(count)s person: %(channels)s.",
                "%(count)s people: %(channels)s.",
                self.total,
                channels=", ".join(parts),
            )
        ]
        if self.whatsapp_outside_window:
            sentences.append(
                tr.ngettext(
                    "%(count)s of the WhatsApp users will get your approved WhatsApp template.",
                    "%(count)s of the WhatsApp users will get your approved WhatsApp template.",
                    self.whatsapp_outside_window,
                )
                if self.whatsapp_template
                else tr.ngettext(
                    "%(count)s of the WhatsApp users can't be reached: they last wrote more "
                    "than 24 hours ago and no approved WhatsApp template is set.",
                    "%(count)s of the WhatsApp users can't be reached: they last wrote more "
                    "than 24 hours ago and no approved WhatsApp template is set.",
                    self.whatsapp_outside_window,
                )
            )
        skipped = []
        if self.opted_out:
            skipped.append(
                tr.ngettext(
                    "%(count)s opted out with /stop",
                    "%(count)s opted out with /stop",
                    self.opted_out,
                )
            )
        if self.unreachable:
            skipped.append(
                tr.ngettext(
                    "%(count)s blocked the bot or can't get messages",
                    "%(count)s blocked the bot or can't get messages",
                    self.unreachable,
                )
            )
        if skipped:
            sentences.append(tr.gettext("Skipped: %(who)s.", who=", ".join(skipped)))
        return " ".join(sentences)


@dataclass(frozen=True, slots=True)
class Report:
    """How a broadcast is going: counts by status, by channel and by reason."""

    id: int
    bot_id: str
    text: str
    origin: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    counts: Mapping[str, int]  # pending, sending, delivered, failed, skipped
    channels: Mapping[str, Mapping[str, int]]
    reasons: Mapping[str, int]  # why recipients failed or were skipped

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    def summary(self, tr: Translator = ENGLISH) -> str:
        """For the creator, in ``tr``'s language: "Broadcast 3 finished: 790 of 802
        delivered." and the details, a line each."""
        counts = {
            "number": self.id,
            "delivered": tr.number(self.count("delivered")),
            "total": tr.number(self.total),
        }
        if self.status == "draft":
            head = tr.gettext(
                "Broadcast %(number)s is ready to send: %(delivered)s of %(total)s delivered.",
                **counts,
            )
        elif self.status == "sending":
            head = tr.gettext(
                "Broadcast %(number)s is being sent: %(delivered)s of %(total)s delivered.",
                **counts,
            )
        elif self.status == "done":
            head = tr.gettext(
                "Broadcast %(number)s finished: %(delivered)s of %(total)s delivered.", **counts
            )
        elif self.status == "cancelled":
            head = tr.gettext(
                "Broadcast %(number)s was cancelled: %(delivered)s of %(total)s delivered.",
                **counts,
            )
        else:
            head = tr.gettext(
                "Broadcast %(number)s: %(delivered)s of %(total)s delivered.", **counts
            )
        lines = [head]
        per_channel = [
            f"{channel_name(c, tr)} {tr.number(n.get('delivered', 0))}"
            for c, n in sorted(self.channels.items())
            if n.get("delivered")
        ]
        if per_channel:
            lines.append(tr.gettext("Delivered: %(channels)s.", channels=", ".join(per_channel)))
        if self.count("failed"):
            lines.append(tr.gettext("Failed: %(count)s.", count=tr.number(self.count("failed"))))
        if self.count("skipped"):
            lines.append(tr.gettext("Skipped: %(count)s.", count=tr.number(self.count("skipped"))))
        if self.reasons:
            why = sorted(self.reasons.items(), key=lambda r: (-r[1], r[0]))[:5]
            # a reason is ours (marked for translation) or a platform's own words
            listed = "; ".join(f"{tr.number(n)} {tr.gettext(reason)}" for reason, n in why)
            lines.append(tr.gettext("Why: %(reasons)s.", reasons=listed))
        waiting = self.count("pending") + self.count("sending")
        if waiting and self.status == "sending":
            lines.append(tr.ngettext("%(count)s still to go.", "%(count)s still to go.", waiting))
        return "\n".join(lines)


CHANNEL_NAMES = {
    Channel.TELEGRAM.value: N_("Telegram"),
    Channel.WHATSAPP.value: N_("WhatsApp"),
    Channel.WIDGET.value: N_("the website"),
}
#: how many a broadcast reaches on each channel
REACHED_ON = {
    Channel.TELEGRAM.value: N_("%(count)s on Telegram"),
    Channel.WHATSAPP.value: N_("%(count)s on WhatsApp"),
    Channel.WIDGET.value: N_("%(count)s on the website"),
}


def channel_name(channel: str, tr: Translator = ENGLISH) -> str:
    """A channel's name for the creator, in ``tr``'s language."""
    return tr.gettext(CHANNEL_NAMES[channel]) if channel in CHANNEL_NAMES else channel


_Identity = tuple[int, datetime | None, str, str, bool, datetime | None]


async def _identities(
    session: AsyncSession, bot_id: str, user_ids: Collection[int] | None
) -> list[_Identity]:
    """(user, opted out at, channel, external id, reachable, WhatsApp last inbound) of
    every identity of the bot's users (of ``user_ids`` only, when given)."""
    query = (
        select(
            EndUser.id,
            EndUser.opted_out_at,
            ChannelIdentity.channel,
            ChannelIdentity.external_id,
            ChannelIdentity.reachable,
            WhatsAppContact.last_inbound_at,
        )
        .join(ChannelIdentity, ChannelIdentity.end_user_id == EndUser.id)
        .outerjoin(
            WhatsAppContact,
            (WhatsAppContact.bot_id == ChannelIdentity.bot_id)
            & (WhatsAppContact.number == ChannelIdentity.external_id)
            & (ChannelIdentity.channel == Channel.WHATSAPP.value),
        )
        .where(EndUser.bot_id == bot_id)
        .order_by(EndUser.id, ChannelIdentity.id)
    )
    if user_ids is None:
        return [tuple(r) for r in (await session.execute(query)).all()]  # type: ignore[misc]
    ids = sorted(set(user_ids))
    rows: list[_Identity] = []
    for start in range(0, len(ids), _BATCH):  # bounded parameter lists on every database
        chunk = query.where(EndUser.id.in_(ids[start : start + _BATCH]))
        rows += [tuple(r) for r in (await session.execute(chunk)).all()]  # type: ignore[misc]
    return rows


def _by_user(rows: Sequence[_Identity]) -> dict[int, list[_Identity]]:
    users: dict[int, list[_Identity]] = defaultdict(list)
    for row in rows:
        users[row[0]].append(row)
    return users


def _choose(identities: Sequence[_Identity]) -> tuple[str | None, str, str, datetime | None]:
    """The identity a user is reached on: (None or why they are skipped, channel,
    external id, WhatsApp last inbound). Reachable pushed channels come first, in the
    order of :data:`PUSHED`."""
    pushed = [i for i in identities if i[2] in PUSHED]
    ranked = sorted(pushed, key=lambda i: (not i[4], PUSHED.index(i[2])))
    best = ranked[0] if ranked else identities[0]
    why = None
    if identities[0][1] is not None:
        why = OPTED_OUT
    elif not ranked:
        why = NO_PUSH
    elif not best[4]:
        why = BLOCKED
    return why, best[2], best[3], best[5]


async def add_recipients(
    session: AsyncSession, broadcast: Broadcast, user_ids: Collection[int] | None
) -> None:
    """One recipient row per user: pending on their best channel, or skipped and why."""
    rows = await _identities(session, broadcast.bot_id, user_ids)
    now = utcnow()
    values = []
    for user_id, identities in _by_user(rows).items():
        why, channel, external_id, _ = _choose(identities)
        values.append(
            {
                "broadcast_id": broadcast.id,
                "end_user_id": user_id,
                "channel": channel,
                "external_id": external_id,
                "status": "pending" if why is None else "skipped",
                "reason": why,
                "updated_at": now,
            }
        )
    for start in range(0, len(values), _BATCH):
        await session.execute(insert(BroadcastRecipient), values[start : start + _BATCH])


def _report_of(broadcast: Broadcast, rows: Sequence[tuple[str, str, str | None, int]]) -> Report:
    counts: Counter[str] = Counter()
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for channel, status, reason, n in rows:
        counts[status] += n
        channels[channel][status] += n
        if reason and status in ("failed", "skipped"):
            reasons[reason] += n
    return Report(
        id=broadcast.id,
        bot_id=broadcast.bot_id,
        text=broadcast.text,
        origin=broadcast.origin,
        status=broadcast.status,
        created_at=as_utc(broadcast.created_at),
        finished_at=as_utc(broadcast.finished_at) if broadcast.finished_at else None,
        counts=dict(counts),
        channels={c: dict(n) for c, n in channels.items()},
        reasons=dict(reasons),
    )


async def audience_of(session: AsyncSession, bot_id: str) -> Audience:
    """Who a broadcast of ``bot_id`` would reach now."""
    settings = (await session.scalar(select(Bot.settings).where(Bot.id == bot_id))) or {}
    rows = await _identities(session, bot_id, None)
    reachable: Counter[str] = Counter()
    opted_out = unreachable = outside = 0
    cutoff = utcnow() - WHATSAPP_WINDOW
    for identities in _by_user(rows).values():
        why, channel, _, last = _choose(identities)
        if why == OPTED_OUT:
            opted_out += 1
        elif why is not None:
            unreachable += 1
        else:
            reachable[channel] += 1
            if channel == Channel.WHATSAPP.value and (last is None or as_utc(last) < cutoff):
                outside += 1
    template = settings.get("whatsapp_template")
    template_set = isinstance(template, dict) and bool(template.get("content_sid"))
    ordered = {c: reachable[c] for c in PUSHED if reachable[c]}
    return Audience(ordered, opted_out, unreachable, outside, template_set)


async def reports_of(session: AsyncSession, broadcasts: Sequence[Broadcast]) -> list[Report]:
    """How each of ``broadcasts`` is going, counted in one SQL query, in their order."""
    if not broadcasts:
        return []
    rows = await session.execute(
        select(
            BroadcastRecipient.broadcast_id,
            BroadcastRecipient.channel,
            BroadcastRecipient.status,
            BroadcastRecipient.reason,
            func.count(),
        )
        .where(BroadcastRecipient.broadcast_id.in_([b.id for b in broadcasts]))
        .group_by(
            BroadcastRecipient.broadcast_id,
            BroadcastRecipient.channel,
            BroadcastRecipient.status,
            BroadcastRecipient.reason,
        )
    )
    counted: dict[int, list[tuple[str, str, str | None, int]]] = defaultdict(list)
    for broadcast_id, channel, status, reason, n in rows:
        counted[broadcast_id].append((channel, status, reason, n))
    return [_report_of(b, counted[b.id]) for b in broadcasts]
