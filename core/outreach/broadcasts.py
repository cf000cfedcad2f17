"""Broadcasts: one message from a creator to every subscriber of a bot, within each
channel's rules.

A broadcast is stored with one recipient row per end user before anything is sent: the
user's best channel (Telegram, then WhatsApp, then the website chat), or why they are
skipped (they sent /stop, blocked the bot, or talk only in the terminal). Sending is a
background job (:mod:`core.runtime.jobs`), so it runs in this process or on ``chorus worker``
and resumes after a restart. Each recipient is claimed before it is sent to (a row
moves from ``pending`` to ``sending`` once), stored in the user's conversation like any
message the bot pushes (:meth:`~core.conversation.engine.ConversationEngine.system_turn`) and handed
to the channel's sender, which says whether it went out (:meth:`Outbox.push`). A claim
left ``sending`` by a process that died is counted failed, never sent again: a
duplicate message is worse than a missing one.

Each channel is paced by a shared token bucket (:mod:`core.runtime.ratelimit`, in Redis when
there is one, so every process of an installation draws from it) a little under the
platform's limit: Telegram allows a bot about 30 messages a second, and its replies to
users must still get through; WhatsApp's rules are applied by its sender (free-form
within 24 hours of the user's last message, the bot's approved template after that, or
nothing). The creator is told the progress and the outcome: delivered, failed with the
reasons, skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bots.registry import BotDirectory
from core.conversation.engine import Decide
from core.errors import Refusal, UnknownBot
from core.i18n.translator import N_, Translator, translator
from core.messages import OutboundKind, OutboundMessage
from core.outbox import Address, Outbox
from core.outreach.audience import Audience, Report, add_recipients, audience_of, reports_of
from core.runtime.jobs import Jobs
from core.runtime.ratelimit import Buckets, Limit
from core.storage.database import Database
from core.storage.models import (
    Broadcast,
    BroadcastRecipient,
    utcnow,
)

log = logging.getLogger("chorus.broadcasts")

KIND = "broadcast"
MAX_TEXT = 4000
#: a claim older than this was left by a process that died
STALE_CLAIM = timedelta(minutes=5)
#: recipients sent to at once on each channel (the bucket sets the pace)
LANE_WORKERS = 4
# why a recipient got nothing, kept with them and translated where shown
INTERRUPTED = N_("interrupted while sending; not sent again to avoid a duplicate")
CANCELLED = N_("the broadcast was cancelled")
GONE = N_("no longer a user")

SystemTurn = Callable[[Address, Decide], Awaitable[list[OutboundMessage]]]


@dataclass(slots=True)
class _Run:
    """One process's sending of one broadcast."""

    broadcast: Broadcast
    total: int
    done: int = 0
    step: int = 1
    cancelled: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)


