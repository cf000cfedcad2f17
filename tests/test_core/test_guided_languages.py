"""A whole guided creation in Spanish and in Russian free text, through the real engine."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from core.conversation.statemachine import State
from core.messages import Channel, InboundMessage, OutboundKind
from core.services import Services
from core.storage import repository as repo
from core.storage.models import ContentItem
from tests.chat import Chat, chat_with

_ids = itertools.count(1)


async def party_of(services: Services) -> repo.Party:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "terminal", "user-1")
    assert party is not None
    return party


async def state_of(services: Services) -> State:
    return State((await party_of(services)).state)


async def answers_of(services: Services) -> dict[str, object]:
    """The flow's stored answers: language-neutral values, whatever the user typed."""
    return dict((await party_of(services)).context["flow"]["answers"])


async def say(chat: Chat, text: str, language: str | None = None) -> None:
    """Type ``text`` as a user whose channel reports ``language`` (or none)."""
    await chat.send(
        InboundMessage(
            channel=Channel.TERMINAL,
            bot_id="demo",
            sender_id="user-1",
            text=text,
            language=language,
            platform_message_id=f"lang{next(_ids)}",
        )
    )


async def test_a_meditation_made_with_spanish_answers(services: Services) -> None:
    """No language is known: every answer is read in all shipped languages at once."""
    chat = chat_with(services)
    await say(chat, "quiero una meditación")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await say(chat, "tengo una entrevista mañana")  # the purpose: kept as written
    await say(chat, "antes de dormir")
    await say(chat, "me siento ansiosa")
    assert await state_of(services) is State.PRACTICE_DETAILS
    await say(chat, "media hora")  # 30: too long, asked again
    assert "duration" not in await answers_of(services)
    await say(chat, "diez minutos")
    await say(chat, "atrás")  # back to the length
    await say(chat, "un cuarto de hora")
    await say(chat, "lento, por favor")
    await say(chat, "no, solo texto")
    assert await state_of(services) is State.CONFIRM
    assert await answers_of(services) == {
        "purpose": "tengo una entrevista mañana",
        "time_of_day": "bedtime",
        "feeling": "anxious",
        "duration": 15,
        "pace": "slow",
        "voice": "off",
    }
    await say(chat, "hazlo de 12 minutos")  # changed at once from the summary
    assert (await answers_of(services))["duration"] == 12
    assert await state_of(services) is State.CONFIRM
    await say(chat, "Sí, créala")
    assert any(r.kind is OutboundKind.TEXT and r.text for r in chat.last)
    async with services.db.read() as session:
        item = (await session.scalars(select(ContentItem))).one()
    assert item.content_type == "meditation"
    assert item.parameters["duration"] == 12
    assert item.parameters["feeling"] == "anxious"
    assert not [r for r in chat.last if r.kind is OutboundKind.AUDIO]
    assert await state_of(services) is State.DELIVERED


async def test_affirmations_made_with_russian_answers(services: Services) -> None:
    """The channel says the user speaks Russian; the answers are inflected Russian."""
    chat = chat_with(services)
    await say(chat, "хочу аффирмации", "ru")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await say(chat, "уверенность в себе", "ru")
    await say(chat, "я очень устала", "ru")
    await say(chat, "утром", "ru")
    assert await state_of(services) is State.PRACTICE_DETAILS
    await say(chat, "пять минут", "ru")
    await say(chat, "быстро", "ru")
    await say(chat, "нет, только текст", "ru")
    assert await state_of(services) is State.CONFIRM
    assert await answers_of(services) == {
        "purpose": "уверенность в себе",
        "feeling": "tired",
        "time_of_day": "morning",
        "duration": 5,
        "pace": "lively",
        "voice": "off",
    }
    await say(chat, "назад", "ru")  # back to the last question
    assert await state_of(services) is State.PRACTICE_DETAILS
    await say(chat, "отмена", "ru")
    assert await state_of(services) is State.CHAT
    assert "flow" not in (await party_of(services)).context


async def test_create_names_the_type_in_french(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/create méditation")  # straight to the first question
    assert await state_of(services) is State.CONTEXT_GATHERING
    assert (await party_of(services)).context["flow"]["type"] == "meditation"
    await say(chat, "annuler", "fr")
    assert await state_of(services) is State.CHAT
