"""Users' languages end to end on real storage: found from the platform or the first
message that says enough, kept, overruled only by /language; bots' languages set by
their creators (REST API), with a greeting and persona per language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.demo import GREETINGS, PERSONAS
from core.app import SERVICES
from core.conversation.dialogue import Dialogue
from core.conversation.engine import ConversationEngine
from core.generation.composer import GroundedComposer
from core.generation.seams import Answer, AnswerRequest
from core.messages import Channel
from core.services import Services
from core.storage import repository as repo
from core.text import SHIPPED
from knowledge.passages import Passage
from tests.api import bearer, problem, register
from tests.chat import Chat, chat_with
from tests.test_channels.telegram_app import Client

SPANISH = "¿Me puedes recomendar algo para dormir mejor por las noches?"
ENGLISH = "Could you tell me more about the breathing exercise you mentioned earlier?"
GERMAN = "Kannst du mir bitte eine kurze Übung gegen Stress zeigen?"


async def say(chat: Chat, text: str, language: str | None = None) -> str:
    """Send ``text`` with the language the chat's platform reports; the replies' text."""
    await chat.say(text, language=language)
    return chat.text


async def kept(services: Services, chat: Chat) -> tuple[str | None, str | None]:
    """The user's language as stored, and where it came from."""
    async with services.db.read() as session:
        party = await repo.find_party(session, chat.bot_id, chat.channel.value, chat.sender_id)
    assert party is not None
    return party.language, party.language_source


async def test_the_first_telling_message_decides_and_short_ones_change_nothing(
    services: Services,
) -> None:
    chat = chat_with(services, sender_id="reader-1")  # the terminal: no platform language
    await say(chat, "ok")
    assert await kept(services, chat) == (None, None)
    await say(chat, SPANISH)
    assert await kept(services, chat) == ("es", "detected")
    for text in ("ok", "👍", "thanks!", ENGLISH):
        await say(chat, text)
        assert await kept(services, chat) == ("es", "detected"), text
    # still found anew for another user, in another language
    other = chat_with(services, sender_id="reader-2")
    await say(other, GERMAN)
    assert await kept(services, other) == ("de", "detected")


async def test_an_explicit_choice_wins_over_the_platform_and_the_text(services: Services) -> None:
    chat = chat_with(services, sender_id="42", channel=Channel.TELEGRAM)
    await say(chat, "hello there", language="en")
    assert await kept(services, chat) == ("en", "platform")
    await say(chat, "hi", language="pt-BR")  # the app's language changed: followed
    assert await kept(services, chat) == ("pt-br", "platform")
    # said in the language chosen
    assert "Sprache auf de gesetzt" in await say(chat, "/language DE", language="pt-BR")
    assert await kept(services, chat) == ("de", "chosen")
    await say(chat, SPANISH, language="en")
    await say(chat, "ok", language="es")
    assert await kept(services, chat) == ("de", "chosen")
    await say(chat, "/language auto", language="en")
    assert await kept(services, chat) == (None, None)
    await say(chat, "hi", language="fr")
    assert await kept(services, chat) == ("fr", "platform")


async def test_language_lists_the_bots_languages_and_refuses_others(services: Services) -> None:
    chat = chat_with(services, sender_id="chooser")
    listing = await say(chat, "/language")
    for name in ("Español", "Русский", "Українська", "Türkçe", "Português", "Deutsch"):
        assert name in listing
    assert "isn't a language code I know" in await say(chat, "/language xx")
    assert "isn't a language code I know" in await say(chat, "/language <script>")
    assert "I don't speak Italiano (it) here" in await say(chat, "/language it")
    assert await kept(services, chat) == (None, None)
    replied = await say(chat, "/language PT_br")
    assert "Idioma definido como pt-br" in replied
    assert "Português (pt)" in replied
    assert await kept(services, chat) == ("pt-br", "chosen")
    assert "Seu idioma é pt-br" in await say(chat, "/language")


async def test_the_greeting_is_chosen_per_language_with_the_default_for_the_rest(
    services: Services,
) -> None:
    await services.languages.change(
        "demo", offered=["en", "es"], default="es", greetings={"es": "¡Hola! Soy Mira."}
    )
    spanish = chat_with(services, sender_id="1", channel=Channel.TELEGRAM)
    await say(spanish, "/start", language="es")
    assert spanish.last[0].text == "¡Hola! Soy Mira."
    english = chat_with(services, sender_id="2", channel=Channel.TELEGRAM)
    await say(english, "/start", language="en-GB")
    assert english.last[0].text.startswith("Hello, I'm Mira")  # the bot's own greeting
    # Italian isn't offered: the bot's default language, Spanish, and its greeting
    italian = chat_with(services, sender_id="3", channel=Channel.TELEGRAM)
    await say(italian, "ciao", language="it")
    assert italian.last[0].text == "¡Hola! Soy Mira."
    assert await kept(services, italian) == ("it", "platform")
    # found from the text: greeted in Spanish in the same turn
    reader = chat_with(services, sender_id="4")
    await say(reader, SPANISH)
    assert reader.last[0].text == "¡Hola! Soy Mira."
    listing = await say(reader, "/language")
    assert "Español" in listing
    assert "Русский" not in listing


