"""Faults with several processes: Redis killed and started again, PostgreSQL dropping
every connection and refusing new ones for a while, and a web process killed with
SIGKILL in the middle of generating an answer. Each ends with every update answered
once, in order, and every credit accounted for, without restarting anything.

(A language model that hangs is answered by the fallback within the bound: see
``tests/test_core/test_ollama.py``.)"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from channels.telegram_webhook import SECRET_HEADER
from core.app import SERVICES
from core.messages import OutboundMessage
from core.outbox import Address
from core.runtime.fanout import RedisFanOut
from core.storage.models import CreditAccount, CreditHold, LedgerEntry, utcnow
from tests.fakes.ollama import FakeOllama
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import text_update
from tests.servers import REDIS_URL, Server, free_port, redis_server
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)
from tests.test_channels.test_widget_protocol import connect, hello, until

TOKEN = "7000000004:AAF-test-token-for-the-faults-tests_0123"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A Redis server of this test, which it kills and starts again."""
    server, url = redis_server(tmp_path)
    server.start()
    yield server, url
    server.stop()


def languages(fake: FakeTelegram) -> list[str]:
    """The languages the bot confirmed, in the order it sent the confirmations."""
    texts = [str(c.params["text"]) for c in fake.calls_for("sendMessage", TOKEN)]
    return [t.split("Language set to ", 1)[1].split(".", 1)[0] for t in texts if "set to" in t]


async def deliver(client: Client, bot_id: str, update: dict[str, Any], secret: str) -> None:
    """POST an update as Telegram does: again after a refusal, until it is accepted."""
    for _ in range(100):
        status = await post_update(client, bot_id, update, secret)
        if status == 200:
            return
        assert status == 503
        await asyncio.sleep(0.2)
    raise AssertionError("the update was never accepted")


async def settle(*clients: Client) -> None:
    for _ in range(3):
        for client in clients:
            await client.app[SERVICES].inbox.idle()


async def test_redis_killed_mid_run_degrades_then_recovers_without_restarts(
    aiohttp_server: AiohttpServer, tmp_path: Path, postgres_url: str, redis: tuple[Server, str]
) -> None:
    server, url = redis
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="faults_bot")
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "data",
        database_url=postgres_url,
        redis_url=url,
        user_messages_per_minute=0,
        telegram_chat_interval=0,
        speech_enabled=False,
    )
    first, second = await start(settings), await start(settings)
    for client in (first, second):
        await services_ready(client)
    bot_id = f"redis-{uuid.uuid4().hex[:6]}"
    await first.app[SERVICES].bots.create("Faults", bot_id=bot_id)
    await first.app[SERVICES].telegram.attach(bot_id, TOKEN)
    secret = fake.bots[TOKEN].webhook.secret_token or ""
    codes = [f"en-{n:04d}" for n in range(1, 31)]
    try:
        for n, code in enumerate(codes[:10]):
            update = text_update(f"/language {code}", user_id=77)
            await deliver(first if n % 2 else second, bot_id, update, secret)
        await settle(first, second)

        server.kill()  # Redis vanishes
        for n, code in enumerate(codes[10:20]):
            update = text_update(f"/language {code}", user_id=77)
            await deliver(first if n % 2 else second, bot_id, update, secret)
            await settle(first, second)  # alone, each process keeps its own order
        ready = await (await first.get("/ready")).json()
        assert ready["status"] == "degraded"
        assert ready["checks"]["redis"] == "degraded"
        assert "works alone" in ready["degraded"]["redis"]
        metrics = await (await first.get("/metrics")).text()
        assert 'chorus_redis_unavailable_total{use="lock"}' in metrics

        server.start()  # back on the same port: nothing is restarted on our side
        for n, code in enumerate(codes[20:]):
            update = text_update(f"/language {code}", user_id=77)
            await deliver(first if n % 2 else second, bot_id, update, secret)
        await settle(first, second)
        assert languages(fake) == codes  # each answered once, in order
        assert (await (await first.get("/ready")).json())["status"] == "ready"

        # fan-out listens again: a socket on the first process gets what the second sends
        fanout = first.app[SERVICES].fanout
        assert isinstance(fanout, RedisFanOut)
        await asyncio.wait_for(fanout.listening.wait(), timeout=30)
        ws = await connect(first)
        address = Address("demo", "widget", (await hello(ws))["visitor"])
        await second.app[SERVICES].outbox.send(address, [OutboundMessage(text="made on B")])
        frames = await until(ws, "reply")
        assert frames[-1]["message"]["text"] == "made on B"
        await ws.close()
    finally:
        await second.close()
        await first.close()


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """The test database reached through a proxy that can cut it off."""
    real = make_url(postgres_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    port = await proxy.start()
    yield proxy, real.set(port=port).render_as_string(hide_password=False)
    await proxy.close()


async def test_postgresql_going_away_loses_nothing_and_needs_no_restart(
    aiohttp_server: AiohttpServer, tmp_path: Path, proxy: tuple[TcpProxy, str]
) -> None:
    """Every connection drops and new ones are refused for two seconds, as in a restart,
    while updates keep arriving: the webhook answers 503 with Retry-After (Telegram sends
    the update again), updates accepted before are retried, and all are answered once, in
    order, once the database is back."""
    cutter, database_url = proxy
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="faults_bot")
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "data",
        database_url=database_url,
        user_messages_per_minute=0,
        telegram_chat_interval=0,
        speech_enabled=False,
    )
    client = await start(settings)
    try:
        await services_ready(client)
        bot_id = f"pg-{uuid.uuid4().hex[:6]}"
        await client.app[SERVICES].bots.create("Faults", bot_id=bot_id)
        await client.app[SERVICES].telegram.attach(bot_id, TOKEN)
        secret = fake.bots[TOKEN].webhook.secret_token or ""
        codes = [f"en-{n:04d}" for n in range(1, 41)]
        refusals: list[tuple[int, str, str]] = []

        async def outage() -> None:
            await asyncio.sleep(0.3)
            cutter.cut()
            response = await client.post(
                f"/webhooks/telegram/{bot_id}",
                json=text_update("/language en-9999", user_id=88),
                headers={SECRET_HEADER: secret},
            )
            problem = await response.json(content_type=None)
            refusals.append((response.status, response.headers["Retry-After"], problem["title"]))
            await asyncio.sleep(2.0)
            cutter.restore()

        down = asyncio.create_task(outage())
        for code in codes:
            await deliver(client, bot_id, text_update(f"/language {code}", user_id=88), secret)
            await asyncio.sleep(0.05)
        await down
        await settle(client)
        assert cutter.refused > 0
        assert refusals == [(503, "5", "StorageUnavailable")]
        assert languages(fake) == codes  # each once, in order; the refused one never was
        assert (await client.get("/ready")).status == 200
    finally:
        await client.close()


