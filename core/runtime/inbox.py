"""Webhook deliveries stored before they are acknowledged, then processed in the background.

A platform retries a webhook it got no 200 for, and gives up on one that answers slowly;
so the webhook only checks the request, stores the update (the platform's own id makes a
redelivery a no-op) and answers. Updates that arrive together are stored in one
transaction, and the outcomes of processed ones are recorded in the same transactions
(group commit): under load an update costs a share of a transaction instead of two of
its own, and the webhook still answers only once its update is committed. Processing
runs in tracked tasks, one chat at a time in arrival order; updates still pending when a
process stops are picked up at the next start, so an accepted update is never lost.

With several processes (Redis), the update a process accepted may not be its chat's
next one: under the chat's shared lock a process processes all the chat's pending
updates in arrival order, whichever process stored them, so one conversation is answered
in order however its updates are spread.

An update whose processing still fails after its retries is not dropped in silence: it
is recorded as failed, counted in ``chorus_errors_total{stage="inbox"}``, logged with the
request id that brought it, and its sender gets one short apology on their channel, in
their language (the one stored for them, else the one the update reports, else English;
the look-up is bounded and never stands in the apology's way). An
update a channel cannot read at all is stored as refused (never processed), so what the
platform sent can still be looked at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.errors import StorageUnavailable
from core.i18n.translator import ENGLISH, Translator, translator
from core.logs import REQUEST_ID
from core.messages import OutboundMessage
from core.metrics import Metrics
from core.outbox import Address, Outbox
from core.runtime.locks import Claim, KeyedLock, SharedLocks
from core.storage.database import Database
from core.storage.models import ChannelIdentity, EndUser, InboundUpdate, utcnow

log = logging.getLogger("chorus.inbox")

MAX_ATTEMPTS = 3
RETRY_DELAY = 1.0
DRAIN_BATCH = 100
#: the longest the apology waits to learn its recipient's language, in seconds
LANGUAGE_LOOKUP_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stored update, as its channel's processor receives it."""

    id: int
    bot_id: str
    channel: str
    update_id: str
    payload: dict[str, Any]
    # the web request that stored it, for the logs of its processing
    request_id: str | None = None


Processor = Callable[[Delivery], Awaitable[None]]
#: the chat an update belongs to: updates of one chat are processed one at a time
OrderKey = Callable[[Delivery], str]
#: who sent an update, to be told when it could not be processed (None: nobody known)
Recipient = Callable[[Delivery], Address | None]
#: the language an update reports its sender speaks (Telegram's ``language_code``), if any
ReportedLanguage = Callable[[Delivery], str | None]


def apology(tr: Translator = ENGLISH) -> str:
    """What the sender of an update that could not be processed is told, once, in
    ``tr``'s language."""
    return tr.gettext(
        "Sorry, something went wrong on my side and I couldn't answer your last message. "
        "Please try again in a moment."
    )


APOLOGY = apology()  # in English


@dataclass(frozen=True, slots=True)
class _Route:
    """How one channel's updates are processed."""

    processor: Processor
    order_key: OrderKey
    recipient: Recipient | None
    language: ReportedLanguage | None = None


