"""A whole guided creation in Spanish and in Russian free text, through the real engine."""

from __future__ import annotations

from sqlalchemy import select

from core.conversation.statemachine import State
from core.messages import OutboundKind
from core.services import Services
from core.storage import repository as repo
from core.storage.models import ContentItem
from tests.chat import chat_with


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


async def test_a_meditation_made_with_spanish_answers(services: Services) -> None:
    """No language is known: every answer is read in all shipped languages at once."""
    chat = chat_with(services)
    await chat.say("quiero una meditación")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await chat.say("tengo una entrevista mañana")  # the purpose: kept as written
    await chat.say("antes de dormir")
    await chat.say("me siento ansiosa")
    assert await state_of(services) is State.PRACTICE_DETAILS
    await chat.say("media hora")  # 30: too long, asked again
    assert "duration" not in await answers_of(services)
    await chat.say("diez minutos")
    await chat.say("atrás")  # back to the length
    await chat.say("un cuarto de hora")
    await chat.say("lento, por favor")
    await chat.say("no, solo texto")
    assert await state_of(services) is State.CONFIRM
    assert await answers_of(services) == {
        "purpose": "tengo una entrevista mañana",
        "time_of_day": "bedtime",
        "feeling": "anxious",
        "duration": 15,
        "pace": "slow",
        "voice": "off",
    }
    await chat.say("hazlo de 12 minutos")  # changed at once from the summary
    assert (await answers_of(services))["duration"] == 12
    assert await state_of(services) is State.CONFIRM
    await chat.say("Sí, créala")
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
    await chat.say("хочу аффирмации", language="ru")
    assert await state_of(services) is State.CONTEXT_GATHERING
    await chat.say("уверенность в себе", language="ru")
    await chat.say("я очень устала", language="ru")
    await chat.say("утром", language="ru")
    assert await state_of(services) is State.PRACTICE_DETAILS
    await chat.say("пять минут", language="ru")
    await chat.say("быстро", language="ru")
    await chat.say("нет, только текст", language="ru")
    assert await state_of(services) is State.CONFIRM
    assert await answers_of(services) == {
        "purpose": "уверенность в себе",
        "feeling": "tired",
        "time_of_day": "morning",
        "duration": 5,
        "pace": "lively",
        "voice": "off",
    }
    await chat.say("назад", language="ru")  # back to the last question
    assert await state_of(services) is State.PRACTICE_DETAILS
    await chat.say("отмена", language="ru")
    assert await state_of(services) is State.CHAT
    assert "flow" not in (await party_of(services)).context


async def test_create_names_the_type_in_french(services: Services) -> None:
    chat = chat_with(services)
    await chat.say("/create méditation")  # straight to the first question
    assert await state_of(services) is State.CONTEXT_GATHERING
    assert (await party_of(services)).context["flow"]["type"] == "meditation"
    await chat.say("annuler", language="fr")
    assert await state_of(services) is State.CHAT
