"""The engine end to end on real storage (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.conversation.statemachine import State
from core.conversation.studio import ContentStudio
from core.errors import UnknownBot
from core.generation.composer import GroundedComposer
from core.generation.seams import (
    Answer,
    AnswerRequest,
    ContentRequest,
    GeneratedContent,
    TextGenerator,
)
from core.messages import Attachment, AttachmentKind, Channel, InboundMessage, OutboundKind
from core.outbox import Outbox
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import ContentItem, ContentJob, Message, ProcessedDelivery
from knowledge.passages import EmptyKnowledge, Passage, Retriever
from tests.chat import Chat, chat_with

EngineFactory = Callable[[Retriever, TextGenerator], Awaitable[Chat]]


@pytest.fixture
async def make_engine(
    services: Services,
) -> AsyncIterator[EngineFactory]:
    """Chats with engines on the test's storage with other retrievers or generators
    plugged in (and a studio making content with that generator)."""
    made: list[tuple[ConversationEngine, ContentStudio]] = []

    async def make(retriever: Retriever, generator: TextGenerator) -> Chat:
        engine = ConversationEngine(services.db, services.bots, Dialogue(retriever, generator))
        outbox = Outbox()
        studio = ContentStudio(services.db, services.bots, engine, generator, outbox)
        made.append((engine, studio))
        return Chat(engine, studio=studio, outbox=outbox)

    yield make
    for engine, studio in made:
        await studio.close()
        await engine.close()


async def state_of(services: Services, sender: str = "user-1") -> State:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", sender)
    assert party is not None
    return State(party.state)


async def count(services: Services, model: Any) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_first_contact_is_greeted_and_questions_are_answered_honestly(
    services: Services,
) -> None:
    chat = chat_with(services)
    replies = await chat.say("What is the capital of France?")
    assert replies[0].text.startswith("Hello, I'm Mira")
    assert "couldn't find anything about that in Mira's material" in chat.text
    assert await state_of(services) is State.CHAT


FLOWS = {
    "meditation": [
        ("say", "I'd like a guided meditation"),
        ("say", "to sleep better"),
        ("say", "back"),  # back to the purpose question within the stage
        ("say", "sleeping through the night"),
        ("press", "time_of_day:bedtime"),
        ("say", "anxious and wired"),
        ("say", "25 minutes"),  # out of range: asked again
        ("say", "ten minutes"),
        ("say", "back"),  # back to the duration question
        ("say", "back"),  # first question of details: back to the context stage
        ("say", "restless"),
        ("press", "duration:10"),
        ("say", "slowly please"),
        ("press", "voice:off"),
    ],
    "affirmations": [
        ("press", "type:affirmations"),
        ("press", "purpose:self-confidence"),
        ("say", "hopeful"),
        ("say", "in the morning"),
        ("say", "5"),
        ("press", "pace:lively"),
        ("say", "text only"),
    ],
    "ritual": [
        ("say", "/create ritual"),
        ("say", "letting go of the work day"),
        ("say", "evening"),
        ("press", "feeling:tired"),
        ("say", "a quarter of an hour"),
        ("press", "voice:on"),
    ],
}


@pytest.mark.parametrize("content_type", sorted(FLOWS))
async def test_guided_flow_end_to_end(services: Services, content_type: str) -> None:
    chat = chat_with(services)
    await chat.say("/start")
    for action, value in FLOWS[content_type]:
        await (chat.press(value) if action == "press" else chat.say(value))
    assert await state_of(services) is State.CONFIRM
    assert "Shall I create it?" in chat.text
    # edit one field from the summary, then a second by free text
    await chat.press("edit:feeling")
    assert await state_of(services) in (State.CONTEXT_GATHERING,)
    await chat.say("calm and curious")
    assert await state_of(services) is State.CONFIRM
    assert "Feeling now: calm and curious" in chat.text
    await chat.say("make it 12 minutes")
    assert "Length: 12 minutes" in chat.text
    replies = await chat.engine.handle(chat.to_button("flow:confirm"))
    assert [r.kind for r in replies] == [OutboundKind.PROGRESS]  # the job runs on its own
    assert await state_of(services) is State.GENERATING
    chat.last = await chat.pushed()
    content = next(r for r in chat.last if r.kind is OutboundKind.TEXT)
    assert "12-minute" in content.text or content_type == "affirmations"
    audio = [r.audio for r in chat.last if r.kind is OutboundKind.AUDIO]
    assert bool(audio) is (content_type == "ritual")  # only the ritual asked for audio
    assert await state_of(services) is State.DELIVERED
    await chat.say("/library")
    assert "1. " in chat.text
    assert await count(services, ContentItem) == 1


async def test_meditation_answers_are_kept_exactly(services: Services) -> None:
    chat = chat_with(services)
    for action, value in FLOWS["meditation"]:
        await (chat.press(value) if action == "press" else chat.say(value))
    summary = chat.text
    assert "Purpose: sleeping through the night" in summary
    assert "Time of day: bedtime" in summary
    assert "Feeling now: restless" in summary
    assert "Length: 10 minutes" in summary
    assert "Pace: slow" in summary
    assert "Voice: text only" in summary


async def test_back_and_cancel_move_through_the_states(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/create")
    assert await state_of(services) is State.INTENT_DISCOVERY
    await chat.say("something nice")  # not a content type: asked again
    assert await state_of(services) is State.INTENT_DISCOVERY
    await chat.press("type:meditation")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await chat.press("flow:back")
    assert await state_of(services) is State.INTENT_DISCOVERY
    await chat.press("flow:back")
    assert await state_of(services) is State.CHAT
    await chat.say("make me a ritual")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await chat.say("cancel")
    assert await state_of(services) is State.CHAT
    assert "Cancelled" in chat.text


async def test_a_button_from_an_earlier_step_is_refused(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/create meditation")
    await chat.say("focus")
    await chat.send(
        InboundMessage(
            Channel.TERMINAL,
            "demo",
            "user-1",
            button_payload="pace:slow",
            platform_message_id="old",
        )
    )
    assert "earlier step" in chat.text
    assert await state_of(services) is State.CONTEXT_GATHERING


async def test_global_commands(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/help")
    assert "/library" in chat.text
    await chat.say("/cancel")
    assert "nothing to cancel" in chat.text
    await chat.say("/library")
    assert "library is empty" in chat.text
    await chat.say("/credits")
    assert "credits" in chat.text
    await chat.say("/voice on")
    await chat.say("/voice")
    assert "Spoken replies are on" in chat.text
    await chat.say("/language <script>")
    assert "isn't a language code" in chat.text
    await chat.say("/language pt-BR")  # from here on the bot speaks Portuguese
    assert "Idioma definido como pt-br" in chat.text
    await chat.say("/language")
    assert "Seu idioma é pt-br. Falo com você em Português (pt)." in chat.text
    await chat.say("/language en")
    assert "Language set to en" in chat.text
    await chat.say("/buy")
    assert "Purchases aren't available on Mira yet" in chat.text
    await chat.say("/export")
    assert [r.kind for r in chat.last] == [OutboundKind.DOCUMENT]
    await chat.say("/forget")
    assert "Delete everything?" in chat.text
    await chat.say("/frobnicate")
    assert "don't know the command /frobnicate" in chat.text
    await chat.say("/create affirmations")
    await chat.say("/create")
    assert "middle of making your set of affirmations" in chat.text
    await chat.say("/start")
    assert await state_of(services) is State.GREETING


async def test_redelivered_message_returns_the_same_replies_and_stores_nothing(
    services: Services,
) -> None:
    chat = chat_with(services)
    first = await chat.say("/create meditation", message_id="dup-1")
    before = (await count(services, Message), await count(services, ProcessedDelivery))
    state = await state_of(services)
    again = await chat.say("/create meditation", message_id="dup-1")
    assert again == first
    assert (await count(services, Message), await count(services, ProcessedDelivery)) == before
    assert await state_of(services) is state
    # the same id on another channel is another message
    other = chat_with(services, channel=Channel.WIDGET)
    await other.say("/help", message_id="dup-1")
    assert "/library" in other.text


class CountingRetriever:
    """Records how many searches run at once, overall and per sender."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.max_total = 0
        self.max_per_query: dict[str, int] = {}

    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        sender = query.split(":", 1)[0]
        self.running[sender] = self.running.get(sender, 0) + 1
        self.max_per_query[sender] = max(self.max_per_query.get(sender, 0), self.running[sender])
        self.max_total = max(self.max_total, sum(self.running.values()))
        await asyncio.sleep(0.005)
        self.running[sender] -= 1
        return []