class Inbox:
    """Stores accepted updates and runs each channel's processor on them; ``outbox``
    carries the apology for an update that could not be processed, ``metrics`` counts
    those."""

    def __init__(
        self,
        db: Database,
        *,
        retry_delay: float = RETRY_DELAY,
        shared: SharedLocks | None = None,
        outbox: Outbox | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._retry_delay = retry_delay
        self._shared = shared
        self._outbox = outbox
        self._metrics = metrics or Metrics()
        self._routes: dict[str, _Route] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # deliveries with a task in this process: True once another task processed them
        self._waiting: dict[int, bool] = {}
        self._order = KeyedLock()
        self._writer: Batcher[_Arrival | _Outcome, int | None] = Batcher(
            self._write,
            name="chorus-inbox-writer",
            retry_alone=True,
            shared_errors=(StorageUnavailable,),
        )

    def register(
        self,
        channel: str,
        processor: Processor,
        order_key: OrderKey,
        recipient: Recipient | None = None,
        language: ReportedLanguage | None = None,
    ) -> None:
        """Process ``channel``'s updates with ``processor``, one ``order_key`` at a time;
        ``recipient`` names whom to apologise to when one cannot be processed, and
        ``language`` the language an update says its sender speaks."""
        self._routes[channel] = _Route(processor, order_key, recipient, language)

    async def accept(
        self, bot_id: str, channel: str, update_id: str, payload: dict[str, Any]
    ) -> bool:
        """Store an update and start processing it; False for one already accepted.

        Returns once the update is committed (with the others accepted meanwhile)."""
        route = self._routes.get(channel)
        chat = route.order_key(Delivery(0, bot_id, channel, update_id, payload)) if route else ""
        stored = await self._writer.submit(
            _Arrival(bot_id, channel, update_id, payload, REQUEST_ID.get(), chat[:200])
        )
        return stored is not None

    async def refuse(
        self, bot_id: str, channel: str, update_id: str, payload: dict[str, Any], reason: str
    ) -> bool:
        """Store an update its channel cannot read as refused, with ``reason``: kept to be
        looked at (and erased with its sender's data), never processed. False for one
        stored before."""
        route = self._routes.get(channel)
        delivery = Delivery(0, bot_id, channel, update_id, payload)
        try:
            chat = route.order_key(delivery) if route else ""
        except (KeyError, TypeError, ValueError, AttributeError):
            chat = ""  # an unreadable update may not say whose it is
        arrival = _Arrival(
            bot_id, channel, update_id, payload, REQUEST_ID.get(), chat[:200], reason[:500]
        )
        return await self._writer.submit(arrival) is not None

    async def resume(self) -> int:
        """Process the updates a previous process accepted but did not finish."""
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(InboundUpdate)
                    .where(InboundUpdate.status == "pending")
                    .order_by(InboundUpdate.id)
                )
            ).all()
            pending = [Delivery(r.id, r.bot_id, r.channel, r.update_id, r.payload) for r in rows]
        for delivery in pending:
            self._start(delivery)
        if pending:
            log.info("resuming %d accepted update(s)", len(pending))
        return len(pending)

    async def adopt(self, older_than: timedelta) -> int:
        """Several processes: process the chats whose updates have been pending longer
        than ``older_than`` (the process that accepted them died, or is far behind).
        Under the chat's shared lock this never processes an update twice, whoever else
        is at it; without Redis the lock would not be held, so nothing is taken over.
        Returns how many chats were taken over."""
        if self._shared is None or not await self._shared.reachable():
            return 0
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(InboundUpdate)
                    .where(
                        InboundUpdate.status == "pending",
                        InboundUpdate.received_at < utcnow() - older_than,
                    )
                    .order_by(InboundUpdate.id)
                    .limit(DRAIN_BATCH)
                )
            ).all()
        chats = {(r.bot_id, r.channel, r.chat): r for r in rows}
        for row in chats.values():
            self._start(Delivery(row.id, row.bot_id, row.channel, row.update_id, row.payload))
        if chats:
            log.warning("taking over %d chat(s) with updates left pending", len(chats))
        return len(chats)

    async def idle(self) -> None:
        """Wait until every accepted update has been processed and its outcome recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop processing; what is left stays pending for the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._writer.close()

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(
            self._process(delivery), name=f"inbox-{delivery.channel}-{delivery.id}"
        )
        self._tasks.add(task)
        self._waiting[delivery.id] = False
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: self._waiting.pop(delivery.id, None))

    async def _process(self, delivery: Delivery) -> None:
        REQUEST_ID.set(delivery.request_id or f"resumed-{delivery.id}")  # this task's own
        route = self._routes.get(delivery.channel)
        if route is None:
            log.warning("no processor for %s updates in this process", delivery.channel)
            return
        chat = route.order_key(delivery)[:200]
        async with self._order.hold((delivery.bot_id, chat)):
            if self._shared is None:
                outcome = await self._attempt(route, delivery)
            else:
                return await self._drain(route, delivery, chat)
        # recorded outside the chat's turn: only resume() reads it, and a crash before it
        # is committed means one more (deduplicated) processing at the next start
        await self._record(delivery, outcome)

    async def _drain(self, route: _Route, delivery: Delivery, chat: str) -> None:
        """Several processes: the holder of the chat's shared lock processes every pending
        update of the chat in arrival (id) order, whichever process stored it, recording
        each before letting go, and looks again after letting go.

        A process that finds the lock busy leaves its update to the holder instead of
        waiting: the update was committed before the attempt, so the holder's look after
        letting go finds it (and takes the lock again, unless another process has). An
        update left by a holder that died is taken over by :meth:`adopt`. Without Redis
        each process processes only its own updates."""
        assert self._shared is not None
        key = f"inbox:{delivery.bot_id}:{delivery.channel}:{chat}"
        if self._waiting.get(delivery.id):
            return  # processed while this task waited its turn
        while True:
            async with self._shared.attempt(key) as claim:
                if claim is Claim.BUSY:
                    return
                if claim is Claim.ALONE:
                    await self._record(delivery, await self._attempt(route, delivery))
                    return
                while pending := await self._pending(delivery.bot_id, delivery.channel, chat):
                    for update in pending:
                        mine = update.id == delivery.id
                        REQUEST_ID.set(delivery.request_id if mine else f"drained-{update.id}")
                        await self._record(update, await self._attempt(route, update))
                        if update.id in self._waiting:
                            self._waiting[update.id] = True  # its own task has nothing to do
            if not await self._has_pending(delivery.bot_id, delivery.channel, chat):
                return

    async def _has_pending(self, bot_id: str, channel: str, chat: str) -> bool:
        async with self._db.read() as session:
            found = await session.scalar(
                select(InboundUpdate.id)
                .where(
                    InboundUpdate.bot_id == bot_id,
                    InboundUpdate.channel == channel,
                    InboundUpdate.chat == chat,
                    InboundUpdate.status == "pending",
                )
                .limit(1)
            )
        return found is not None

    async def _pending(self, bot_id: str, channel: str, chat: str) -> list[Delivery]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(InboundUpdate)
                .where(
                    InboundUpdate.bot_id == bot_id,
                    InboundUpdate.channel == channel,
                    InboundUpdate.chat == chat,
                    InboundUpdate.status == "pending",
                )
                .order_by(InboundUpdate.id)
                .limit(DRAIN_BATCH)
            )
            return [Delivery(r.id, r.bot_id, r.channel, r.update_id, r.payload) for r in rows]

    async def _record(self, delivery: Delivery, outcome: _Outcome) -> None:
        try:
            await self._writer.submit(outcome)
        except Exception:
            log.exception(
                "recording that %s update %s of bot %s is %s failed",
                delivery.channel,
                delivery.update_id,
                delivery.bot_id,
                outcome.status,
            )

    async def _attempt(self, route: _Route, delivery: Delivery) -> _Outcome:
        """Run the channel's processor on the delivery, retried up to ``MAX_ATTEMPTS``
        times; after the last, :meth:`_give_up`."""
        attempt = 1
        while True:
            try:
                await route.processor(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == MAX_ATTEMPTS:
                    return await self._give_up(route, delivery, attempt, exc)
                log.warning(
                    "processing %s update %s of bot %s failed (attempt %d); trying again",
                    delivery.channel,
                    delivery.update_id,
                    delivery.bot_id,
                    attempt,
                    exc_info=True,
                )
                await asyncio.sleep(self._retry_delay * attempt)
                attempt += 1
            else:
                return _Outcome(delivery.id, "done", attempt, None)

    async def _give_up(
        self, route: _Route, delivery: Delivery, attempts: int, exc: Exception
    ) -> _Outcome:
        """An update that failed every attempt: counted, logged (with the request id, as
        every record of this task), and its sender told once."""
        self._metrics.errors.labels("inbox", type(exc).__name__).inc()
        told = await self._apologise(route, delivery)
        log.error(
            "gave up on %s update %s of bot %s after %d attempts; %s",
            delivery.channel,
            delivery.update_id,
            delivery.bot_id,
            attempts,
            "its sender was told" if told else "its sender could not be told",
            exc_info=exc,
        )
        return _Outcome(delivery.id, "failed", attempts, f"{type(exc).__name__}: {exc}"[:500])

    async def _apologise(self, route: _Route, delivery: Delivery) -> bool:
        """Tell the update's sender, on their channel, that it could not be answered."""
        if self._outbox is None or route.recipient is None:
            return False
        try:
            address = route.recipient(delivery)
        except (KeyError, TypeError, ValueError, AttributeError):
            address = None  # the update is too broken to say whose it is
        if address is None:
            return False
        language = await self._recipient_language(route, delivery, address)
        try:
            tr = translator(language)
            message = OutboundMessage(apology(tr), language=None if tr is ENGLISH else language)
        except Exception:  # a catalogue that cannot be read: the apology still goes out
            log.warning("the apology could not be translated; sending it in English", exc_info=True)
            message = OutboundMessage(APOLOGY)
        return await self._outbox.send(address, [message])

    async def _recipient_language(
        self, route: _Route, delivery: Delivery, address: Address
    ) -> str | None:
        """The language to apologise in: the one stored for the recipient, else the one
        the update reports, else None (English). Whatever fails here (the database that
        may be why the update failed, a broken update) only means less is known: it
        never stops the apology, and the look-up waits :data:`LANGUAGE_LOOKUP_TIMEOUT`
        at most."""
        try:
            async with asyncio.timeout(LANGUAGE_LOOKUP_TIMEOUT):
                async with self._db.read() as session:
                    stored = await session.scalar(
                        select(EndUser.language)
                        .join(ChannelIdentity, ChannelIdentity.end_user_id == EndUser.id)
                        .where(
                            ChannelIdentity.bot_id == address.bot_id,
                            ChannelIdentity.channel == address.channel,
                            ChannelIdentity.external_id == address.sender_id,
                        )
                    )
        except Exception:
            log.warning(
                "could not look up the language of a %s user of bot %s; apologising in "
                "the language the update reports",
                address.channel,
                address.bot_id,
                exc_info=True,
            )
            stored = None
        if stored:
            return str(stored)
        if route.language is None:
            return None
        try:
            reported = route.language(delivery)
        except Exception:  # an update too broken to say
            return None
        return reported if isinstance(reported, str) and reported else None

    async def _write(self, items: list[_Arrival | _Outcome]) -> list[int | None]:
        """Store new updates and record outcomes in one transaction, then start processing
        the new updates in arrival order. Returns each new update's id (None for one
        accepted before) and None for each outcome."""
        outcomes = [item for item in items if isinstance(item, _Outcome)]
        arrivals = _first_of_each([item for item in items if isinstance(item, _Arrival)])
        async with self._db.transaction() as session:
            if outcomes:
                await _record(session, outcomes)
            stored = await _insert_new(session, arrivals) if arrivals else {}
        for key, a in arrivals.items():
            if key in stored and a.refused is None:
                self._start(
                    Delivery(stored[key], a.bot_id, a.channel, a.update_id, a.payload, a.request_id)
                )
        results: list[int | None] = []
        for item in items:
            # the first arrival of a key gets its id; a repeat in the same batch does not
            results.append(stored.pop(item.key, None) if isinstance(item, _Arrival) else None)
        return results


