"""Storing turns in batches, and two engines (two processes) sharing one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError

from core.conversation.statemachine import State
from core.conversation.turn_store import TurnRecord, TurnWriter
from core.errors import StaleConversation
from core.messages import OutboundMessage
from core.services import Services, build_services, close
from core.settings import Settings
from core.storage import repository as repo
from tests.chat import Chat, chat_with


def record(sender: str, message_id: str, party: repo.Party | None = None) -> TurnRecord:
    return TurnRecord(
        bot_id="demo",
        channel="terminal",
        sender_id=sender,
        party=party,
        inbound_text=f"hello from {sender}",
        inbound_payload={},
        platform_message_id=message_id,
        state="chat",
        context={"n": 1},
        replies=[OutboundMessage(text=f"hi {sender}")],
    )


async def test_one_bad_turn_does_not_fail_its_batch(services: Services) -> None:
    writer = TurnWriter(services.db)
    try:
        await writer.write(record("first", "taken"))
        results = await asyncio.gather(
            *(writer.write(record(f"user-{n}", f"id-{n}")) for n in range(20)),
            writer.write(record("again", "taken")),  # this delivery is already stored
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert isinstance(results[-1], IntegrityError)
    stored = [r for r in results[:-1] if isinstance(r, repo.Party)]
    assert len(stored) == 20
    assert all(p.version == 1 and p.state == "chat" for p in stored)
    async with services.db.read() as session:
        for n in range(20):
            party = await repo.find_party(session, "demo", "terminal", f"user-{n}")
            assert party is not None
            assert party.context == {"n": 1}
        assert await repo.find_party(session, "demo", "terminal", "again") is None


async def test_a_turn_decided_on_an_old_version_is_refused(services: Services) -> None:
    writer = TurnWriter(services.db)
    try:
        first = await writer.write(record("u", "1"))
        await writer.write(record("u", "2", party=first))
        with pytest.raises(StaleConversation) as caught:
            await writer.write(record("u", "3", party=first))  # first is now out of date
    finally:
        await writer.close()
    assert caught.value.conversation_ids == [first.conversation_id]


async def test_a_stale_turn_fails_alone_in_its_batch(services: Services) -> None:
    writer = TurnWriter(services.db)
    try:
        first = await writer.write(record("u", "1"))
        await writer.write(record("u", "2", party=first))  # first is now out of date
        results = await asyncio.gather(
            *(writer.write(record(f"other-{n}", f"o-{n}")) for n in range(5)),
            writer.write(record("u", "3", party=first)),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    stale = results[-1]
    assert isinstance(stale, StaleConversation)
    assert stale.conversation_ids == [first.conversation_id]
    assert all(isinstance(r, repo.Party) for r in results[:-1])


@pytest.fixture
async def second_process(settings: Settings, services: Services) -> AsyncIterator[Services]:
    """Another set of services on the same database, like a second web process."""
    other = build_services(settings)
    yield other
    await close(other)


async def test_two_engines_keep_one_conversation_consistent(
    services: Services, second_process: Services
) -> None:
    a = chat_with(services, sender_id="shared")
    b = Chat(second_process.engine, sender_id="shared")
    await a.say("/create meditation")
    await a.say("steadier mornings")  # a now holds version 2 in its cache
    await b.say("morning")  # b reads version 2 and stores version 3
    await a.say("a bit nervous")  # a's copy is stale: it must re-read, not overwrite
    assert "How long should it be?" in a.text
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "shared")
    assert party is not None
    assert State(party.state) is State.PRACTICE_DETAILS
    assert party.context["flow"]["answers"] == {
        "purpose": "steadier mornings",
        "time_of_day": "morning",
        "feeling": "a bit nervous",
    }


async def test_a_delivery_handled_by_another_engine_is_not_handled_again(
    services: Services, second_process: Services
) -> None:
    a = chat_with(services, sender_id="twice")
    b = Chat(second_process.engine, sender_id="twice")
    await a.say("/start", message_id="p-1")
    await b.say("/help", message_id="p-2")  # b now has the conversation cached
    first = await a.say("/create ritual", message_id="p-3")
    # a redelivery reaches b, which has not seen p-3 and trusts its cached copy
    again = await b.say("/create ritual", message_id="p-3")
    assert again == first
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "twice")
        assert party is not None
        messages = await repo.conversation_messages(session, party.conversation_id)
    assert [m.text for m in messages if m.direction == "in"] == [
        "/start",
        "/help",
        "/create ritual",
    ]
