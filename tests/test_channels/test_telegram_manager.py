"""The manager bot end to end: a creator sets up an agent by chatting, through the real
webhook route, with replies checked at the fake Bot API server."""

from __future__ import annotations

import asyncio
import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pytest_aiohttp import AiohttpServer
from sqlalchemy import func, select

from core.app import SERVICES
from core.i18n.translator import available
from core.insights.charts import PALETTE
from core.messages import too_long
from core.people.langid import LanguageIdentifier
from core.services import Services
from core.settings import Settings
from core.storage.models import ChannelAccount, Conversation, Message
from core.text import SHIPPED
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import (
    command_update,
    document_update,
    group_update,
    photo_update,
    text_update,
)
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)
from tests.test_knowledge.loader_samples import text_image, text_pdf

MANAGER_TOKEN = "6000000001:AAH-manager-token-of-the-platform-00000"
CREATOR_TOKEN = "7100000001:AAE-token-of-the-creators-own-bot-000000"
OTHER_TOKEN = "7200000002:AAE-token-of-another-bot-of-theirs-00000"
CREATOR = 3_001
STRANGER = 3_002
END_USER = 4_001

KETTLE = (
    "Brewing green tea: heat the water to 80 degrees Celsius, never boiling, and steep "
    "the leaves for two minutes. Longer steeping makes green tea bitter."
)


@dataclass
class Platform:
    fake: FakeTelegram
    client: Client

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]

    async def tell(self, update: dict[str, Any]) -> list[str]:
        """Send an update to the manager bot; the texts it sent back meanwhile."""
        before = len(self.fake.calls_for("sendMessage", MANAGER_TOKEN))
        secret = self.fake.bots[MANAGER_TOKEN].webhook.secret_token or ""
        assert await post_update(self.client, "manager", update, secret) == 200
        await self.settle()
        calls = self.fake.calls_for("sendMessage", MANAGER_TOKEN)[before:]
        return [html.unescape(str(c.params["text"])) for c in calls]

    async def say(self, text: str, user_id: int = CREATOR, language: str = "en") -> str:
        """A creator's text to the manager bot, from a Telegram app in ``language``; its
        last reply."""
        update = text_update(text, user_id=user_id)
        update["message"]["from"]["language_code"] = language
        self.fake.remember(MANAGER_TOKEN, update)
        return (await self.tell(update))[-1]

    async def to_bot(self, bot_id: str, token: str, text: str, user_id: int = END_USER) -> str:
        """An end user's text to a creator's bot; its last reply."""
        before = len(self.fake.calls_for("sendMessage", token))
        secret = self.fake.bots[token].webhook.secret_token or ""
        assert await post_update(self.client, bot_id, text_update(text, user_id=user_id), secret)
        await self.settle()
        calls = self.fake.calls_for("sendMessage", token)[before:]
        assert calls, f"{bot_id} did not answer {text!r}"
        return html.unescape(str(calls[-1].params["text"]))

    async def settle(self) -> None:
        """Wait for the updates sent so far and the jobs they started (documents)."""
        for _ in range(2):
            await self.services.inbox.idle()
            await self.services.jobs.idle()


@pytest.fixture
async def platform(aiohttp_server: AiohttpServer, tmp_path: Path) -> AsyncIterator[Platform]:
    fake = FakeTelegram()
    fake.add_bot(MANAGER_TOKEN, username="chorus_manager_bot")
    fake.add_bot(CREATOR_TOKEN, username="green_tea_coach_bot")
    fake.add_bot(OTHER_TOKEN, username="another_coach_bot")
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "data",
        telegram_bot_token=MANAGER_TOKEN,
        speech_enabled=False,
    )
    client = await start(settings)
    await services_ready(client)
    # the creators' menu: one for everyone, then one per shipped language
    menus = 1 + len(available())
    await fake.wait_for("setMyCommands", menus, token=MANAGER_TOKEN, timeout=10)
    yield Platform(fake, client)
    await client.close()


async def test_the_manager_bot_sets_its_webhook_and_the_creators_menu(platform: Platform) -> None:
    manager = platform.fake.bots[MANAGER_TOKEN]
    assert manager.webhook.url == "https://chorus.example/webhooks/telegram/manager"
    assert manager.webhook.secret_token
    assert MANAGER_TOKEN not in manager.webhook.secret_token
    commands = {c["command"] for c in next(iter(manager.commands.values()))}
    assert {"newbot", "persona", "greeting", "token", "docs", "deldoc", "ask"} <= commands
    assert {"widget", "pause", "resume"} <= commands


