"""Content jobs: run in the background, charged only when delivered, resumed after a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.conversation.statemachine import State
from core.conversation.studio import MAX_ATTEMPTS, ContentStudio
from core.generation.composer import GroundedComposer
from core.generation.seams import ContentRequest, GeneratedContent
from core.outbox import Address, Outbox
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import ContentItem, ContentJob
from knowledge.passages import EmptyKnowledge
from tests.chat import Chat, mailbox

RITUAL = ("/create ritual", "calm", "evening", "tired", "5", "text only")
ADDRESS = Address("demo", "terminal", "user-1")


class Credits:
    """Records what the studio asks of billing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def reserve(self, job: ContentJob) -> str | None:
        self.calls.append(("reserve", job.id))
        return f"hold-{job.id}"

    async def capture(self, reservation: str) -> None:
        self.calls.append(("capture", reservation))

    async def release(self, reservation: str) -> None:
        self.calls.append(("release", reservation))


class GatedComposer(GroundedComposer):
    """Composes only once ``gate`` is set; fails instead when ``fail`` is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail = False

    async def compose(self, request: ContentRequest) -> GeneratedContent:
        self.started.set()
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("the generator broke")
        return await super().compose(request)


@pytest.fixture
async def studio_chat(
    services: Services,
) -> AsyncIterator[tuple[Chat, GatedComposer, Credits, ContentStudio]]:
    composer, credits = GatedComposer(), Credits()
    engine = ConversationEngine(services.db, services.bots, Dialogue(EmptyKnowledge(), composer))
    outbox = Outbox()
    studio = ContentStudio(services.db, services.bots, engine, composer, outbox, credits=credits)
    yield Chat(engine, studio=studio, outbox=outbox), composer, credits, studio
    await studio.close()
    await engine.close()


async def state_of(services: Services, sender: str = ADDRESS.sender_id) -> State:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", sender)
    assert party is not None
    return State(party.state)


async def jobs(services: Services, sender: str = ADDRESS.sender_id) -> list[ContentJob]:
    async with services.db.read() as session:
        query = select(ContentJob).where(ContentJob.sender_id == sender)
        return list((await session.scalars(query)).all())


async def library_size(services: Services, sender: str = ADDRESS.sender_id) -> int:
    ids = [job.id for job in await jobs(services, sender)]
    async with services.db.read() as session:
        query = select(func.count()).select_from(ContentItem).where(ContentItem.job_id.in_(ids))
        return int(await session.scalar(query) or 0)


async def confirm(chat: Chat) -> None:
    """Walk the ritual flow and press Create without waiting for the job."""
    chat.studio, studio = None, chat.studio
    for step in RITUAL:
        await chat.say(step)
    await chat.send(chat.to_button("flow:confirm"))
    chat.studio = studio


async def test_a_job_reserves_then_captures_and_answers_while_it_runs(
    services: Services, studio_chat: tuple[Chat, GatedComposer, Credits, ContentStudio]
) -> None:
    chat, composer, credits, studio = studio_chat
    await confirm(chat)
    await composer.started.wait()
    assert await state_of(services) is State.GENERATING
    (job,) = await jobs(services)
    assert job.status == "running"
    assert credits.calls == [("reserve", job.id)]
    # the user can still talk while it runs, and is told it is coming
    chat.studio = None
    await chat.say("is it ready yet?")
    assert "still creating" in chat.text
    chat.studio = studio
    composer.gate.set()
    delivered = await chat.pushed()
    assert "5-minute" in delivered[0].text
    assert "/library" in delivered[-1].text
    assert credits.calls == [("reserve", job.id), ("capture", f"hold-{job.id}")]
    assert await state_of(services) is State.DELIVERED
    assert (await jobs(services))[0].status == "done"
    assert await library_size(services) == 1


async def test_a_failed_job_releases_and_charges_nothing(
    services: Services, studio_chat: tuple[Chat, GatedComposer, Credits, ContentStudio]
) -> None:
    chat, composer, credits, _studio = studio_chat
    composer.fail = True
    composer.gate.set()
    for step in RITUAL:
        await chat.say(step)
    await chat.press("flow:confirm")
    assert "nothing was charged" in chat.text
    (job,) = await jobs(services)
    assert credits.calls == [("reserve", job.id), ("release", f"hold-{job.id}")]
    assert job.status == "failed"
    assert await state_of(services) is State.CONFIRM
    assert await library_size(services) == 0


async def test_cancelling_while_it_runs_still_delivers_to_the_library(
    services: Services, studio_chat: tuple[Chat, GatedComposer, Credits, ContentStudio]
) -> None:
    chat, composer, _credits, studio = studio_chat
    await confirm(chat)
    await composer.started.wait()
    chat.studio = None
    await chat.say("/cancel")
    assert await state_of(services) is State.CHAT
    chat.studio = studio
    composer.gate.set()
    delivered = await chat.pushed()
    assert "5-minute" in delivered[0].text
    assert await state_of(services) is State.CHAT  # the user moved on; it stays that way
    assert await library_size(services) == 1


async def test_a_job_cut_off_by_a_crash_is_finished_at_the_next_start(
    settings: Settings,
) -> None:
    first = build_services(settings)
    await prepare(first)
    composer = GatedComposer()  # never opens: the process "dies" mid-job
    engine = ConversationEngine(first.db, first.bots, Dialogue(EmptyKnowledge(), composer))
    studio = ContentStudio(first.db, first.bots, engine, composer, Outbox())
    sender = f"crash-{uuid.uuid4().hex[:8]}"  # the database may hold other tests' jobs
    chat = Chat(engine, studio=studio, outbox=Outbox(), sender_id=sender)
    await confirm(chat)
    await composer.started.wait()
    await studio.close()
    await engine.close()
    await close(first)

    second = build_services(settings)
    box = mailbox(second.outbox)  # the channel is connected before jobs resume
    await prepare(second)
    await second.studio.idle()
    try:
        delivered = box.take(Address("demo", "terminal", sender))
        assert "5-minute" in delivered[0].text
        assert await state_of(second, sender) is State.DELIVERED
        (job,) = await jobs(second, sender)
        assert job.status == "done"
        assert job.attempts == 2
        assert await library_size(second, sender) == 1
        # a third start finds nothing left to do
        assert await second.studio.resume() == 0
    finally:
        await close(second)


async def test_a_job_stored_before_a_crash_is_settled_not_made_again(
    services: Services, studio_chat: tuple[Chat, GatedComposer, Credits, ContentStudio]
) -> None:
    chat, composer, credits, studio = studio_chat
    composer.gate.set()
    for step in RITUAL:
        await chat.say(step)
    await chat.press("flow:confirm")
    (job,) = await jobs(services)
    # as if the process died after storing the content, before marking the job done
    async with services.db.transaction() as session:
        await repo.set_job(session, job.id, status="running")
    credits.calls.clear()
    assert await studio.resume() == 1
    assert await chat.pushed() == []  # nothing delivered twice
    assert credits.calls == [("capture", f"hold-{job.id}")]
    assert (await jobs(services))[0].status == "done"
    assert await library_size(services) == 1


async def test_a_job_that_keeps_crashing_is_given_up_with_a_message(
    services: Services, studio_chat: tuple[Chat, GatedComposer, Credits, ContentStudio]
) -> None:
    chat, composer, credits, studio = studio_chat
    await confirm(chat)
    await composer.started.wait()
    await studio.close()
    (job,) = await jobs(services)
    async with services.db.transaction() as session:
        await repo.set_job(session, job.id, status="running", attempts=MAX_ATTEMPTS)
    assert await studio.resume() == 1
    told = await chat.pushed()
    assert "something went wrong" in told[0].text
    assert (await jobs(services))[0].status == "failed"
    assert credits.calls[-1] == ("release", f"hold-{job.id}")
    assert await state_of(services) is State.CONFIRM
