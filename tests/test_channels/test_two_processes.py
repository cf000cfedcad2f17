"""Two web processes sharing PostgreSQL and Redis behind one Telegram bot: one
conversation's updates, spread over both, are answered in order, and an update delivered
to both is answered once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer

from core.app import SERVICES
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.servers import REDIS_URL
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)

TOKEN = "7000000002:AAF-test-token-for-two-processes_01234"
MESSAGES = 200


@pytest.fixture
async def pair(
    aiohttp_server: AiohttpServer, tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[FakeTelegram, Client, Client, str]]:
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="two_processes_bot")
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "data",
        database_url=postgres_url,
        redis_url=REDIS_URL,
        redis_prefix=f"test-{uuid.uuid4().hex[:10]}",
        user_messages_per_minute=0,  # one user writes 200 messages on purpose
        telegram_messages_per_second=1000,
        telegram_chat_interval=0,
        speech_enabled=False,
    )
    first = await start(settings)
    await services_ready(first)
    second = await start(settings)
    await services_ready(second)
    bot_id = f"two-{uuid.uuid4().hex[:6]}"  # PostgreSQL keeps other tests' bots
    await first.app[SERVICES].bots.create("Two", bot_id=bot_id)
    await first.app[SERVICES].telegram.attach(bot_id, TOKEN)
    secret = fake.bots[TOKEN].webhook.secret_token
    assert secret
    yield fake, first, second, secret
    await second.close()
    await first.close()


async def settle(*clients: Client) -> None:
    for _ in range(3):
        for client in clients:
            await client.app[SERVICES].inbox.idle()


async def test_one_conversation_spread_over_two_processes_is_answered_in_order(
    pair: tuple[FakeTelegram, Client, Client, str],
) -> None:
    fake, first, second, secret = pair
    bot_id = fake.bots[TOKEN].webhook.url.rsplit("/", 1)[-1]
    codes = [f"en-{n:04d}" for n in range(1, MESSAGES + 1)]
    for n, code in enumerate(codes):
        process = first if n % 2 == 0 else second
        update = text_update(f"/language {code}", user_id=4242)
        assert await post_update(process, bot_id, update, secret) == 200
    await fake.wait_for("sendMessage", MESSAGES, timeout=120)
    await settle(first, second)
    texts = [str(c.params["text"]) for c in fake.calls_for("sendMessage", TOKEN)]
    answered = [t.split("Language set to ", 1)[1].split(".", 1)[0] for t in texts if "set to" in t]
    assert answered == codes


async def test_the_same_update_delivered_to_both_processes_is_answered_once(
    pair: tuple[FakeTelegram, Client, Client, str],
) -> None:
    fake, first, second, secret = pair
    bot_id = fake.bots[TOKEN].webhook.url.rsplit("/", 1)[-1]
    update = text_update("/language en-9999", user_id=4343)
    statuses = await asyncio.gather(
        post_update(first, bot_id, update, secret), post_update(second, bot_id, update, secret)
    )
    assert statuses == [200, 200]
    await settle(first, second)
    await asyncio.sleep(0.2)
    await settle(first, second)
    replies = [c for c in fake.calls_for("sendMessage", TOKEN) if "en-9999" in str(c.params)]
    assert len(replies) == 1
