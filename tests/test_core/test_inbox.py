"""The inbox: webhook deliveries stored once, processed in order per chat, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n.translator import translator
from core.logs import REQUEST_ID
from core.messages import OutboundMessage
from core.metrics import Metrics
from core.outbox import Address, Outbox
from core.runtime.inbox import APOLOGY, MAX_ATTEMPTS, Delivery, Inbox, apology
from core.services import Services
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.models import InboundUpdate
from tests.records import recorded


class Recorder:
    """A processor that records what it saw; ``gate`` holds it, ``failures`` makes the
    first calls for an update fail."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures: dict[str, int] = {}

    async def __call__(self, delivery: Delivery) -> None:
        await self.gate.wait()
        if self.failures.get(delivery.update_id, 0) > 0:
            self.failures[delivery.update_id] -= 1
            raise RuntimeError("processing broke")
        self.seen.append(delivery.update_id)


def by_chat(delivery: Delivery) -> str:
    return str(delivery.payload["chat"])


async def statuses(services: Services) -> dict[str, str]:
    async with services.db.read() as session:
        rows = (await session.scalars(select(InboundUpdate))).all()
    return {r.update_id: r.status for r in rows}


async def test_a_redelivery_is_stored_and_processed_once(services: Services) -> None:
    inbox, recorder = Inbox(services.db), Recorder()
    inbox.register("test", recorder, by_chat)
    accepted = await asyncio.gather(
        *(inbox.accept("demo", "test", "7", {"chat": 1}) for _ in range(5))
    )
    assert sorted(accepted) == [False, False, False, False, True]
    assert not await inbox.accept("demo", "test", "7", {"chat": 1})
    await inbox.idle()
    assert recorder.seen == ["7"]
    assert await statuses(services) == {"7": "done"}


async def test_one_chat_in_order_while_other_chats_go_on(services: Services) -> None:
    inbox = Inbox(services.db)
    order: list[str] = []
    slow_started = asyncio.Event()

    async def process(delivery: Delivery) -> None:
        if delivery.update_id == "1":
            slow_started.set()
            await asyncio.sleep(0.2)
        order.append(delivery.update_id)

    inbox.register("test", process, by_chat)
    await inbox.accept("demo", "test", "1", {"chat": "a"})
    await slow_started.wait()
    await inbox.accept("demo", "test", "2", {"chat": "a"})
    await inbox.accept("demo", "test", "3", {"chat": "b"})
    await inbox.idle()
    assert order.index("3") < order.index("1") < order.index("2")


async def test_failures_are_retried_then_recorded(services: Services) -> None:
    inbox, recorder = Inbox(services.db, retry_delay=0.01), Recorder()
    inbox.register("test", recorder, by_chat)
    recorder.failures = {"1": 1, "2": MAX_ATTEMPTS}
    await inbox.accept("demo", "test", "1", {"chat": 1})
    await inbox.accept("demo", "test", "2", {"chat": 2})
    await inbox.idle()
    assert recorder.seen == ["1"]
    assert await statuses(services) == {"1": "done", "2": "failed"}
    async with services.db.read() as session:
        failed = await session.scalar(select(InboundUpdate).where(InboundUpdate.update_id == "2"))
    assert failed is not None
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.error is not None
    assert "processing broke" in failed.error


async def test_an_update_that_keeps_failing_gets_one_apology_counted_and_logged(
    services: Services,
) -> None:
    outbox, metrics = Outbox(), Metrics()
    told: list[tuple[Address, list[str]]] = []

    async def sender(address: Address, messages: Sequence[OutboundMessage]) -> None:
        told.append((address, [m.text for m in messages]))

    outbox.register("test", sender)
    inbox, recorder = (
        Inbox(services.db, retry_delay=0.01, outbox=outbox, metrics=metrics),
        Recorder(),
    )
    inbox.register(
        "test", recorder, by_chat, lambda d: Address(d.bot_id, "test", str(d.payload["chat"]))
    )
    recorder.failures = {"1": MAX_ATTEMPTS - 1, "2": MAX_ATTEMPTS}
    with recorded("chorus.inbox") as records:
        token = REQUEST_ID.set("webhook-call-2")
        await inbox.accept("demo", "test", "2", {"chat": 2})
        REQUEST_ID.reset(token)
        await inbox.accept("demo", "test", "1", {"chat": 1})
        await inbox.idle()
    assert await statuses(services) == {"1": "done", "2": "failed"}
    # one apology, for the update that failed every attempt, to its sender; none for the
    # one that got through on its last attempt
    assert told == [(Address("demo", "test", "2"), [APOLOGY])]
    failures = metrics.registry.get_sample_value(
        "chorus_errors_total", {"stage": "inbox", "error": "RuntimeError"}
    )
    assert failures == 1
    (gave_up,) = [r for r in records.records if r.levelno >= logging.ERROR]
    assert "gave up on test update 2" in gave_up.getMessage()
    assert "its sender was told" in gave_up.getMessage()
    assert gave_up.request_id == "webhook-call-2"  # type: ignore[attr-defined]
    assert gave_up.exc_info is not None


