"""A creator's agent on every channel, for end-to-end tests: the real app runs against
the fake Bot API (the manager bot and the creator's own bot) and the fake Twilio
Messages API (the agent's WhatsApp number). Cleo makes Green Tea Coach in the manager
bot and puts it on Telegram and WhatsApp; Ben writes to it on Telegram, Ada on
WhatsApp, through the real, signed webhooks; what reaches them is read at the fakes.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpServer

from core.conversation.statemachine import State
from core.services import SERVICES, Services
from core.storage import repository as repo
from core.storage.models import EndUser
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    USER_NUMBER,
    sign,
    text_message,
)
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)

MANAGER_TOKEN = "6000000001:AAH-manager-token-of-the-platform-00000"
COACH_TOKEN = "7100000001:AAE-token-of-the-creators-own-bot-000000"
CREATOR = 3_001  # Cleo, who made Green Tea Coach
TELEGRAM_USER = 4_001  # Ben, on Green Tea Coach's Telegram bot
BOT = "green-tea-coach"
PUBLIC = "https://chorus.example"


@dataclass
class Platform:
    telegram: FakeTelegram
    twilio: FakeTwilio
    client: Client
    model: FakeOllama | None = None  # the agent's language model, when it has one

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]

    async def manager(
        self, text: str, creator: int = CREATOR, name: str = "Cleo", language: str = "en"
    ) -> list[str]:
        """A creator's message to the manager bot, from a Telegram app in ``language``;
        what it sent that creator meanwhile."""
        before = len(self.to_creator(creator))
        update = text_update(text, user_id=creator, first_name=name)
        update["message"]["from"]["language_code"] = language
        self.telegram.remember(MANAGER_TOKEN, update)
        secret = self.telegram.bots[MANAGER_TOKEN].webhook.secret_token or ""
        assert await post_update(self.client, "manager", update, secret) == 200
        await self.settle()
        return self.to_creator(creator)[before:]

    async def ben(self, text: str) -> list[str]:
        """The Telegram user's message to the agent's bot; what that bot sent him meanwhile."""
        before = len(self.to_ben())
        secret = self.telegram.bots[COACH_TOKEN].webhook.secret_token or ""
        update = text_update(text, user_id=TELEGRAM_USER, first_name="Ben")
        assert await post_update(self.client, BOT, update, secret) == 200
        await self.settle()
        return self.to_ben()[before:]

    async def ada(self, text: str) -> list[str]:
        """The WhatsApp user's message to the agent's number; what she was sent meanwhile."""
        before = len(self.to_ada())
        form = text_message(text)
        path = f"/webhooks/whatsapp/{BOT}"
        signature = sign(PUBLIC + path, form, AUTH_TOKEN)
        response = await self.client.post(
            path, data=form, headers={"X-Twilio-Signature": signature}
        )
        assert response.status == 200
        await self.settle()
        return self.to_ada()[before:]

    def to_creator(self, creator: int = CREATOR) -> list[str]:
        return _texts(self.telegram, MANAGER_TOKEN, creator)

    def to_ben(self) -> list[str]:
        return _texts(self.telegram, COACH_TOKEN, TELEGRAM_USER)

    def to_ada(self) -> list[str]:
        return [
            c.params.get("Body", "")
            for c in self.twilio.calls_for()
            if c.status == 201 and c.params.get("To") == f"whatsapp:{USER_NUMBER}"
        ]

    async def user(self, channel: str, sender_id: str) -> EndUser:
        """The agent's end user behind a channel identity, as stored."""
        async with self.services.db.read() as session:
            party = await repo.find_party(session, BOT, channel, sender_id)
            assert party is not None
            found = await session.get(EndUser, party.end_user_id)
        assert found is not None
        return found

    async def state_of(self, channel: str, sender_id: str) -> State:
        async with self.services.db.read() as session:
            party = await repo.find_party(session, BOT, channel, sender_id)
        assert party is not None
        return State(party.state)

    async def settle(self) -> None:
        for _ in range(2):
            await self.services.inbox.idle()
            await self.services.jobs.idle()


@contextlib.asynccontextmanager
async def green_tea_coach(
    aiohttp_server: AiohttpServer,
    data_dir: Path,
    model: FakeOllama | None = None,
    **values: Any,
) -> AsyncIterator[Platform]:
    """The app started with ``values`` as settings (and ``model`` as its language model),
    and Cleo's Green Tea Coach on its own Telegram bot and on a WhatsApp number."""
    telegram = FakeTelegram()
    telegram.add_bot(MANAGER_TOKEN, username="chorus_manager_bot")
    telegram.add_bot(COACH_TOKEN, username="green_tea_coach_bot")
    twilio = FakeTwilio()
    twilio.base_url = str((await aiohttp_server(twilio.app())).make_url("")).rstrip("/")
    if model is not None:
        values["ollama_host"] = str((await aiohttp_server(model.app())).make_url("")).rstrip("/")
    settings = await settings_for(
        telegram,
        aiohttp_server,
        data_dir,
        telegram_bot_token=MANAGER_TOKEN,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=twilio.base_url,
        speech_enabled=False,
        telegram_chat_interval=0,
        user_messages_per_minute=0,
        **values,
    )
    client = await start(settings)
    try:
        await services_ready(client)
        await telegram.wait_for("setMyCommands", token=MANAGER_TOKEN, timeout=10)
        platform = Platform(telegram, twilio, client, model)
        assert (
            "ready (id green-tea-coach)" in (await platform.manager("/newbot Green Tea Coach"))[0]
        )
        assert "@green_tea_coach_bot" in (await platform.manager(f"/token {COACH_TOKEN}"))[0]
        assert BUSINESS_NUMBER in (await platform.manager(f"/whatsapp {BUSINESS_NUMBER}"))[0]
        yield platform
    finally:
        await client.close()


def _texts(fake: FakeTelegram, token: str, chat: int) -> list[str]:
    return [
        html.unescape(str(c.params["text"]))
        for c in fake.calls_for("sendMessage", token)
        if str(c.chat_id) == str(chat) and c.status == 200
    ]