async def test_a_creator_sets_up_an_agent_and_an_end_user_talks_to_it(
    platform: Platform,
) -> None:
    assert "/newbot" in await platform.say("/start")
    created = await platform.say("/newbot Green Tea Coach")
    assert "Green Tea Coach is ready (id green-tea-coach)" in created
    assert "Saved" in await platform.say("/persona Calm, precise and friendly.")
    assert "Saved" in await platform.say("/greeting Welcome! Ask me anything about tea.")
    assert "Calm, precise" in await platform.say("/persona")

    # the creator's own Telegram bot: checked, webhook and menu set, token message removed
    token_update = command_update("token", CREATOR_TOKEN, user_id=CREATOR)
    platform.fake.remember(MANAGER_TOKEN, token_update)
    (reply,) = await platform.tell(token_update)
    assert "@green_tea_coach_bot" in reply
    assert "https://t.me/green_tea_coach_bot" in reply
    own = platform.fake.bots[CREATOR_TOKEN]
    assert own.webhook.url == "https://chorus.example/webhooks/telegram/green-tea-coach"
    assert "create" in {c["command"] for c in next(iter(own.commands.values()))}
    (deleted,) = platform.fake.calls_for("deleteMessage", MANAGER_TOKEN)
    assert deleted.params["message_id"] == token_update["message"]["message_id"]
    assert deleted.status == 200

    # a PDF, ingested with progress shown in the chat
    diary = [
        [f"Tasting note {n}: a spring harvest sampled on day {n}, with notes of {flavour}."]
        for n, flavour in enumerate(["chestnut", "seaweed", "honey", "grass"] * 10)
    ]
    pdf = text_pdf([[KETTLE], *diary])
    stored = platform.fake.add_file(None, pdf, file_name="tea.pdf", mime_type="application/pdf")
    upload = document_update(
        user_id=CREATOR, file_id=stored.file_id, file_name="tea.pdf", file_size=len(pdf)
    )
    await asyncio.sleep(1.1)  # a person takes a moment; the chat's pace lets progress out
    replies = await platform.tell(upload)
    assert replies[0].startswith("Reading tea.pdf")
    assert "Learned" in replies[-1]
    assert "41 pages" in replies[-1]
    assert "• " in (listed := await platform.say("/docs"))
    assert "tea (4 passages)" in listed
    asked = await platform.say("/ask How hot should the water be for green tea?")
    assert "Question covered" in asked
    assert "80 degrees" in asked

    # an end user on the creator's bot gets the greeting and answers from the PDF
    greeting = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/start")
    assert greeting.startswith("Welcome! Ask me anything about tea.")
    answer = await platform.to_bot(
        "green-tea-coach", CREATOR_TOKEN, "How hot should the water be for green tea?"
    )
    assert "80" in answer
    assert "Sources" in answer, answer

    # paused: end users are told, the creator can still test
    assert "paused" in await platform.say("/pause")
    resting = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "And oolong?")
    assert "taking a break" in resting
    tested = await platform.to_bot(
        "green-tea-coach", CREATOR_TOKEN, "How long should green tea steep?", user_id=CREATOR
    )
    assert "taking a break" not in tested
    assert "answering users again" in await platform.say("/resume")
    assert "taking a break" not in await platform.to_bot(
        "green-tea-coach", CREATOR_TOKEN, "And oolong?"
    )

    # the embed code for the website
    snippet = await platform.say("/widget")
    assert '<script src="https://chorus.example/widget.js" data-bot="green-tea-coach"' in snippet