async def test_a_refused_update_is_kept_but_never_processed(services: Services) -> None:
    inbox, recorder = Inbox(services.db), Recorder()
    inbox.register("test", recorder, by_chat)
    assert await inbox.refuse("demo", "test", "9", {"chat": 3, "junk": True}, "unparseable")
    assert not await inbox.refuse("demo", "test", "9", {"chat": 3}, "unparseable")
    await inbox.idle()
    assert await inbox.resume() == 0
    assert recorder.seen == []
    async with services.db.read() as session:
        (kept,) = (await session.scalars(select(InboundUpdate))).all()
    assert (kept.status, kept.error, kept.chat) == ("refused", "unparseable", "3")
    assert kept.payload == {"chat": 3, "junk": True}


async def test_updates_accepted_before_a_stop_are_processed_at_the_next_start(
    services: Services,
) -> None:
    first, recorder = Inbox(services.db), Recorder()
    recorder.gate.clear()  # the process stops before it gets to them
    first.register("test", recorder, by_chat)
    await first.accept("demo", "test", "1", {"chat": 1})
    await first.accept("demo", "test", "2", {"chat": 1})
    await first.close()
    assert recorder.seen == []
    assert await statuses(services) == {"1": "pending", "2": "pending"}

    second, again = Inbox(services.db), Recorder()
    second.register("test", again, by_chat)
    assert await second.resume() == 2
    await second.idle()
    assert again.seen == ["1", "2"]
    assert await statuses(services) == {"1": "done", "2": "done"}
    assert await second.resume() == 0


async def test_updates_accepted_together_share_one_transaction_and_keep_their_order(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, recorder = Inbox(services.db), Recorder()
    recorder.gate.clear()
    inbox.register("test", recorder, by_chat)
    transaction = services.db.transaction
    opened = 0

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[AsyncSession]:
        nonlocal opened
        opened += 1
        async with transaction() as session:
            yield session

    monkeypatch.setattr(services.db, "transaction", counted)
    updates = [str(n) for n in range(20)]
    accepted = await asyncio.gather(
        *(inbox.accept("demo", "test", u, {"chat": 1}) for u in updates),
        inbox.accept("demo", "test", "3", {"chat": 1}),  # a redelivery within the batch
    )
    assert accepted == [True] * 20 + [False]
    assert opened == 1
    assert await statuses(services) == dict.fromkeys(updates, "pending")
    recorder.gate.set()
    await inbox.idle()
    assert recorder.seen == updates
    assert await statuses(services) == dict.fromkeys(updates, "done")
    assert opened < 1 + len(updates)  # outcomes are recorded together too


def apologising(
    db: Database,
) -> tuple[Inbox, Recorder, list[tuple[str, str | None, str]]]:
    """An inbox whose ``test`` updates never get through, and what their senders were
    told: (sender, the message's language, its text)."""
    outbox = Outbox()
    told: list[tuple[str, str | None, str]] = []

    async def sender(address: Address, messages: Sequence[OutboundMessage]) -> None:
        told.extend((address.sender_id, m.language, m.text) for m in messages)

    outbox.register("test", sender)
    inbox, recorder = Inbox(db, retry_delay=0.01, outbox=outbox), Recorder()
    inbox.register(
        "test",
        recorder,
        by_chat,
        lambda d: Address(d.bot_id, "test", str(d.payload["chat"])),
        lambda d: d.payload["user"]["language"],
    )
    return inbox, recorder, told


async def test_the_apology_is_in_the_recipients_language(services: Services) -> None:
    """The language stored for the sender comes first (whatever the update says), then
    the one the update reports, then English."""
    async with services.db.transaction() as session:
        await repo.create_party(
            session,
            bot_id="demo",
            channel="test",
            external_id="1",
            display_name=None,
            language="es",
            language_source="chosen",
            state="chat",
        )
    inbox, recorder, told = apologising(services.db)
    reported = {"1": "de", "2": "uk-UA", "3": None, "4": "xx"}
    recorder.failures = dict.fromkeys(reported, MAX_ATTEMPTS)
    for chat, language in reported.items():
        await inbox.accept("demo", "test", chat, {"chat": chat, "user": {"language": language}})
    await inbox.idle()
    assert sorted(told) == [
        ("1", "es", apology(translator("es"))),
        ("2", "uk-UA", apology(translator("uk"))),
        ("3", None, APOLOGY),
        ("4", None, APOLOGY),
    ]
    assert apology(translator("es")).startswith("Lo siento")
    assert apology(translator("uk")).startswith("Вибач")


async def test_a_failing_language_look_up_still_apologises_in_english(tmp_path: Path) -> None:
    """The apology follows failures: a database that cannot say whom it is talking to,
    or an update too broken to say its language, leave it in English, never unsent."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    await db.migrate()
    try:
        inbox, recorder, told = apologising(db)
        async with db.transaction() as session:
            await session.execute(text("DROP TABLE channel_identities"))
        recorder.failures = {"1": MAX_ATTEMPTS, "2": MAX_ATTEMPTS}
        with recorded("chorus.inbox") as records:
            await inbox.accept("demo", "test", "1", {"chat": "1", "user": {"language": "fr"}})
            await inbox.accept("demo", "test", "2", {"chat": "2", "user": "unreadable"})
            await inbox.idle()
        # the look-up failed: the update's own language, else English
        assert sorted(told) == [("1", "fr", apology(translator("fr"))), ("2", None, APOLOGY)]
        assert any("could not look up the language" in r.getMessage() for r in records.records)
        assert [r for r in records.records if "its sender was told" in r.getMessage()]
    finally:
        await db.close()