async def test_one_conversation_stays_in_order_while_others_run_in_parallel(
    services: Services,
    make_engine: EngineFactory,
) -> None:
    retriever = CountingRetriever()
    engine = (await make_engine(retriever, GroundedComposer())).engine
    ordered = Chat(engine, sender_id="ordered")
    others = [Chat(engine, sender_id=f"other-{n}") for n in range(50)]
    await ordered.say("/start")
    tasks = [asyncio.create_task(ordered.say(f"ordered: question {n}")) for n in range(50)]
    tasks += [asyncio.create_task(c.say(f"other-{n}: question")) for n, c in enumerate(others)]
    await asyncio.gather(*tasks)

    assert retriever.max_per_query["ordered"] == 1
    assert retriever.max_total >= 5  # other conversations really ran concurrently
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "ordered")
        assert party is not None
        stored = await repo.conversation_messages(session, party.conversation_id)
    inbound = [m.text for m in stored if m.direction == "in"][1:]
    assert inbound == [f"ordered: question {n}" for n in range(50)]
    # every reply is stored right after the message it answers
    directions = [m.direction for m in stored]
    assert directions[0] == "in"
    assert all(m.reply_to_id is not None for m in stored if m.direction == "out")


async def test_state_survives_a_restart(settings: Settings) -> None:
    first = build_services(settings)
    await prepare(first)
    chat = Chat(first.engine, sender_id="restart")
    await chat.say("/create meditation")
    await chat.say("more patience")
    await close(first)

    second = build_services(settings)
    await prepare(second)
    chat = Chat(second.engine, sender_id="restart")
    await chat.say("morning")
    assert "How are you feeling" in chat.text
    async with second.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "restart")
    assert party is not None
    assert party.context["flow"]["answers"] == {
        "purpose": "more patience",
        "time_of_day": "morning",
    }
    await close(second)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "didn't catch anything"),
        ("   \n\t ", "didn't catch anything"),
        ("\x00\x07\u202e", "didn't catch anything"),
        ("x" * 4001, "That message is too long (4,001 characters): please keep it to 4,000"),
        ("x" * 4097, "too long (4,097 characters)"),
    ],
)
async def test_bad_text_gets_a_clear_reply_and_changes_nothing(
    services: Services, text: str, expected: str
) -> None:
    chat = chat_with(services)
    await chat.say("/create meditation")
    await chat.say(text)
    assert expected in chat.text
    assert await state_of(services) is State.CONTEXT_GATHERING


