"""Human handoff end to end: a creator takes conversations over from the manager bot.

The real app runs against the fake Bot API (the manager bot and the creator's own bot),
the fake Twilio Messages API (the agent's WhatsApp number) and the fake Ollama server
(so a test can see whether the agent asked its model anything). Creators and users write
through the real, signed webhooks; what reaches them is read at the fakes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from core.conversation.statemachine import State
from core.people.langid import LanguageIdentifier
from core.storage.models import Message
from core.text import SHIPPED
from tests.coach import (
    BOT,
    COACH_TOKEN,
    MANAGER_TOKEN,
    TELEGRAM_USER,
    Platform,
    green_tea_coach,
)
from tests.fakes.ollama import FakeOllama
from tests.fakes.twilio_requests import USER_NUMBER

RIVAL = 3_002  # another creator, with an agent of her own
QUESTION = "How hot should the water be for green tea?"
KETTLE = (
    "# Brewing green tea\n\nHeat the water to 80 degrees Celsius, never boiling, and steep "
    "the leaves for two minutes. Longer steeping makes green tea bitter.\n"
)
MODEL_ANSWER = "Heat the water to 80 degrees Celsius, never boiling [1]."


def number_of(listing: str, label: str) -> int:
    """A user's number in a /takeover listing, by their name and channel."""
    found = re.search(rf"{label} \(#(\d+), ", listing)
    assert found, listing
    return int(found.group(1))


@pytest.fixture
async def platform(
    app_database: dict[str, str], aiohttp_server: AiohttpServer, tmp_path: Path
) -> AsyncIterator[Platform]:
    model = FakeOllama(reply=MODEL_ANSWER)
    async with green_tea_coach(aiohttp_server, tmp_path / "data", model, **app_database) as made:
        # Cleo teaches her agent about green tea
        await made.services.knowledge.ingest_bytes(BOT, KETTLE.encode(), "tea.md")
        yield made


