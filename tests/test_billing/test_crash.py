"""A real server killed (SIGKILL) between reserving a job's credits and capturing them:
the hold expires and is released, the job is given up, and the user is not charged."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select, update

from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import ContentJob, CreditHold, utcnow
from tests.fakes.ollama import FakeOllama
from tests.servers import free_port

PRICING = {"free_credits": 5, "costs": {"ritual": 3}}
STEPS = ("hello", "/create ritual", "calm", "evening", "tired", "5", "text only")


async def say(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, str]) -> None:
    """Send a frame and wait for the first reply to it."""
    await ws.send_json(frame)
    async with asyncio.timeout(60):
        while True:
            got = json.loads((await ws.receive()).data)
            if got.get("type") == "reply" and got.get("reply_to") == frame["id"]:
                return


async def balance(services: Services, sender: str) -> int:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", "widget", sender)
    assert party is not None
    bot = await services.bots.get("demo")
    wallet = services.credits.wallet(bot, party.end_user_id, "widget", sender)
    return await wallet.balance()


async def test_a_server_killed_mid_job_charges_nothing(
    tmp_path: Path, aiohttp_server: AiohttpServer
) -> None:
    settings = Settings(data_dir=tmp_path / "data", speech_enabled=False)
    setup = build_services(settings)
    await prepare(setup)
    await setup.bots.change_settings("demo", pricing=PRICING)
    await close(setup)

    ollama = FakeOllama(hang=0)  # the model never answers: the job stays mid-way
    model = await aiohttp_server(ollama.app())
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "SPEECH_ENABLED": "false",
        "OLLAMA_HOST": str(model.make_url("")).rstrip("/"),
        "OLLAMA_FIRST_TOKEN_TIMEOUT": "300",
        "OLLAMA_TOTAL_TIMEOUT": "600",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{base}/ready")).status == 200:
                        break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            async with http.ws_connect(f"{base}/ws/widget/demo") as ws:
                await ws.send_json({"type": "hello"})
                welcome = json.loads((await ws.receive()).data)
                visitor = welcome["visitor"]
                for n, step in enumerate(STEPS):
                    await say(ws, {"type": "message", "id": f"c-{n}", "text": step})
                await say(ws, {"type": "button", "id": "c-go", "payload": "flow:confirm"})
                # the job is writing the script when the server dies
                await asyncio.wait_for(ollama.chatted.wait(), timeout=60)
        server.send_signal(signal.SIGKILL)
        await server.wait()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()

    restarted = build_services(settings)
    try:
        async with restarted.db.read() as session:
            (job,) = (await session.scalars(select(ContentJob))).all()
            (held,) = (await session.scalars(select(CreditHold))).all()
        assert (job.status, held.status) == ("running", "open")
        assert await balance(restarted, visitor) == 2  # 3 of 5 held when it died
        # it stays down past the hold's expiry
        late = utcnow() - restarted.credits.ledger.hold_ttl - timedelta(minutes=1)
        async with restarted.db.transaction() as session:
            await session.execute(update(CreditHold).values(expires_at=late))
            await session.execute(update(ContentJob).values(created_at=late))
        await prepare(restarted)
        await restarted.studio.idle()
        async with restarted.db.read() as session:
            job = await session.get(ContentJob, job.id, populate_existing=True)
            held = await session.get(CreditHold, held.id, populate_existing=True)
        assert job is not None
        assert held is not None
        assert (job.status, held.status) == ("failed", "released")
        assert await balance(restarted, visitor) == 5
    finally:
        await close(restarted)
