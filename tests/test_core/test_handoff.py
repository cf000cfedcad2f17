"""The end user's side of a handoff: which words ask for a person, and how often the
creator hears about it (on real storage, with a clock the test moves)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.conversation.handoff import ASK_INTERVAL, TAKEN_BY, CreatorLine, asks_for_human
from core.generation.composer import GroundedComposer
from core.messages import Attachment, AttachmentKind, Channel, InboundMessage
from core.outbox import Address, Outbox
from core.services import Services
from tests.chat import Chat, mailbox
from tests.clock import Clock

CREATOR_CHAT = Address("manager", "telegram", "3001")


@pytest.mark.parametrize(
    "text",
    [
        "talk to a human",
        "Can I speak to a real person?",
        "I want to talk to a human, please",
        "I'd like to speak with a person",
        "I’d like to talk to a human being",
        "hi, could I chat with a real person",
        "connect me to a human",
        "Human, please!",
        "a real person please",
        "i need to talk to a person",
    ],
)
def test_plain_requests_for_a_person(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "human",  # a word on its own may answer a question
        "to talk to a real person without freezing",  # the purpose of a meditation
        "is this a real person?",
        "I don't want to talk to a human",
        "What makes a person calm?",
        "How do humans sleep?",
        "/human",  # the command is the engine's to read, not a phrase
    ],
)
def test_mentions_of_people_are_not_requests(text: str) -> None:
    assert not asks_for_human(text)


@pytest.fixture
async def tea(services: Services) -> AsyncIterator[tuple[Chat, Clock]]:
    """A user on Telegram of a bot whose creator uses the manager bot, on an engine whose
    creator line runs on a test clock."""
    await services.bots.create("Tea Coach", bot_id="tea", creator=("telegram", "3001"))
    clock = Clock(1_000_000.0)
    outbox = Outbox()
    mailbox(outbox)
    engine = ConversationEngine(
        services.db,
        services.bots,
        Dialogue(services.retriever, GroundedComposer()),
        creator_line=CreatorLine(outbox, clock=clock),
    )
    yield Chat(engine, "42", "tea", Channel.TELEGRAM, outbox=outbox), clock
    await engine.close()


async def test_the_creator_hears_at_most_once_an_hour(tea: tuple[Chat, Clock]) -> None:
    chat, clock = tea
    assert chat.outbox is not None
    creator = mailbox(chat.outbox)
    await chat.say("/human")
    assert "I've let Tea Coach's creator know" in chat.text
    (notice,) = creator.take(CREATOR_CHAT)
    assert "would like to talk to a person, on Tea Coach" in notice.text
    assert "/takeover" in notice.text

    clock.now += ASK_INTERVAL - 1
    await chat.say("talk to a human please")
    assert "already let Tea Coach's creator know" in chat.text
    assert creator.take(CREATOR_CHAT) == []

    clock.now += 2  # an hour after the first notice
    await chat.say("talk to a human please")
    assert "I've let Tea Coach's creator know" in chat.text
    (again,) = creator.take(CREATOR_CHAT)
    assert "“talk to a human please”" in again.text


async def test_without_a_manager_bot_nobody_is_promised(services: Services) -> None:
    await services.bots.create("Tea Coach", bot_id="tea", creator=("telegram", "3001"))
    engine = ConversationEngine(
        services.db, services.bots, Dialogue(services.retriever, GroundedComposer())
    )
    try:
        chat = Chat(engine, "42", "tea", Channel.TELEGRAM)
        await chat.say("Can I talk to a real person?")
        assert "I can't reach a person from Tea Coach from here" in chat.text
    finally:
        await engine.close()


async def test_the_creator_hears_in_the_language_they_chose_for_their_bot(
    services: Services, tea: tuple[Chat, Clock]
) -> None:
    chat, _ = tea
    assert chat.outbox is not None
    await services.bots.change_settings("tea", languages={"default": "es", "offered": ["es"]})
    await chat.say("/human", language="es")
    assert "Le he dicho al creador de Tea Coach que quieres hablar con una persona." in chat.text
    (notice,) = mailbox(chat.outbox).take(CREATOR_CHAT)
    assert "quiere hablar con una persona, en Tea Coach." in notice.text
    assert "para responderle tú." in notice.text


@pytest.mark.parametrize(
    ("language", "photo", "button"),
    [
        (None, "[sent a picture]", "[pressed a button]"),
        ("ru", "[отправил(а) изображение]", "[нажал(а) кнопку]"),
        ("es", "[envió una imagen]", "[pulsó un botón]"),
    ],
)
def test_what_a_user_sends_reaches_the_creator_in_their_language(
    language: str | None, photo: str, button: str
) -> None:
    """During a takeover the creator reads what the user sent, in the language the
    creator took the conversation over in."""
    line = CreatorLine(Outbox())
    context = {TAKEN_BY: {"channel": "telegram", "sender_id": "3001", "language": language}}
    picture = Attachment(AttachmentKind.IMAGE, "image/jpeg", 10, "file:///tmp/p.jpg")
    sent = InboundMessage(Channel.TELEGRAM, "tea", "42", attachments=(picture,))
    pressed = InboundMessage(Channel.TELEGRAM, "tea", "42", button_payload="flow:back")
    captioned = InboundMessage(Channel.TELEGRAM, "tea", "42", "look", attachments=(picture,))
    for message, said in ((sent, photo), (pressed, button), (captioned, f"look {photo}")):
        note = line.relay(context, message.text, message)
        assert note is not None
        assert (note.text, note.language) == (said, language)