async def test_a_creator_talks_to_a_whatsapp_user_then_a_telegram_user_in_person(
    platform: Platform,
) -> None:
    assert await platform.ben("hello")
    assert "80 degrees" in (await platform.ada(QUESTION))[-1]
    asked = len(platform.model.chat_requests)
    assert asked == 1

    # the latest conversations, each with its user's number, channel and last message
    (listing,) = await platform.manager("/takeover")
    assert "The latest conversations with Green Tea Coach:" in listing
    ada, ben = number_of(listing, "Ada"), number_of(listing, "Ben")
    assert f"Ada (#{ada}, WhatsApp), just now: “{QUESTION}”" in listing
    assert f"Ben (#{ben}, Telegram), just now: “hello”" in listing
    assert listing.index("Ada") < listing.index("Ben")  # the most recent first

    # Cleo takes Ada's conversation over: both are told, the state is handoff
    (taken,) = await platform.manager(f"/takeover {ada}")
    assert f"You're now talking with Ada (#{ada}, WhatsApp), a user of Green Tea Coach." in taken
    assert f"Their last message: “{QUESTION}”" in taken
    assert "stays silent until you send /release" in taken
    assert platform.to_ada()[-1] == (
        "Cleo from Green Tea Coach has joined the conversation and will answer you personally."
    )
    assert await platform.state_of("whatsapp", USER_NUMBER) is State.HANDOFF

    # Ada writes: the agent says nothing and asks its model nothing; Cleo reads her words
    assert await platform.ada("Thanks! And how long should it steep?") == []
    assert len(platform.model.chat_requests) == asked
    assert platform.to_creator()[-1] == (
        f"💬 Ada (#{ada}, WhatsApp): Thanks! And how long should it steep?"
    )
    async with platform.services.db.read() as session:
        kept = await session.scalar(select(Message).order_by(Message.id.desc()).limit(1))
    assert kept is not None
    assert (kept.direction, kept.channel, kept.state) == ("in", "whatsapp", "handoff")
    assert kept.text == "Thanks! And how long should it steep?"

    # Cleo answers: it reaches Ada on WhatsApp, and the manager bot stays quiet
    assert await platform.manager("Two minutes, never longer, or it turns bitter.") == []
    assert platform.to_ada()[-1] == "Two minutes, never longer, or it turns bitter."

    # Ben, not taken over, is still answered by the agent
    assert "80 degrees" in (await platform.ben(QUESTION))[-1]
    assert len(platform.model.chat_requests) == asked + 1

    # one user at a time
    (busy,) = await platform.manager(f"/takeover {ben}")
    assert f"You're talking with Ada (#{ada}, WhatsApp) right now" in busy
    assert "← talking with you" in (await platform.manager("/takeover"))[0]

    # /release hands Ada back: she is told, and the agent answers her again
    (released,) = await platform.manager("/release")
    assert released == (
        f"Ada (#{ada}, WhatsApp) is back with Green Tea Coach, which answers them again. "
        "I've let them know."
    )
    assert platform.to_ada()[-1].startswith("You're back with Green Tea Coach, the assistant.")
    assert await platform.state_of("whatsapp", USER_NUMBER) is State.CHAT
    assert "80 degrees" in (await platform.ada(QUESTION))[-1]
    assert len(platform.model.chat_requests) == asked + 2
    assert "I set up agents through commands" in (await platform.manager("Are you there?"))[0]

    # now Ben, on Telegram
    (taken,) = await platform.manager(f"/takeover {ben}")
    assert f"You're now talking with Ben (#{ben}, Telegram)" in taken
    assert platform.to_ben()[-1].startswith("Cleo from Green Tea Coach has joined")
    assert await platform.ben("Can I use a kettle with a thermometer?") == []
    assert await platform.ben("/start") == []  # commands too: the agent keeps out of it
    assert len(platform.model.chat_requests) == asked + 2
    assert platform.to_creator()[-2:] == [
        f"💬 Ben (#{ben}, Telegram): Can I use a kettle with a thermometer?",
        f"💬 Ben (#{ben}, Telegram): /start",
    ]
    assert await platform.manager("Yes, that's the easiest way.") == []
    assert platform.to_ben()[-1] == "Yes, that's the easiest way."
    assert await platform.state_of("telegram", str(TELEGRAM_USER)) is State.HANDOFF
    (released,) = await platform.manager("/release")
    assert f"Ben (#{ben}, Telegram) is back with Green Tea Coach" in released
    assert platform.to_ben()[-1].startswith("You're back with Green Tea Coach")
    assert "80 degrees" in (await platform.ben(QUESTION))[-1]
    assert "aren't talking with any user" in (await platform.manager("/release"))[0]


async def test_another_creators_user_is_unknown_to_a_creator(platform: Platform) -> None:
    await platform.ada(QUESTION)
    ada = number_of((await platform.manager("/takeover"))[0], "Ada")
    assert "ready" in (await platform.manager("/newbot Rival Tea", RIVAL, "Rex"))[0]

    # Rex cannot see, take or release Ada: her number is answered like one nobody has
    (listing,) = await platform.manager("/takeover", RIVAL, "Rex")
    assert listing == "Nobody has talked to Rival Tea yet."
    (refused,) = await platform.manager(f"/takeover {ada}", RIVAL, "Rex")
    (unknown,) = await platform.manager("/takeover 999999", RIVAL, "Rex")
    assert refused == unknown.replace("999999", str(ada))
    assert refused.startswith(f"There's no user #{ada} among your agents' conversations.")
    assert await platform.state_of("whatsapp", USER_NUMBER) is State.CHAT
    assert "aren't talking with any user" in (await platform.manager("/release", RIVAL, "Rex"))[0]

    # nor reach her once Cleo has taken her over
    await platform.manager(f"/takeover {ada}")
    sent_to_ada = len(platform.to_ada())
    (again,) = await platform.manager(f"/takeover {ada}", RIVAL, "Rex")
    assert again == refused
    assert "I set up agents" in (await platform.manager("Hello Ada!", RIVAL, "Rex"))[0]
    assert "aren't talking with any user" in (await platform.manager("/release", RIVAL, "Rex"))[0]
    assert len(platform.to_ada()) == sent_to_ada
    assert await platform.state_of("whatsapp", USER_NUMBER) is State.HANDOFF
    assert platform.to_creator(RIVAL)[-1].startswith("You aren't talking")


