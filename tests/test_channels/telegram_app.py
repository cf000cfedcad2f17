"""The real application started against the fake Bot API, for the Telegram tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpServer
from sqlalchemy import func, select

from core.app import create_app
from core.services import Services
from core.settings import Settings
from core.storage.models import InboundUpdate
from tests.fakes.telegram_api import FakeTelegram

Client = TestClient[web.Request, web.Application]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def settings_for(
    fake: FakeTelegram, aiohttp_server: AiohttpServer, data_dir: Path, **values: Any
) -> Settings:
    """Settings pointing the app at ``fake``, served on a local port, and ``data_dir``."""
    server = await aiohttp_server(fake.app())
    return Settings(
        data_dir=data_dir,
        telegram_api_base=str(server.make_url("")).rstrip("/"),
        public_base_url="https://chorus.example",
        **values,
    )


async def start(settings: Settings) -> Client:
    """The app on a local port (not yet ready: see :func:`services_ready`)."""
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


async def services_ready(client: Client) -> None:
    """Wait (up to a minute) until ``/ready`` answers 200: the schema is ready, and what
    start-up loads in the background (the vector store, the embedding model, the demo
    bot's notes) has loaded."""
    for _ in range(1200):
        if (await client.get("/ready")).status == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the server never became ready")


async def post_update(client: Client, bot_id: str, update: dict[str, Any], secret: str) -> int:
    """POST an update to a bot's webhook with a secret; returns the HTTP status."""
    response = await client.post(
        f"/webhooks/telegram/{bot_id}", json=update, headers={SECRET_HEADER: secret}
    )
    return response.status


async def stored_updates(services: Services) -> int:
    """How many updates the inbox holds."""
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundUpdate)) or 0)
