"""Telegram end to end: real Update JSON through the real webhook route, replies checked at
a local Bot API server (tests/fakes/telegram_api.py), through aiogram."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from channels.telegram import keyboard, split_text
from core.app import SERVICES
from core.messages import AudioFormat, Button, OutboundMessage
from core.outbox import Address
from core.services import Services
from core.settings import Settings
from core.storage.models import ChannelIdentity, InboundUpdate
from core.voice.seams import VoiceSettings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import (
    USER_ID,
    bot_blocked_update,
    callback_update,
    command_update,
    group_update,
    text_update,
    voice_update,
)
from tests.records import Records
from tests.test_channels.telegram_app import (
    SECRET_HEADER,
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
    stored_updates,
)

TOKEN = "7000000001:AAF-test-token-for-the-demo-bot_0123456"


@dataclass
class Setup:
    fake: FakeTelegram
    settings: Settings
    client: Client
    secret: str

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]

    async def post(self, update: dict[str, Any], secret: str | None = None) -> int:
        return await post_update(
            self.client, "demo", update, self.secret if secret is None else secret
        )

    async def settle(self) -> None:
        """Wait for accepted updates and the content jobs they started."""
        assert self.services.inbox is not None
        for _ in range(3):
            await self.services.inbox.idle()
            await self.services.studio.idle()

    def texts(self) -> list[str]:
        return [str(c.params.get("text", "")) for c in self.fake.calls_for("sendMessage")]


@pytest.fixture
async def telegram(aiohttp_server: AiohttpServer, tmp_path: Path) -> AsyncIterator[Setup]:
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="mira_demo_bot")
    settings = await settings_for(fake, aiohttp_server, tmp_path / "data")
    client = await start(settings)
    services = client.app[SERVICES]
    await services_ready(client)
    assert services.telegram is not None
    assert await services.telegram.attach("demo", TOKEN) == "mira_demo_bot"
    secret = fake.bots[TOKEN].webhook.secret_token
    assert secret
    yield Setup(fake, settings, client, secret)
    await client.close()


async def test_attaching_a_token_sets_the_webhook_and_the_menu(telegram: Setup) -> None:
    bot = telegram.fake.bots[TOKEN]
    assert bot.webhook.url == "https://chorus.example/webhooks/telegram/demo"
    assert TOKEN not in bot.webhook.url
    assert "callback_query" in (bot.webhook.allowed_updates or [])
    commands = next(iter(bot.commands.values()))
    assert {"start", "create", "library", "voice"} <= {c["command"] for c in commands}


async def test_a_question_is_answered_with_sources(telegram: Setup) -> None:
    assert await telegram.post(command_update("start")) == 200
    assert await telegram.post(text_update("How should I breathe when I feel anxious?")) == 200
    await telegram.settle()
    answer = telegram.texts()[-1]
    assert "<b>Sources</b>" in answer
    assert "[1]" in answer
    call = telegram.fake.calls_for("sendMessage")[-1]
    assert call.params.get("parse_mode") == "HTML"


async def test_a_guided_meditation_arrives_as_a_voice_note(telegram: Setup) -> None:
    await telegram.post(command_update("create", "meditation"))
    for text in ("sleeping well", "bedtime", "restless", "3", "slow"):
        await telegram.post(text_update(text))
        await telegram.settle()
    keyboard = telegram.fake.calls_for("sendMessage")[-1].params["reply_markup"]
    pressed = [b["callback_data"] for row in keyboard["inline_keyboard"] for b in row]
    assert "voice:on" in pressed
    await telegram.post(callback_update("voice:on"))
    await telegram.settle()
    assert telegram.fake.calls_for("answerCallbackQuery")
    await telegram.post(callback_update("flow:confirm"))
    await telegram.settle()
    (voice,) = telegram.fake.calls_for("sendVoice")
    upload = voice.files["voice"]
    assert upload.data[:4] == b"OggS"
    assert 160 <= int(voice.params["duration"]) <= 200  # 3 minutes ±10 %
    assert any("3-minute meditation" in t for t in telegram.texts())
    assert telegram.fake.calls_for("editMessageText") or any(
        "Recording" in t for t in telegram.texts()
    )


async def test_the_same_update_twice_and_at_once_is_answered_once(telegram: Setup) -> None:
    update = text_update("What is Chorus?")
    statuses = await asyncio.gather(*(telegram.post(update) for _ in range(4)))
    assert statuses == [200, 200, 200, 200]
    await telegram.settle()
    assert await telegram.post(update) == 200
    await telegram.settle()
    assert await stored_updates(telegram.services) == 1
    assert len(telegram.texts()) == 2  # the greeting for a first contact, then the answer


@pytest.mark.parametrize("secret", ["", "wrong-secret"])
async def test_a_wrong_or_missing_secret_is_refused(telegram: Setup, secret: str) -> None:
    assert await telegram.post(text_update("hello"), secret=secret) == 401
    assert await stored_updates(telegram.services) == 0


async def test_an_unknown_bot_is_not_found(telegram: Setup) -> None:
    response = await telegram.client.post(
        "/webhooks/telegram/nobody",
        json=text_update("hello"),
        headers={"X-Telegram-Bot-Api-Secret-Token": telegram.secret},
    )
    assert response.status == 404


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"update_id": "x"}', b'{"update_id": 5, "message": 3}']
)
async def test_a_signed_body_that_cannot_be_read_is_answered_200_and_kept_as_refused(
    telegram: Setup, body: bytes
) -> None:
    headers = {SECRET_HEADER: telegram.secret, "Content-Type": "application/json"}
    for _ in range(2):  # Telegram would deliver it again after anything but a 200
        response = await telegram.client.post("/webhooks/telegram/demo", data=body, headers=headers)
        assert response.status == 200
    await telegram.settle()
    async with telegram.services.db.read() as session:
        (kept,) = (await session.scalars(select(InboundUpdate))).all()
    assert kept.status == "refused"
    assert kept.error is not None
    assert kept.error.startswith("unparseable")
    assert telegram.texts() == []  # nothing processed, nothing answered
    metrics = await (await telegram.client.get("/metrics")).text()
    counted = (
        'chorus_webhook_rejections_total{channel="telegram",reason="unparseable",status="200"}'
    )
    assert f"{counted} 2.0" in metrics


async def test_an_update_accepted_before_a_crash_is_answered_after_restart(
    telegram: Setup,
) -> None:
    telegram.fake.latency = 2.0  # the reply is still on its way when the process stops
    assert await telegram.post(text_update("What is Chorus?")) == 200
    await asyncio.sleep(0.2)
    await telegram.client.close()
    telegram.fake.latency = 0.0
    assert not any("Chorus" in t for t in telegram.texts())

    restarted = await start(telegram.settings)
    try:
        await services_ready(restarted)
        services = restarted.app[SERVICES]
        assert services.inbox is not None
        await services.inbox.idle()
        assert any("Chorus" in t for t in telegram.texts())
        async with services.db.read() as session:
            statuses = (await session.scalars(select(InboundUpdate.status))).all()
        assert statuses == ["done"]
    finally:
        await restarted.close()


def test_long_replies_are_split_at_paragraphs_without_breaking_escapes() -> None:
    paragraph = "Breathe <slowly> & softly. " * 60  # ~1,600 characters, escapes grow it
    pieces = split_text("\n\n".join([paragraph] * 6))
    assert len(pieces) > 1
    assert all(len(html.escape(p, quote=False)) <= 4096 for p in pieces)
    assert "".join(pieces).replace(" ", "") == ("".join([paragraph] * 6)).replace(" ", "")


async def test_a_flood_wait_is_honoured_and_the_reply_still_arrives(telegram: Setup) -> None:
    telegram.fake.flood("sendMessage", times=1, retry_after=1)
    started = asyncio.get_running_loop().time()
    await telegram.post(text_update("What is Chorus?"))
    await telegram.settle()
    answered = [c for c in telegram.fake.calls_for("sendMessage") if c.status == 200]
    assert len(answered) == 2  # greeting and answer, after one refused attempt
    assert asyncio.get_running_loop().time() - started >= 1.0


async def test_messages_are_paced_per_chat_and_per_bot(telegram: Setup) -> None:
    for user in range(40):  # forty users greet the bot at once: 80 messages
        await telegram.post(command_update("start", user_id=1000 + user))
        await telegram.post(text_update("hi there", user_id=1000 + user))
    await telegram.settle()
    assert len(telegram.fake.calls_for("sendMessage")) >= 80
    assert telegram.fake.max_in_window(1.0, token=TOKEN) <= 31
    for user in range(40):
        assert telegram.fake.max_in_window(0.99, token=TOKEN, chat_id=1000 + user) <= 1


async def test_a_voice_note_is_downloaded_transcribed_and_answered(telegram: Setup) -> None:
    voice = telegram.services.voice
    assert voice is not None
    audio = await voice.speaker.speak(
        "What can help me sleep better at night?",
        VoiceSettings(words_per_minute=140),
        [AudioFormat.OGG_OPUS],
    )
    data = audio[AudioFormat.OGG_OPUS].data
    stored = telegram.fake.add_file(None, data, mime_type="audio/ogg")
    await telegram.post(voice_update(file_id=stored.file_id, file_size=len(data)))
    await telegram.settle()
    heard = telegram.texts()[0]  # what it heard comes first
    assert heard.startswith("🎙")
    assert "sleep" in heard.lower()
    assert telegram.fake.downloads  # fetched through getFile and the file URL
    assert len(telegram.texts()) >= 3  # and the question was answered


async def test_polling_takes_the_same_path_without_a_webhook(telegram: Setup) -> None:
    await telegram.client.close()
    polling = await start(telegram.settings.model_copy(update={"telegram_polling": True}))
    try:
        await services_ready(polling)
        await asyncio.wait_for(telegram.fake.polling(TOKEN), timeout=10)
        assert telegram.fake.bots[TOKEN].webhook.url == ""  # removed, so polling works
        telegram.fake.push_update(TOKEN, text_update("What is Chorus?"))
        await telegram.fake.wait_for("sendMessage", count=2, timeout=15)
        services = polling.app[SERVICES]
        assert services.inbox is not None
        await services.inbox.idle()
        assert any("Chorus" in t for t in telegram.texts())
        async with services.db.read() as session:
            assert (await session.scalars(select(InboundUpdate.status))).all() == ["done"]
    finally:
        await polling.close()


async def reachable(services: Services, user_id: int) -> bool | None:
    async with services.db.read() as session:
        return await session.scalar(
            select(ChannelIdentity.reachable).where(ChannelIdentity.external_id == str(user_id))
        )


async def test_a_user_who_blocks_the_bot_is_marked_unreachable(telegram: Setup) -> None:
    await telegram.post(text_update("hello", user_id=501))
    await telegram.settle()
    assert await reachable(telegram.services, 501) is True
    await telegram.post(bot_blocked_update(user_id=501))
    await telegram.settle()
    assert await reachable(telegram.services, 501) is False
    # a send refused with 403 marks the user too, without retrying the update
    await telegram.post(text_update("hello", user_id=502))
    await telegram.settle()
    telegram.fake.blocked.add(502)
    await telegram.post(text_update("are you there?", user_id=502))
    await telegram.settle()
    assert await reachable(telegram.services, 502) is False
    async with telegram.services.db.read() as session:
        statuses = set((await session.scalars(select(InboundUpdate.status))).all())
    assert statuses == {"done"}


async def test_finished_content_is_not_pushed_to_a_user_who_blocked_the_bot(
    telegram: Setup,
) -> None:
    await telegram.post(text_update("hello", user_id=503))
    await telegram.settle()
    sent = len(telegram.fake.calls_for("sendMessage"))
    await telegram.post(bot_blocked_update(user_id=503))
    await telegram.settle()
    address = Address("demo", "telegram", "503")
    await telegram.services.outbox.send(address, [OutboundMessage(text="Your meditation")])
    assert len(telegram.fake.calls_for("sendMessage")) == sent
    await telegram.post(bot_blocked_update(user_id=503, unblocked=True))
    await telegram.settle()
    await telegram.services.outbox.send(address, [OutboundMessage(text="Your meditation")])
    assert telegram.texts()[-1] == "Your meditation"


async def test_in_groups_the_bot_answers_only_when_addressed(telegram: Setup) -> None:
    group = -1_001_234_567_890
    me = "mira_demo_bot"
    await telegram.post(group_update("anyone tried the new tea place?", bot_username=me))
    await telegram.settle()
    assert telegram.fake.calls_for("sendMessage") == []
    await telegram.post(group_update(f"@{me} what is Chorus?", bot_username=me))
    await telegram.settle()
    sent = telegram.fake.calls_for("sendMessage")
    assert sent
    assert all(c.chat_id == group for c in sent)
    assert any("Chorus" in str(c.params["text"]) for c in sent)
    before = len(sent)
    await telegram.post(
        group_update("and how do I start?", bot_username=me, reply_to_bot="Chorus is…")
    )
    await telegram.settle()
    assert len(telegram.fake.calls_for("sendMessage")) > before
    # each member has their own conversation with the bot in the group
    async with telegram.services.db.read() as session:
        senders = set((await session.scalars(select(ChannelIdentity.external_id))).all())
    assert senders == {f"{group}/{USER_ID}"}


def test_a_link_button_opens_its_page() -> None:
    markup = keyboard(
        OutboundMessage(
            text="Pay", buttons=(Button("Pay with Stripe", url="https://pay.example/cs_1"),)
        )
    )
    assert markup is not None
    (button,) = markup.inline_keyboard[0]
    assert (button.url, button.callback_data) == ("https://pay.example/cs_1", None)


async def test_the_request_id_follows_an_update_from_webhook_to_reply(telegram: Setup) -> None:
    records = Records()
    engine_log = logging.getLogger("chorus.engine")
    engine_log.addHandler(records)
    engine_log.setLevel(logging.DEBUG)
    try:
        response = await telegram.client.post(
            "/webhooks/telegram/demo",
            json=text_update("what is this?"),
            headers={SECRET_HEADER: telegram.secret, "X-Request-Id": "trace-42"},
        )
        assert response.headers["X-Request-Id"] == "trace-42"
        await telegram.settle()
    finally:
        engine_log.removeHandler(records)
        engine_log.setLevel(logging.NOTSET)
    handled = [r for r in records.records if "handled in" in r.getMessage()]
    assert [r.request_id for r in handled] == ["trace-42"]  # type: ignore[attr-defined]
    refused = await telegram.client.post(
        "/webhooks/telegram/demo", json={}, headers={"X-Request-Id": "bad id!"}
    )
    generated = refused.headers["X-Request-Id"]
    assert generated != "bad id!"
    assert len(generated) == 16
