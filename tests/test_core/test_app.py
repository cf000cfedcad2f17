"""The web application's operational endpoints, through a real aiohttp test client."""

from __future__ import annotations

import asyncio
import re
import threading
from http import HTTPStatus
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from core.app import SERVICES, create_app
from core.settings import Settings
from tests.chat import Chat
from tests.test_channels.telegram_app import services_ready


async def _failed_connections_finished() -> None:
    """Wait for aiosqlite's worker threads of connections that failed to open.

    aiosqlite stops such a thread without waiting for it; if the event loop closes first,
    the thread's last callback raises in the next test instead of this one.
    """
    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    await asyncio.to_thread(lambda: [t.join(5) for t in workers])
    await asyncio.sleep(0.01)  # let the threads' final callbacks run on this loop


async def test_health_and_ready(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    # until what loads in the background has loaded, /ready says what it is waiting for
    while (response := await client.get("/ready")).status != 200:
        assert response.status == 503
        assert set((await response.json())["failing"]) == {"startup"}
        await asyncio.sleep(0.05)
    assert (await response.json())["checks"]["database"] == "ok"


async def test_ready_names_the_database_when_it_is_down(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    down = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing", data_dir=tmp_path
    )
    client = await aiohttp_client(create_app(down))
    assert (await client.get("/health")).status == 200
    response = await client.get("/ready")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert "database" in body["failing"]


async def test_ready_fails_when_the_sqlite_file_cannot_be_opened(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    broken = Settings(
        database_url=f"sqlite+aiosqlite:///{blocker}/sub/chorus.db", data_dir=tmp_path
    )
    client = await aiohttp_client(create_app(broken))
    response = await client.get("/ready")
    assert response.status == 503
    assert "database" in (await response.json())["failing"]
    await _failed_connections_finished()


async def test_metrics_count_messages_by_channel_and_state(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await services_ready(client)
    chat = Chat(app[SERVICES].engine)
    await chat.say("/start")
    await chat.say("/create meditation")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    body = await response.text()
    assert 'chorus_messages_total{channel="terminal",direction="in",state="greeting"} 1.0' in body
    assert (
        'chorus_messages_total{channel="terminal",direction="in",state="context_gathering"} 1.0'
    ) in body
    assert 'chorus_handle_seconds_count{channel="terminal"} 2.0' in body
    assert 'chorus_state_transitions_total{event="choose"} 1.0' in body


async def test_metrics_time_retrieval_and_answers_count_refused_webhooks_and_jobs(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await services_ready(client)
    services = app[SERVICES]
    # PostgreSQL keeps what other tests did: other chats, and prices on the demo bot
    await services.bots.change_settings("demo", pricing=None)
    chat = Chat(services.engine, sender_id="asks-once")
    await chat.say("How do I breathe when I feel anxious?")
    for step in ("/create ritual", "calm", "evening", "tired", "5", "text only", "yes"):
        await chat.say(step)
    await services.studio.idle()
    refused = await client.post("/webhooks/telegram/demo", json={})
    assert refused.status in (401, 403, 404)
    body = await (await client.get("/metrics")).text()
    assert "chorus_retrieval_seconds_count 1.0" in body
    # (on PostgreSQL, jobs other tests left unfinished are resumed and counted too)
    made = re.search(r'chorus_generation_seconds_count\{kind="content"\} ([0-9.]+)', body)
    assert made is not None
    assert float(made.group(1)) >= 1
    reason = HTTPStatus(refused.status).phrase.lower().replace(" ", "_")
    assert (
        "chorus_webhook_rejections_total"
        f'{{channel="telegram",reason="{reason}",status="{refused.status}"}} 1.0' in body
    )
    assert 'chorus_content_jobs{status="queued"}' in body
    assert "chorus_oldest_unfinished_job_seconds" in body


async def test_unknown_route_is_404(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/nope")).status == 404