async def test_only_the_creator_configures_their_agent(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    assert "no agent with the id green-tea-coach" in await platform.say(
        "/use green-tea-coach", user_id=STRANGER
    )
    assert "no agent yet" in await platform.say("/persona Rude and loud.", user_id=STRANGER)
    assert "no agent yet" in await platform.say("/pause", user_id=STRANGER)
    bot = await platform.services.bots.get("green-tea-coach")
    assert bot.persona == ""
    assert not bot.paused


async def test_several_agents_and_switching_between_them(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say("/newbot Sleep Guide")
    listing = await platform.say("/bots")
    assert "green-tea-coach" in listing
    assert "sleep-guide  Sleep Guide ← working on" in listing
    await platform.say("/persona Soft and slow.")
    assert "Now working on Green Tea Coach" in await platform.say("/use green-tea-coach")
    await platform.say("/persona Crisp.")
    assert (await platform.services.bots.get("sleep-guide")).persona == "Soft and slow."
    assert (await platform.services.bots.get("green-tea-coach")).persona == "Crisp."


async def test_tokens_telegram_refuses_or_that_are_malformed(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    assert "like /token 123456789:AAE" in await platform.say("/token not-a-token")
    unknown = "7999999999:AAE-a-token-telegram-has-never-issued-00"
    assert "Telegram didn't accept that token (Unauthorized)" in await platform.say(
        f"/token {unknown}"
    )
    assert "my own token" in await platform.say(f"/token {MANAGER_TOKEN}")
    async with platform.services.db.read() as session:
        assert await session.scalar(select(ChannelAccount)) is None
    platform.fake.fail("getMe", times=4, status=502)  # more than the client retries
    assert "couldn't reach Telegram" in await platform.say(f"/token {CREATOR_TOKEN}")


async def test_a_telegram_bot_moves_to_the_agent_it_is_attached_to_last(
    platform: Platform,
) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    await platform.say("/newbot Sleep Guide")
    await platform.say(f"/token {CREATOR_TOKEN}")
    async with platform.services.db.read() as session:
        accounts = list(await session.scalars(select(ChannelAccount)))
    assert [a.bot_id for a in accounts] == ["sleep-guide"]
    own = platform.fake.bots[CREATOR_TOKEN]
    assert own.webhook.url.endswith("/webhooks/telegram/sleep-guide")


async def test_a_creator_prices_their_agent_from_the_manager_bot(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    assert "Everything is free" in await platform.say("/pricing")
    saved = await platform.say("/pricing pack small 10 4.99")
    assert "Pack small: 10 credits for €4.99" in saved
    # this server has no Stripe key: the creator is told at once, and what to set
    assert "Users can't pay for these packs and plans yet" in saved
    assert "STRIPE_SECRET_KEY" in saved
    assert "hasn't talked" in await platform.say("/grant telegram:42 5")
    # an end user who wants to buy is pointed to the creator, whom /human reaches here
    await platform.say("/pricing cost ritual 2")
    bought = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/buy small")
    assert bought == (
        "Purchases aren't available on Green Tea Coach yet. Green Tea Coach's creator can "
        "give you credits: send /human and I'll let them know."
    )
    told = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/human")
    assert "I've let Green Tea Coach's creator know" in told


def menu_of(platform: Platform, token: str) -> set[str]:
    return {c["command"] for c in next(iter(platform.fake.bots[token].commands.values()))}


async def test_a_creator_switches_guided_creation_off_for_a_support_bot(
    platform: Platform,
) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    assert "/features" in await platform.say("/help")
    shown = await platform.say("/features")
    assert "• create: on — guided creation" in shown
    assert "/features create off" in shown
    assert "create" in menu_of(platform, CREATOR_TOKEN)

    off = await platform.say("/features create off")
    assert off.startswith("Guided creation is off for Green Tea Coach")
    assert "• create: off" in await platform.say("/features")
    assert {"create", "library"}.isdisjoint(menu_of(platform, CREATOR_TOKEN))
    assert {"start", "help", "human"} <= menu_of(platform, CREATOR_TOKEN)

    # the end user is offered no creation anywhere
    before = len(platform.fake.calls_for("sendMessage", CREATOR_TOKEN))
    greeting = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/start")
    assert greeting == "Hi, I'm Green Tea Coach."
    (greeted,) = platform.fake.calls_for("sendMessage", CREATOR_TOKEN)[before:]
    assert "reply_markup" not in greeted.params  # no buttons to make anything
    helped = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/help")
    assert "/create" not in helped
    assert "/library" not in helped
    assert "meditation" not in helped
    assert "/human" in helped
    assert await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/create") == (
        "Green Tea Coach doesn't make meditations, affirmations or rituals. Ask me anything "
        "about its material instead."
    )
    asked = await platform.to_bot(
        "green-tea-coach", CREATOR_TOKEN, "Make me a guided meditation for sleep"
    )
    assert asked.startswith("I couldn't find anything about that in Green Tea Coach's")
    assert "meditation" not in asked

    assert "That didn't work" in await platform.say("/features sing on")
    assert "on or off" in await platform.say("/features create maybe")
    assert "is on for Green Tea Coach" in await platform.say("/features create on")
    assert "create" in menu_of(platform, CREATOR_TOKEN)
    started = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/create")
    assert "What shall we make together?" in started


async def test_a_creator_without_an_agent_is_guided_to_newbot(platform: Platform) -> None:
    assert "/newbot" in await platform.say("/docs")
    assert "/newbot" in await platform.say("hello there")
    assert "What should your agent be called" in await platform.say("/newbot")


async def test_the_manager_bot_only_configures_in_private_chats(platform: Platform) -> None:
    update = group_update("/newbot@chorus_manager_bot Tea", user_id=CREATOR)
    (reply,) = await platform.tell(update)
    assert "private chat" in reply
    assert await platform.services.bots.owned_by("telegram", str(CREATOR)) == []


async def test_the_manager_webhook_checks_its_secret(platform: Platform) -> None:
    update = command_update("newbot", "Intruder", user_id=STRANGER)
    assert await post_update(platform.client, "manager", update, "wrong") == 401
    assert await post_update(platform.client, "manager", update, "") == 401


async def test_without_a_manager_token_there_is_no_manager_webhook(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    client = await start(Settings(data_dir=tmp_path / "data", speech_enabled=False))
    try:
        await services_ready(client)
        assert await post_update(client, "manager", command_update("start"), "x") == 404
    finally:
        await client.close()


async def test_no_creator_bot_can_take_the_manager_id(platform: Platform) -> None:
    assert "(id manager-2)" in await platform.say("/newbot Manager")


async def test_the_websites_a_widget_may_appear_on(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    assert "no other website yet" in await platform.say("/origins")
    added = await platform.say("/origins add https://Coach.Example/tea?x=1")
    assert "• https://coach.example" in added
    assert "isn't a website address" in await platform.say("/origins add javascript:alert(1)")
    await platform.say("/origins add http://localhost:3000")
    removed = await platform.say("/origins remove https://coach.example")
    assert "coach.example" not in removed
    assert "• http://localhost:3000" in removed
    settings = await platform.services.bots.settings("green-tea-coach")
    assert settings["allowed_origins"] == ["http://localhost:3000"]


async def test_the_widget_theme(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    assert "the defaults" in await platform.say("/theme")
    assert "color #0f766e" in await platform.say("/theme color #0F766E")
    assert "written like" in await platform.say("/theme color red;background:url(x)")
    assert "left or right" in await platform.say("/theme position middle")
    assert "https://" in await platform.say("/theme avatar javascript:alert(1)")
    await platform.say("/theme position left")
    await platform.say("/theme title Tea time")
    settings = await platform.services.bots.settings("green-tea-coach")
    assert settings["widget"] == {"color": "#0f766e", "position": "left", "title": "Tea time"}
    assert "the defaults" in await platform.say("/theme reset")
    assert "widget" not in await platform.services.bots.settings("green-tea-coach")


async def test_whatsapp_needs_twilio_on_the_server(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    assert "No WhatsApp number yet" in await platform.say("/whatsapp")
    assert "not a phone number" in await platform.say("/whatsapp call me maybe")
    refused = await platform.say("/whatsapp +14155238886")
    assert "WhatsApp isn't available on this server: TWILIO_ACCOUNT_SID" in refused
    assert "connect a WhatsApp number first" in await platform.say("/whatsapp me +14155550123")


async def _stats(platform: Platform, user_id: int) -> tuple[str, bytes, str]:
    """/stats from a creator: the text, and the photo's bytes and caption as uploaded."""
    before = len(platform.fake.calls_for("sendPhoto", MANAGER_TOKEN))
    text = await platform.say("/stats", user_id=user_id)
    photos = platform.fake.calls_for("sendPhoto", MANAGER_TOKEN)[before:]
    assert len(photos) == 1
    (photo,) = photos
    assert photo.status == 200
    assert photo.chat_id == user_id
    upload = photo.files["photo"]
    assert upload.filename.endswith(".png")
    # the server read it as a picture of the chart's size
    shown = photo.response["result"]["photo"][-1]
    assert (shown["width"], shown["height"]) == Image.open(io.BytesIO(upload.data)).size
    return text, upload.data, str(photo.params.get("caption", ""))


def _chart(data: bytes) -> Image.Image:
    """The uploaded chart, checked to be a whole PNG of a readable size."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel: a truncated or corrupt file fails here
    assert image.format == "PNG"
    assert 800 <= image.width <= 2000
    assert 400 <= image.height <= 1200
    return image.convert("RGB")


def _painted(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels of the chart have ``colour`` (the first series' bars)."""
    return sum(count for count, rgb in image.getcolors(image.width * image.height) if rgb == colour)


async def test_stats_gives_the_creator_their_agents_numbers_and_a_chart(
    platform: Platform,
) -> None:
    manager = platform.fake.bots[MANAGER_TOKEN]
    assert "stats" in {c["command"] for c in next(iter(manager.commands.values()))}
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "/start")
    await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "What is the capital of France?")
    await platform.to_bot(
        "green-tea-coach", CREATOR_TOKEN, "what is the capital of France", user_id=END_USER + 1
    )
    async with platform.services.db.read() as session:
        replies = await session.scalar(
            select(func.count())
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.bot_id == "green-tea-coach", Message.direction == "out")
        )
    assert replies

    text, png, caption = await _stats(platform, CREATOR)

    assert text.startswith("Green Tea Coach, last 30 days")
    assert f"Messages: 3 from users, {replies} replies" in text
    assert f"• telegram: 3 in, {replies} out" in text
    assert "Active users: 2 (2 today)" in text
    assert "Questions: 2, 2 not covered by your documents" in text
    assert "1. what is the capital of france (2)" in text
    assert "Guided creation: 0 started, 0 completed" in text
    assert "Credits: 0 sold, 0 given, 0 spent" in text
    assert caption == "Green Tea Coach: messages per day and channel, last 30 days"
    chart = _chart(png)
    assert _painted(chart, PALETTE[0]) > 500  # today's telegram bar, and the legend


async def test_stats_shows_a_creator_only_their_own_agent(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "What is the capital of France?")
    assert "no agent yet" in await platform.say("/stats", user_id=STRANGER)
    assert not platform.fake.calls_for("sendPhoto", MANAGER_TOKEN)

    await platform.say("/newbot Sleep Guide", user_id=STRANGER)
    text, png, _ = await _stats(platform, STRANGER)

    assert text.startswith("Sleep Guide, last 30 days")
    assert "Messages: 0 from users, 0 replies." in text
    assert "Active users: 0 (0 today)" in text
    assert "capital" not in text
    assert _painted(_chart(png), PALETTE[0]) == 0  # no bars, no legend
    mine, _, _ = await _stats(platform, CREATOR)
    assert "Messages: 1 from users" in mine


async def test_telegram_users_have_the_same_text_limit_as_every_channel(
    platform: Platform,
) -> None:
    await platform.say("/newbot Green Tea Coach")
    await platform.say(f"/token {CREATOR_TOKEN}")
    # Telegram lets 4,096 characters through; the bot reads up to the one limit, 4,000
    refused = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "tea " * 1012)
    assert refused == too_long(4047)
    read = await platform.to_bot("green-tea-coach", CREATOR_TOKEN, "tea " * 1000)
    assert "too long" not in read


async def test_a_photo_of_a_page_is_read_with_ocr_and_answers_cite_it(platform: Platform) -> None:
    await platform.say("/newbot Green Tea Coach")
    page = text_image(
        [
            ["Steep green tea for two minutes", "at eighty degrees, never boiling."],
            ["Oolong likes hotter water and", "a longer steep of four minutes."],
        ],
        image_format="JPEG",
    )
    stored = platform.fake.add_file(None, page, mime_type="image/jpeg")
    photo = photo_update(None, user_id=CREATOR, file_id=stored.file_id, file_size=len(page))
    await asyncio.sleep(1.1)  # the chat's pace lets the progress out
    replies = await platform.tell(photo)
    assert replies[0].startswith("Reading photo")
    assert "Learned “photo”" in replies[-1], replies
    asked = await platform.say("/ask How long should oolong steep?")
    assert "four minutes" in asked, asked
    assert "[1] photo, OCR" in asked, asked


def written_in(text: str, identifier: LanguageIdentifier) -> str | None:
    """The language a reply is written in, judged on its words without the commands,
    agent names, addresses and quoted texts of the creator's that stay the same in every
    language."""
    own = re.sub(r"“[^”]*”|«[^»]*»|„[^“]*“", " ", text)  # the creator's words, quoted
    words = [
        w
        for w in own.replace("Green Tea Coach", " ").split()
        if not w.startswith(("/", "@", "http", "#", "<")) and not any(c.isdigit() for c in w)
    ]
    guess = identifier.guess(" ".join(words), SHIPPED)
    return guess.language if guess else None


def manager_menu(platform: Platform, language: str) -> dict[str, str]:
    """The manager bot's command menu for Telegram apps in ``language`` ("" for the rest)."""
    commands = platform.fake.bots[MANAGER_TOKEN].commands[('{"type": "default"}', language)]
    return {c["command"]: c["description"] for c in commands}


async def test_the_creators_menu_is_in_each_shipped_language(platform: Platform) -> None:
    english = manager_menu(platform, "")
    assert english["newbot"] == "Create a new agent"
    for language in available():
        menu = manager_menu(platform, language)
        assert menu.keys() == english.keys(), language
        assert menu["newbot"] != english["newbot"], language
    assert manager_menu(platform, "es")["newbot"] == "Crear un agente nuevo"
    assert manager_menu(platform, "ru")["stats"] == "Цифры и график за последние 30 дней"


@pytest.mark.parametrize(
    ("language", "created", "saved", "unknown"),
    [
        (
            "es",
            "Green Tea Coach está listo (id green-tea-coach). Siguientes pasos:",
            "He guardado la nueva personalidad de Green Tea Coach.",
            "No conozco /frobnicate. Envía /help para ver la lista.",
        ),
        (
            "ru",
            "Green Tea Coach готов (id green-tea-coach). Дальше:",
            "Новый характер Green Tea Coach сохранён.",
            "Я не знаю команды /frobnicate. Отправь /help, чтобы увидеть список.",
        ),
    ],
)
async def test_a_creator_is_answered_in_their_telegram_app_s_language(
    platform: Platform, language: str, created: str, saved: str, unknown: str
) -> None:
    identifier = LanguageIdentifier()
    replies: list[str] = []

    async def say(text: str) -> str:
        reply = await platform.say(text, language=language)
        replies.append(reply)
        return reply

    await say("/start")
    assert (await say("/newbot Green Tea Coach")).startswith(created)
    assert await say("/persona Calm, precise and friendly.") == saved
    assert "Calm, precise and friendly." in await say("/persona")
    await say("/bots")
    await say("/use")
    assert await say("/frobnicate") == unknown
    await say("/token not-a-token")
    await say("/pause")
    await say("/resume")
    await say("/widget")
    await say("/whatsapp")
    await say("/whatsapp call me maybe")
    await say("/whatsapp +14155238886")  # no Twilio on this server: said in their words
    await say("/whatsapp me +14155550123")
    await say("/newbot " + "Tea " * 60)  # a name over the limit, refused by the registry
    await say("/schedule 08:00 Good morning, time for tea.")
    await say("/schedules")
    await say("/pauseschedule 1")
    await say("/broadcast Tea news!")  # nobody can be reached yet
    await say("/broadcast")
    await say("/takeover")
    await say("/release")
    text, _, caption = await _stats_in(platform, language)
    replies += [text, caption]
    # the knowledge, pricing and widget commands it shares with the agent's own chat
    for command in ("/docs", "/ask tea", "/pricing", "/features", "/languages", "/origins"):
        await say(command)

    for reply in replies:
        assert written_in(reply, identifier) == language, reply
    assert "TWILIO_ACCOUNT_SID" in replies[13]
    assert "200" in replies[15]
    # the chart's words, and a schedule's days, in the creator's language too
    assert "Every day" not in replies[16]


async def _stats_in(platform: Platform, language: str) -> tuple[str, bytes, str]:
    """/stats from a creator whose app is in ``language``."""
    before = len(platform.fake.calls_for("sendPhoto", MANAGER_TOKEN))
    text = await platform.say("/stats", language=language)
    (photo,) = platform.fake.calls_for("sendPhoto", MANAGER_TOKEN)[before:]
    return text, photo.files["photo"].data, str(photo.params.get("caption", ""))