class Broadcasts:
    """Creates, sends, cancels and reports a bot's broadcasts.

    ``rates``: messages a second per channel, paced through ``buckets``; ``sleep`` and
    ``clock`` wait and tell time (a test passes a clock it controls).
    """

    def __init__(
        self,
        db: Database,
        bots: BotDirectory,
        system_turn: SystemTurn,
        outbox: Outbox,
        jobs: Jobs,
        buckets: Buckets,
        rates: Mapping[str, float],
        *,
        lane_workers: int = LANE_WORKERS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._bots = bots
        self._system_turn = system_turn
        self._outbox = outbox
        self._jobs = jobs
        self._buckets = buckets
        self._limits = {c: Limit(per_minute=r * 60, burst=1) for c, r in rates.items()}
        self._lane_workers = lane_workers
        self._sleep = sleep
        self._clock = clock
        jobs.register(KIND, self.run)

    # -- creating ---------------------------------------------------------------------

    async def audience(self, bot_id: str) -> Audience:
        """Who a broadcast of ``bot_id`` would reach now."""
        async with self._db.read() as session:
            return await audience_of(session, bot_id)

    async def draft(
        self, bot_id: str, text: str, notify: Address, *, language: str | None = None
    ) -> Report:
        """A broadcast kept until the creator sends it (:meth:`send`); how it goes is told
        to ``notify`` in ``language`` (the creator's; None: English). Raises
        :class:`~core.errors.Refusal` for an empty or too long text."""
        broadcast = await self._create(
            bot_id, text, "chat", notify=notify, status="draft", language=language
        )
        assert broadcast is not None
        report = await self.report(bot_id, broadcast.id)
        assert report is not None
        return report

    async def start(
        self,
        bot_id: str,
        text: str,
        *,
        origin: str,
        schedule_id: int | None = None,
        occurrence: str | None = None,
        user_ids: Collection[int] | None = None,
        notify: Address | None = None,
    ) -> int | None:
        """Create a broadcast for ``user_ids`` (None: every user of the bot) and queue
        its sending; None when the schedule's ``occurrence`` was created already.
        Raises ``ValueError`` for an empty or too long text."""
        broadcast = await self._create(
            bot_id,
            text,
            origin,
            schedule_id=schedule_id,
            occurrence=occurrence,
            user_ids=user_ids,
            notify=notify,
            status="sending",
        )
        if broadcast is None:
            return None
        await self._jobs.enqueue(KIND, str(broadcast.id))
        return broadcast.id

    async def send(self, bot_id: str, broadcast_id: int) -> Report | None:
        """Send a draft: its recipients are the bot's users at this moment. None for a
        broadcast of another bot; one already sent or cancelled is left as it is."""
        async with self._db.transaction() as session:
            broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
            if broadcast is None or broadcast.bot_id != bot_id:
                return None
            if broadcast.status == "draft":
                broadcast.status = "sending"
                await add_recipients(session, broadcast, None)
                sending = True
            else:
                sending = False
        if sending:
            await self._jobs.enqueue(KIND, str(broadcast_id))
        return await self.report(bot_id, broadcast_id)

    async def _create(
        self,
        bot_id: str,
        text: str,
        origin: str,
        *,
        status: str,
        schedule_id: int | None = None,
        occurrence: str | None = None,
        user_ids: Collection[int] | None = None,
        notify: Address | None = None,
        language: str | None = None,
    ) -> Broadcast | None:
        text = text.strip()
        if not text:
            raise Refusal(N_("A broadcast needs some text."))
        if len(text) > MAX_TEXT:
            raise Refusal(N_("A broadcast can be at most %(limit)s characters."), limit=MAX_TEXT)
        broadcast = Broadcast(
            bot_id=bot_id,
            text=text,
            origin=origin,
            schedule_id=schedule_id,
            occurrence=occurrence,
            status=status,
            notify=(
                {
                    "bot": notify.bot_id,
                    "channel": notify.channel,
                    "sender_id": notify.sender_id,
                    **({"language": language} if language else {}),
                }
                if notify
                else None
            ),
            created_at=utcnow(),
        )
        try:
            async with self._db.transaction() as session:
                session.add(broadcast)
                await session.flush()
                if status == "sending":
                    await add_recipients(session, broadcast, user_ids)
        except IntegrityError:
            if schedule_id is not None and occurrence is not None:
                return None  # another process made this occurrence
            raise
        return broadcast

    # -- watching and stopping --------------------------------------------------------

    async def report(self, bot_id: str, broadcast_id: int) -> Report | None:
        """How one of the bot's broadcasts is going; None for another bot's."""
        async with self._db.read() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.bot_id != bot_id:
                return None
            (report,) = await reports_of(session, [broadcast])
            return report

    async def reports(self, bot_id: str, broadcasts: Sequence[Broadcast]) -> list[Report]:
        """Reports of several broadcasts of one bot (a page of the API's listing)."""
        async with self._db.read() as session:
            return await reports_of(session, [b for b in broadcasts if b.bot_id == bot_id])

    async def recent(self, bot_id: str, limit: int = 5) -> list[Report]:
        """The bot's latest broadcasts, newest first."""
        async with self._db.read() as session:
            latest = list(
                await session.scalars(
                    select(Broadcast)
                    .where(Broadcast.bot_id == bot_id)
                    .order_by(Broadcast.id.desc())
                    .limit(limit)
                )
            )
        return await self.reports(bot_id, latest)

    async def cancel(self, bot_id: str, broadcast_id: int) -> Report | None:
        """Stop a draft or a broadcast being sent: those not sent to yet are skipped.
        None for another bot's broadcast; a finished one is left as it is."""
        async with self._db.transaction() as session:
            broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
            if broadcast is None or broadcast.bot_id != bot_id:
                return None
            if broadcast.status in ("draft", "sending"):
                broadcast.status = "cancelled"
                broadcast.finished_at = utcnow()
                await session.execute(
                    update(BroadcastRecipient)
                    .where(
                        BroadcastRecipient.broadcast_id == broadcast_id,
                        BroadcastRecipient.status == "pending",
                    )
                    .values(status="skipped", reason=CANCELLED, updated_at=utcnow())
                )
        return await self.report(bot_id, broadcast_id)

    async def resume(self) -> int:
        """Queue again the broadcasts a previous process was sending."""
        async with self._db.read() as session:
            unfinished = list(
                await session.scalars(
                    select(Broadcast.id).where(Broadcast.status == "sending").order_by(Broadcast.id)
                )
            )
        for broadcast_id in unfinished:
            await self._jobs.enqueue(KIND, str(broadcast_id))
        if unfinished:
            log.info("resuming %d unfinished broadcast(s)", len(unfinished))
        return len(unfinished)

    # -- sending ----------------------------------------------------------------------

    async def run(self, job_id: str) -> None:
        """Send one stored broadcast to the recipients not sent to yet."""
        async with self._db.read() as session:
            broadcast = await session.get(Broadcast, int(job_id))
        if broadcast is None or broadcast.status != "sending":
            return
        try:
            await self._bots.get(broadcast.bot_id)
        except UnknownBot:
            return
        await self._release_stale(broadcast.id)
        async with self._db.read() as session:
            pending = (
                await session.execute(
                    select(
                        BroadcastRecipient.id,
                        BroadcastRecipient.channel,
                        BroadcastRecipient.external_id,
                    )
                    .where(
                        BroadcastRecipient.broadcast_id == broadcast.id,
                        BroadcastRecipient.status == "pending",
                    )
                    .order_by(BroadcastRecipient.id)
                )
            ).all()
        lanes: dict[str, asyncio.Queue[tuple[int, str]]] = defaultdict(asyncio.Queue)
        for recipient_id, channel, external_id in pending:
            lanes[channel].put_nowait((recipient_id, external_id))
        state = _Run(broadcast, len(pending), step=max(1, len(pending) // 10))
        log.info(
            "sending broadcast %d of bot %s to %d", broadcast.id, broadcast.bot_id, len(pending)
        )
        if pending:
            await self._tell(broadcast, _progress(state))
        await asyncio.gather(
            *(
                self._lane(state, channel, queue)
                for channel, queue in lanes.items()
                for _ in range(self._lane_workers)
            )
        )
        if not state.cancelled:
            await self._finish(broadcast)

    async def _lane(self, run: _Run, channel: str, queue: asyncio.Queue[tuple[int, str]]) -> None:
        """Send to one channel's recipients, one at a time, at the channel's pace."""
        while not run.cancelled and not queue.empty():
            recipient_id, external_id = queue.get_nowait()
            await self._pace(channel, run.broadcast.bot_id)
            if run.cancelled:
                return
            if not await self._claim(recipient_id):  # cancelled, or sent by another run
                run.cancelled = await self._cancelled(run.broadcast.id)
                continue
            address = Address(run.broadcast.bot_id, channel, external_id)
            status, reason = await self._deliver(address, run.broadcast.text)
            await self._settle(recipient_id, status, reason)
            run.done += 1
            run.outcomes[status] += 1
            if run.done % run.step == 0 and run.done < run.total:
                run.cancelled = await self._cancelled(run.broadcast.id)
                if not run.cancelled:
                    await self._tell(run.broadcast, _progress(run))

    async def _pace(self, channel: str, bot_id: str) -> None:
        limit = self._limits.get(channel)
        if limit is None:
            return
        key = f"broadcast:{channel}:{bot_id}"
        while not (decision := await self._buckets.take(key, limit)).allowed:
            await self._sleep(decision.retry_after)

    async def _deliver(self, address: Address, text: str) -> tuple[str, str | None]:
        """Store the message in the user's conversation and push it: the recipient's
        status and, unless delivered, why."""

        def say(result, _wallet):  # type: ignore[no-untyped-def]
            result.say(text)

        try:
            replies = await self._system_turn(address, say)
        except Exception as exc:
            log.exception("storing a broadcast for a user of bot %s failed", address.bot_id)
            return "failed", f"could not be stored: {type(exc).__name__}"
        if not replies:
            return "skipped", GONE
        reason = await self._outbox.push(address, replies)
        return ("delivered", None) if reason is None else ("failed", reason)

    async def _claim(self, recipient_id: int) -> bool:
        async with self._db.transaction() as session:
            claimed = await session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.id == recipient_id, BroadcastRecipient.status == "pending"
                )
                .values(status="sending", updated_at=utcnow())
            )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def _settle(self, recipient_id: int, status: str, reason: str | None) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(BroadcastRecipient)
                .where(BroadcastRecipient.id == recipient_id)
                .values(status=status, reason=reason and reason[:500], updated_at=utcnow())
            )

    async def _release_stale(self, broadcast_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.status == "sending",
                    BroadcastRecipient.updated_at < utcnow() - STALE_CLAIM,
                )
                .values(status="failed", reason=INTERRUPTED, updated_at=utcnow())
            )

    async def _cancelled(self, broadcast_id: int) -> bool:
        async with self._db.read() as session:
            status = await session.scalar(
                select(Broadcast.status).where(Broadcast.id == broadcast_id)
            )
        return status != "sending"

    async def _finish(self, broadcast: Broadcast) -> None:
        """Mark the broadcast done once nobody is left to send to, and tell the creator."""
        async with self._db.transaction() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast.id,
                    BroadcastRecipient.status.in_(("pending", "sending")),
                )
            )
            if left:
                return  # another run has them; it finishes the broadcast
            finished = await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast.id, Broadcast.status == "sending")
                .values(status="done", finished_at=utcnow())
            )
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            return
        report = await self.report(broadcast.bot_id, broadcast.id)
        if report is not None:
            log.info(
                "broadcast %d of bot %s done: %s",
                broadcast.id,
                broadcast.bot_id,
                dict(report.counts),
            )
            summary = report.summary(_creator_language(broadcast))
            await self._tell(broadcast, OutboundMessage(text=summary))

    async def _tell(self, broadcast: Broadcast, message: OutboundMessage) -> None:
        """Tell the creator's chat that asked for the broadcast, if one did."""
        notify = broadcast.notify
        if not isinstance(notify, dict):
            return
        chat = Address(str(notify["bot"]), str(notify["channel"]), str(notify["sender_id"]))
        await self._outbox.send(chat, [message])


def _creator_language(broadcast: Broadcast) -> Translator:
    """The language of the creator who asked for the broadcast (English if not known)."""
    notify = broadcast.notify
    language = notify.get("language") if isinstance(notify, dict) else None
    return translator(language if isinstance(language, str) else None)


def _progress(run: _Run) -> OutboundMessage:
    tr = _creator_language(run.broadcast)
    sent = run.outcomes["delivered"]
    failed = run.outcomes["failed"] + run.outcomes["skipped"]
    counts = {
        "number": run.broadcast.id,
        "done": tr.number(run.done),
        "total": tr.number(run.total),
    }
    text = (
        tr.gettext(
            "Broadcast %(number)s: %(done)s of %(total)s done (%(sent)s delivered, "
            "%(failed)s not)…",
            sent=tr.number(sent),
            failed=tr.number(failed),
            **counts,
        )
        if run.done
        else tr.gettext("Broadcast %(number)s: %(done)s of %(total)s done…", **counts)
    )
    return OutboundMessage(text=text, kind=OutboundKind.PROGRESS)