class Recorder(GroundedComposer):
    """The composer, noting the language and persona of every answer it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str | None, str]] = []

    async def answer(self, request: AnswerRequest) -> Answer:
        self.asked.append((request.language, request.bot.persona))
        return await super().answer(request)


class OnePassage:
    async def search(self, bot_id: str, query: str, *, limit: int = 5) -> list[Passage]:
        return [Passage(text="Breathe out slowly. It calms the body.", title="Notes", score=0.9)]


@pytest.fixture
async def recorded(services: Services) -> AsyncIterator[tuple[Chat, Recorder]]:
    recorder = Recorder()
    engine = ConversationEngine(services.db, services.bots, Dialogue(OnePassage(), recorder))
    yield Chat(engine, sender_id="asker"), recorder
    await engine.close()


async def test_the_turns_language_and_persona_reach_the_answer(
    services: Services, recorded: tuple[Chat, Recorder]
) -> None:
    chat, recorder = recorded
    await services.languages.change("demo", personas={"es": "Tranquila y cercana."})
    await say(chat, "/start")
    await say(chat, "ok")  # nothing known yet: the bot's default
    await say(chat, SPANISH)
    await say(chat, "ok")
    await say(chat, "/language de")
    await say(chat, ENGLISH)
    mira = await services.bots.get("demo")
    assert recorder.asked == [
        ("en", mira.persona),
        ("es", "Tranquila y cercana."),
        ("es", "Tranquila y cercana."),
        ("de", mira.languages.persona("de")),  # her own German persona
    ]


async def test_a_creator_sets_the_bots_languages_through_the_api(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    bot = await (await api.post("/api/v1/bots", json={"name": "Polyglot"}, headers=owner)).json()
    assert bot["languages"]["default"] == "en"
    assert bot["languages"]["offered"] == ["en", "es", "pt", "de", "fr", "ru", "uk", "tr"]
    path = f"/api/v1/bots/{bot['id']}"
    change = {
        "languages": {
            "offered": ["ES", "en", "pt_BR"],
            "default": "es",
            "greetings": {"es": "¡Bienvenida!", "pt-br": "Bem-vinda!"},
        }
    }
    changed = await api.patch(path, json=change, headers=owner)
    assert changed.status == 200, await changed.text()
    languages = (await changed.json())["languages"]
    assert languages == {
        "default": "es",
        "offered": ["es", "en", "pt-br"],
        "greetings": {"es": "¡Bienvenida!", "pt-br": "Bem-vinda!"},
        "personas": {},
    }
    # greetings merge; an empty one goes back to the bot's own
    again = await api.patch(
        path, json={"languages": {"greetings": {"pt-BR": ""}}, "name": "Poly"}, headers=owner
    )
    assert (await again.json())["languages"]["greetings"] == {"es": "¡Bienvenida!"}
    assert (await (await api.get(path, headers=owner)).json())["languages"]["default"] == "es"

    user = chat_with(api.app[SERVICES], bot_id=bot["id"], channel=Channel.TELEGRAM)
    await say(user, "/start", language="ru")  # not offered: the default, Spanish
    assert user.last[0].text == "¡Bienvenida!"

    bad: dict[str, Any]
    for bad in (
        {"languages": {"offered": ["en", "xx"]}},  # no language
        {"languages": {"default": "de"}},  # not offered
        {"languages": {"offered": []}},
        {"languages": {"default": "<b>"}},
        {"languages": {"greetings": {"not a code": "hi"}}},
        {"languages": {"colour": "blue"}},
    ):
        await problem(await api.patch(path, json=bad, headers=owner), 422)
    assert (await (await api.get(path, headers=owner)).json())["languages"] == {
        "default": "es",
        "offered": ["es", "en", "pt-br"],
        "greetings": {"es": "¡Bienvenida!"},
        "personas": {},
    }


async def test_the_creator_sets_the_languages_in_their_own_chat(services: Services) -> None:
    creator = chat_with(services, sender_id="local")  # the terminal's creator of the demo bot
    assert "Українська (uk)" in await say(creator, "/languages")
    assert "Mira speaks English (en), Deutsch (de)." in await say(creator, "/languages offer en de")
    await say(creator, "/languages greeting de Hallo, ich bin Mira.")
    assert "Its own greeting in: de, es, fr, pt, ru, tr, uk." in creator.text  # Mira's, and de
    assert "That didn't work" in await say(creator, "/languages default es")  # not offered
    assert "That didn't work" in await say(creator, "/languages offer en xx")
    user = chat_with(services, sender_id="7", channel=Channel.TELEGRAM)
    await say(user, "/start", language="de-AT")
    assert user.last[0].text == "Hallo, ich bin Mira."
    assert "Русский" not in await say(user, "/language", language="de-AT")


async def test_mira_speaks_every_shipped_language_with_her_own_greeting(
    services: Services,
) -> None:
    mira = await services.bots.get("demo")
    assert (mira.languages.default, mira.languages.offered) == ("en", SHIPPED)
    for n, code in enumerate(SHIPPED):
        # as Telegram's language_code and a browser's language report it
        for channel, reported in ((Channel.TELEGRAM, code), (Channel.WIDGET, f"{code}-XX")):
            chat = chat_with(services, sender_id=f"greeted-{n}", channel=channel)
            greeting = await say(chat, "/start", reported)
            assert greeting.startswith(GREETINGS.get(code, mira.greeting)), (code, greeting)
    chooser = chat_with(services, sender_id="chooses-es")
    await say(chooser, "/language es")
    assert (await say(chooser, "/start")).startswith(GREETINGS["es"])
    assert mira.languages.persona("ru") == PERSONAS["ru"]