async def test_a_user_asking_for_a_person_notifies_the_creator_once(platform: Platform) -> None:
    told = await platform.ben("/human")
    assert "I've let Green Tea Coach's creator know you'd like to talk to a person" in told[-1]
    notice = platform.to_creator()[-1]
    ben = int(re.findall(r"#(\d+)", notice)[0])
    assert notice == (
        f"🙋 Ben (#{ben}, Telegram) would like to talk to a person, on Green Tea Coach.\n"
        f"Send /takeover {ben} to answer them yourself."
    )
    notices = len(platform.to_creator())

    # asking again within the hour, in words this time: the user hears, the creator doesn't
    again = await platform.ben("Can I talk to a real person please?")
    assert "I've already let Green Tea Coach's creator know" in again[-1]
    assert len(platform.to_creator()) == notices
    assert len(platform.model.chat_requests) == 0

    # another user's request is their own
    await platform.ada("I'd like to speak to a human")
    assert platform.to_creator()[-1].startswith("🙋 Ada (#")
    assert "“I'd like to speak to a human”" in platform.to_creator()[-1]
    assert len(platform.to_creator()) == notices + 1

    # the suggested command works
    (taken,) = await platform.manager(f"/takeover {ben}")
    assert f"You're now talking with Ben (#{ben}, Telegram)" in taken


async def test_takeover_needs_a_number_and_an_agent(platform: Platform) -> None:
    menu = next(iter(platform.telegram.bots[MANAGER_TOKEN].commands.values()))
    assert {"takeover", "release"} <= {c["command"] for c in menu}
    ends = next(iter(platform.telegram.bots[COACH_TOKEN].commands.values()))
    assert "human" in {c["command"] for c in ends}
    assert "like /takeover 7" in (await platform.manager("/takeover Ada"))[0]
    assert "Nobody has talked to Green Tea Coach yet." in (await platform.manager("/takeover"))[0]
    (none,) = await platform.manager("/takeover", RIVAL, "Rex")
    assert none.startswith("You have no agent yet.")
    assert "isn't available" not in (await platform.manager("/release", RIVAL, "Rex"))[0]


async def test_a_creator_takes_over_in_their_own_language(platform: Platform) -> None:
    """Cleo's Telegram app is in Russian: what the manager bot tells her is in Russian,
    while Ben, whose app is in English, is told in English."""
    identifier = LanguageIdentifier()
    await platform.ben("hello")
    (listing,) = await platform.manager("/takeover", language="ru")
    assert listing.startswith("Последние разговоры с Green Tea Coach:")
    ben = number_of(listing, "Ben")
    assert f"Ben (#{ben}, Telegram), только что: “hello”" in listing

    (taken,) = await platform.manager(f"/takeover {ben}", language="ru")
    assert taken.startswith(
        f"Теперь ты разговариваешь с Ben (#{ben}, Telegram), пользователем Green Tea Coach."
    )
    assert platform.to_ben()[-1].startswith("Cleo from Green Tea Coach has joined")
    (busy,) = await platform.manager(f"/takeover {ben}", language="ru")
    (released,) = await platform.manager("/release", language="ru")
    assert released == (
        f"Ben (#{ben}, Telegram) снова общается с Green Tea Coach, который ему отвечает. "
        "Я сообщил об этом."
    )
    (alone,) = await platform.manager("/release", language="ru")
    for reply in (listing, taken, busy, released, alone):
        words = re.sub(r"“[^”]*”|Green Tea Coach|/\w+", " ", reply)
        guess = identifier.guess(words, SHIPPED)
        assert guess is not None, reply
        assert guess.language == "ru", reply