KNOWLEDGE = b"""# Oolong

Oolong tea is rolled and partly oxidised. Brew oolong at 90 degrees Celsius for three
minutes, and steep the same leaves five or six times.
"""
QUESTION = "How long should I brew oolong?"


async def serve(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``chorus serve`` on ``port``, once ready; its log in ``DATA_DIR/serve.log``."""
    os.makedirs(env["DATA_DIR"], exist_ok=True)
    log = os.open(Path(env["DATA_DIR"]) / "serve.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    finally:
        os.close(log)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/ready")).status == 200:
                    return process
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("chorus serve never became ready")


async def test_a_web_process_killed_mid_answer_leaves_its_update_to_another(
    aiohttp_server: AiohttpServer, tmp_path: Path, own_postgres_url: str, chroma_url: str
) -> None:
    """Two web processes on PostgreSQL, Redis and a Chroma server. The one generating an
    answer is killed with SIGKILL; once its lease on the chat's lock runs out, the other
    takes the pending update over and answers it: one reply, one question charged, and
    the dead process's hold is released when it expires."""
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="faults_bot")
    ollama = FakeOllama(hang=0)  # the first process's model never answers
    model = await aiohttp_server(ollama.app())
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "b",
        database_url=own_postgres_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        chroma_url=chroma_url,
        lock_lease_seconds=3,
        housekeeping_seconds=0.5,
        user_messages_per_minute=0,
        telegram_chat_interval=0,
        speech_enabled=False,
    )
    survivor = await start(settings)
    await services_ready(survivor)
    services = survivor.app[SERVICES]
    await services.bots.create("Oolong", bot_id="oolong")
    pricing = {"free_credits": 5, "question_cost": 1, "free_questions": 0}
    await services.bots.change_settings("oolong", pricing=pricing)
    await services.knowledge.ingest_bytes("oolong", KNOWLEDGE, "oolong.md")
    await services.telegram.attach("oolong", TOKEN)
    secret = fake.bots[TOKEN].webhook.secret_token or ""
    port = free_port()
    doomed = await serve(
        port,
        {
            **os.environ,
            "DATA_DIR": str(tmp_path / "a"),
            "DATABASE_URL": own_postgres_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
            "CHROMA_URL": chroma_url,
            "TELEGRAM_API_BASE": settings.telegram_api_base,
            "PUBLIC_BASE_URL": settings.public_base_url,
            "OLLAMA_HOST": str(model.make_url("")).rstrip("/"),
            "OLLAMA_FIRST_TOKEN_TIMEOUT": "300",
            "OLLAMA_TOTAL_TIMEOUT": "600",
            "LOCK_LEASE_SECONDS": "3",
            "USER_MESSAGES_PER_MINUTE": "0",
            "TELEGRAM_CHAT_INTERVAL": "0",
            "SPEECH_ENABLED": "false",
        },
    )
    try:
        await deliver(survivor, "oolong", text_update("hello", user_id=99), secret)
        await settle(survivor)  # the user's account opens with 5 credits
        greeted = len(fake.calls_for("sendMessage", TOKEN))
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/webhooks/telegram/oolong",
                json=text_update(QUESTION, user_id=99),
                headers={SECRET_HEADER: secret},
            )
            assert response.status == 200
        await asyncio.wait_for(ollama.chatted.wait(), timeout=60)
        doomed.send_signal(signal.SIGKILL)  # mid-answer
        await doomed.wait()
        await fake.wait_for("sendMessage", greeted + 1, timeout=60, token=TOKEN)
        await asyncio.sleep(1.5)  # two more sweeps: nothing is answered twice
        await settle(survivor)
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    answers = [str(c.params["text"]) for c in fake.calls_for("sendMessage", TOKEN)[greeted:]]
    assert len(answers) == 1
    assert "three" in answers[0]
    assert "minutes" in answers[0]

    async with services.db.read() as session:
        holds = (await session.scalars(select(CreditHold))).all()
        kinds = list(await session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.id)))
    assert sorted(h.status for h in holds) == ["captured", "open"]  # the dead one's is open
    assert kinds.count("capture") == 1
    async with services.db.transaction() as session:
        await session.execute(
            update(CreditHold)
            .where(CreditHold.status == "open")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await services.credits.ledger.expire() == 1
    async with services.db.read() as session:
        accounts = (await session.scalars(select(CreditAccount))).all()
    assert [a.balance for a in accounts] == [4]  # one question charged, once
    await survivor.close()