@dataclass(frozen=True, slots=True)
class _Arrival:
    """An update to store."""

    bot_id: str
    channel: str
    update_id: str
    payload: dict[str, Any]
    request_id: str | None = None
    chat: str = ""
    # why it is stored refused instead of pending (None: to be processed)
    refused: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.bot_id, self.channel, self.update_id)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How processing a stored update ended."""

    id: int
    status: str  # done | failed (an update is stored pending, or refused)
    attempts: int
    error: str | None


def _first_of_each(arrivals: list[_Arrival]) -> dict[tuple[str, str, str], _Arrival]:
    """The arrivals by key, in order; of one update delivered twice, the first."""
    first: dict[tuple[str, str, str], _Arrival] = {}
    for arrival in arrivals:
        first.setdefault(arrival.key, arrival)
    return first


async def _insert_new(
    session: AsyncSession, arrivals: dict[tuple[str, str, str], _Arrival]
) -> dict[tuple[str, str, str], int]:
    """Insert the updates not stored before, in one statement; their ids by key."""
    table = InboundUpdate.__table__
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)  # type: ignore[arg-type]
    rows = await session.execute(
        statement.on_conflict_do_nothing(
            index_elements=["bot_id", "channel", "update_id"]
        ).returning(table.c.id, table.c.bot_id, table.c.channel, table.c.update_id),
        [
            {
                "bot_id": a.bot_id,
                "channel": a.channel,
                "update_id": a.update_id,
                "payload": a.payload,
                "chat": a.chat,
                "status": "pending" if a.refused is None else "refused",
                "attempts": 0,
                "error": a.refused,
            }
            for a in arrivals.values()
        ],
    )
    return {(bot_id, channel, update_id): row_id for row_id, bot_id, channel, update_id in rows}


async def _record(session: AsyncSession, outcomes: list[_Outcome]) -> None:
    table = InboundUpdate.__table__
    await session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("row_id"))
        .values(
            status=bindparam("new_status"),
            attempts=bindparam("new_attempts"),
            error=bindparam("new_error"),
        ),
        [
            {
                "row_id": o.id,
                "new_status": o.status,
                "new_attempts": o.attempts,
                "new_error": o.error,
            }
            for o in outcomes
        ],
    )