async def test_control_characters_are_removed_before_reading(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/create meditation")
    await chat.say("be\x00tter \u200bsleep\x1b")
    await chat.press("flow:back")
    assert "(Now: better sleep.)" in chat.text


async def test_attachments_without_text_are_acknowledged(services: Services) -> None:
    chat = chat_with(services)
    image = Attachment(AttachmentKind.IMAGE, "image/jpeg", 1200, "file-1")
    await chat.send(InboundMessage(Channel.TELEGRAM, "demo", "user-1", attachments=(image,)))
    assert "can't open image messages" in chat.text
    # a voice note this process cannot fetch (no reader for the channel's references)
    voice = Attachment(AttachmentKind.VOICE, "audio/ogg", 1200, "file-1")
    await chat.send(InboundMessage(Channel.TELEGRAM, "demo", "user-1", attachments=(voice,)))
    assert "couldn't download that voice note" in chat.text


async def test_oversized_button_payload_is_refused(services: Services) -> None:
    chat = chat_with(services)
    await chat.send(InboundMessage(Channel.WIDGET, "demo", "user-1", button_payload="x" * 500))
    assert "isn't one I know" in chat.text


async def test_unknown_bot_is_an_error_and_stores_nothing(services: Services) -> None:
    before = await count(services, Message)
    with pytest.raises(UnknownBot) as caught:
        await chat_with(services, bot_id="nobody").say("hello")
    assert caught.value.bot_id == "nobody"
    assert await count(services, Message) == before


class BrokenComposer(GroundedComposer):
    async def compose(self, request: ContentRequest) -> GeneratedContent:
        raise RuntimeError("generator exploded")


async def test_failed_generation_returns_to_the_summary_and_keeps_answers(
    services: Services, make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await make_engine(EmptyKnowledge(), BrokenComposer())
    for step in ("/create ritual", "calm", "evening", "tired", "5", "text only", "yes"):
        await chat.say(step)
    assert chat.last[0].text == "Writing your ritual…"
    assert "something went wrong" in chat.text
    assert "nothing was charged" in chat.text
    assert "Shall I create it?" in chat.text  # back at the summary, answers kept
    assert await state_of(services) is State.CONFIRM
    assert await count(services, ContentItem) == 0
    assert "generator exploded" in caplog.text
    async with services.db.read() as session:
        (job,) = (await session.scalars(select(ContentJob))).all()
    assert job.status == "failed"
    assert job.error is not None
    assert "generator exploded" in job.error
    # and pressing Create again makes a new job that can succeed or fail on its own
    await chat.say("yes")
    assert "something went wrong" in chat.text


class OnePassage:
    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        return [
            Passage(
                text="Breathe out longer than you breathe in. It calms the body.",
                title="Breathing notes",
                score=0.9,
                page=3,
            )
        ]


async def test_answers_from_knowledge_carry_their_sources(
    services: Services, make_engine: EngineFactory
) -> None:
    chat = await make_engine(OnePassage(), GroundedComposer())
    await chat.say("/start")
    replies = await chat.say("How should I breathe out?")
    assert "[1]" in replies[0].text
    assert replies[0].sources[0].title == "Breathing notes"
    assert replies[0].sources[0].page == 3
    # stored replies keep their sources too
    again = await chat.say("How should I breathe out?", message_id="same")
    assert (await chat.say("ignored", message_id="same")) == again


class EchoGenerator(GroundedComposer):
    async def answer(self, request: AnswerRequest) -> Answer:
        return Answer(text="")


async def test_empty_generated_answer_falls_back_to_honest_reply(
    services: Services, make_engine: EngineFactory
) -> None:
    chat = await make_engine(OnePassage(), EchoGenerator())
    await chat.say("/start")
    await chat.say("anything")
    assert "couldn't find anything" in chat.text
