"""The fake Telegram Bot API, driven by a real aiogram ``Bot``: if aiogram accepts its
answers and its errors map to aiogram's exceptions, the product can be tested against it."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from PIL import Image
from pytest_aiohttp import AiohttpServer

from tests.fakes import telegram_updates as updates
from tests.fakes.telegram_api import FakeTelegram

TOKEN = f"{updates.BOT_ID}:AAHfakeTokenForChorusTests_0123456789"
CHAT = updates.USER_ID
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 4


@pytest.fixture
def fake() -> FakeTelegram:
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username=updates.BOT_USERNAME)
    return fake


@pytest.fixture
async def base_url(fake: FakeTelegram, aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("/"))


@pytest.fixture
async def session(base_url: str) -> AsyncIterator[AiohttpSession]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    yield session
    await session.close()


@pytest.fixture
def bot(session: AiohttpSession) -> Bot:
    return Bot(TOKEN, session=session)


async def test_get_me_is_the_registered_bot(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (updates.BOT_ID, updates.BOT_USERNAME, True)
    assert [c.status for c in fake.calls_for("getMe")] == [200]


async def test_send_message_with_an_inline_keyboard(bot: Bot, fake: FakeTelegram) -> None:
    fake.push_update(TOKEN, updates.text_update("hi", message_id=41))
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Tea", callback_data="drink:tea")]]
    )
    sent = await bot.send_message(
        CHAT, "Pick one", reply_markup=keyboard, reply_parameters=ReplyParameters(message_id=41)
    )
    [call] = await fake.wait_for("sendMessage", count=1, timeout=5)
    # ids continue after the user's message; the chat is the one seen in the update
    assert sent.message_id == 42
    assert sent.chat.username == "ada_tea"
    assert sent.from_user is not None
    assert sent.from_user.id == updates.BOT_ID
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.text == "hi"
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == keyboard.model_dump()
    # form fields arrive as strings: scalars decoded, objects JSON
    assert call.params["chat_id"] == CHAT
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "drink:tea"
    assert call.params["reply_parameters"] == {"message_id": 41}


async def test_send_voice_uploads_the_bytes_and_get_file_serves_them(
    bot: Bot, fake: FakeTelegram
) -> None:
    sent = await bot.send_voice(CHAT, BufferedInputFile(VOICE, filename="reply.ogg"), duration=2)
    [call] = fake.calls_for("sendVoice")
    assert call.params["voice"].startswith("attach://")
    assert call.files["voice"].data == VOICE
    assert call.files["voice"].filename == "reply.ogg"
    assert sent.voice is not None
    assert (sent.voice.duration, sent.voice.mime_type) == (2, "audio/ogg")
    assert sent.voice.file_size == len(VOICE)

    file = await bot.get_file(sent.voice.file_id)
    assert file.file_path is not None
    assert file.file_path.startswith("voice/")
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == VOICE

    stored = fake.add_file(None, b"%PDF-1.4 notes", file_name="notes.pdf")
    downloaded = await bot.download(stored.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"%PDF-1.4 notes"
    assert fake.downloads == [file.file_path, stored.file_path]


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (37, 99, 235)).save(out, format="PNG")
    return out.getvalue()


async def test_send_photo_reads_the_uploaded_image_as_telegram_does(
    bot: Bot, fake: FakeTelegram
) -> None:
    chart = _png(2400, 1200)
    sent = await bot.send_photo(CHAT, BufferedInputFile(chart, "chart.png"), caption="Stats")
    [call] = fake.calls_for("sendPhoto")
    assert call.files["photo"].data == chart
    assert sent.caption == "Stats"
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (1280, 640)  # kept at most 1280

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CHAT, BufferedInputFile(b"not a picture", "chart.png"))
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CHAT, BufferedInputFile(chart[: len(chart) // 2], "cut.png"))
    with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
        await bot.send_photo(CHAT, BufferedInputFile(_png(2100, 100), "strip.png"))


async def test_flood_raises_retry_after_then_recovers(bot: Bot, fake: FakeTelegram) -> None:
    fake.flood("sendMessage", times=1, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(CHAT, "one")
    assert raised.value.retry_after == 3
    assert (await bot.send_message(CHAT, "one")).text == "one"
    assert [c.status for c in fake.calls_for("sendMessage")] == [429, 200]
    assert fake.calls[0].response["parameters"] == {"retry_after": 3}


async def test_failures_and_blocked_chats(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail(status=502)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_chat_action(CHAT, "typing")
    fake.blocked.add(CHAT)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hello?")


async def test_an_unknown_token_is_unauthorized(session: AiohttpSession) -> None:
    stranger = Bot("999:AAunknown", session=session)
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()


async def test_unknown_methods_are_not_found(base_url: str) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{base_url}bot{TOKEN}/sendTelepathy") as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_long_poll_returns_a_pushed_update_then_nothing_after_the_offset(
    bot: Bot, fake: FakeTelegram
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    async with asyncio.timeout(5):
        await fake.polling(TOKEN)
    pushed = fake.push_update(TOKEN, updates.text_update("are you there?"))
    got = await poll
    assert time.monotonic() - started < 2
    assert [u.update_id for u in got] == [pushed["update_id"]]
    assert got[0].message is not None
    assert got[0].message.text == "are you there?"

    started = time.monotonic()
    assert await bot.get_updates(offset=got[-1].update_id + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9
    assert fake.bots[TOKEN].pending == []


async def test_rate_window_counts_messages_per_chat(bot: Bot, fake: FakeTelegram) -> None:
    for text in ("one", "two", "three"):
        await bot.send_message(CHAT, text)
    await bot.send_message(-1_001_234_567_890, "group")
    assert fake.max_in_window(1.0, chat_id=CHAT) == 3
    assert fake.max_in_window(1.0, token=TOKEN) == 4
    assert fake.max_in_window(1.0, chat_id=42) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: updates.text_update("hello"),
        lambda: updates.command_update("start", "ref_42"),
        lambda: updates.callback_update("drink:tea"),
        lambda: updates.voice_update(),
        lambda: updates.audio_update(title="Steeping", performer="Ada"),
        lambda: updates.document_update(caption="my notes"),
        lambda: updates.photo_update("what is this?"),
        lambda: updates.edited_update("hello again", message_id=7),
        lambda: updates.group_update(reply_to_bot="Green tea: 2 minutes."),
        lambda: updates.bot_blocked_update(),
    ],
)
def test_update_builders_match_aiogram_types(build: Callable[[], dict[str, Any]]) -> None:
    update = Update.model_validate(build())
    assert update.event_type != "update"


def test_entities_count_utf16_units() -> None:
    start = updates.command_update("start", "ref_42")["message"]
    assert start["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    group = updates.group_update("🍵 @chorus_test_bot hi")["message"]
    assert group["entities"] == [{"offset": 3, "length": 16, "type": "mention"}]
    assert group["chat"]["type"] == "supergroup"
    blocked = updates.bot_blocked_update()["my_chat_member"]
    assert blocked["new_chat_member"]["status"] == "kicked"
