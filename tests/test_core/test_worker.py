"""Jobs on the Redis queue: the web process queues a confirmed content job, a real
``chorus worker`` process runs it, and the visitor's widget socket on the web process
receives the result through Redis. A worker killed mid-job leaves the job queued; the
next worker finishes it, once."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import func, select

from core.app import SERVICES
from core.runtime.jobs import QueuedJobs
from core.settings import Settings
from core.storage.models import ContentItem, ContentJob, DocumentJob
from knowledge.indexing import VectorIndexer
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import document_update, text_update
from tests.servers import REDIS_URL
from tests.test_channels.telegram_app import (
    Client,
    post_update,
    services_ready,
    settings_for,
    start,
)
from tests.test_channels.test_widget_protocol import answered, connect, hello, until
from tests.test_knowledge.loader_samples import text_pdf

CREATOR = 515151
RITUAL = ("/create ritual", "calm", "evening", "tired", "5", "text only")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        speech_enabled=False,
        redis_url=REDIS_URL,
        redis_prefix=f"test-{uuid.uuid4().hex[:10]}",
        job_timeout_seconds=5,
    )


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[Client]:
    client = await start(settings)
    await services_ready(client)
    yield client
    await client.close()


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "SPEECH_ENABLED": "false",
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": settings.redis_prefix,
        "JOB_TIMEOUT_SECONDS": str(settings.job_timeout_seconds),
        **extra,
    }


async def worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    """``chorus worker``, its log appended to ``DATA_DIR/worker.log``."""
    log = os.open(Path(env["DATA_DIR"]) / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core", "worker",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    finally:
        os.close(log)


async def stop(process: asyncio.subprocess.Process, how: int = signal.SIGTERM) -> None:
    if process.returncode is None:
        process.send_signal(how)
        await asyncio.wait_for(process.wait(), timeout=30)


async def confirm_ritual(web: Client) -> tuple[Any, list[dict[str, Any]]]:
    """A visitor walks the ritual flow and presses Create; the socket and its frames."""
    ws = await connect(web)
    await hello(ws)
    for n, step in enumerate(RITUAL):
        await ws.send_json({"type": "message", "id": f"c-{n}", "text": step})
        await answered(ws)
    await ws.send_json({"type": "button", "id": "c-go", "payload": "flow:confirm"})
    return ws, await answered(ws)


async def job_done(web: Client, timeout: float) -> ContentJob:  # noqa: ASYNC109
    """The content job, once a worker finished it."""
    async with asyncio.timeout(timeout):
        while True:
            async with web.app[SERVICES].db.read() as session:
                jobs = (await session.scalars(select(ContentJob))).all()
            if jobs and jobs[0].status == "done":
                return jobs[0]
            await asyncio.sleep(0.2)


async def count(web: Client, model: Any) -> int:
    async with web.app[SERVICES].db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_worker_process_runs_the_job_and_the_widget_gets_the_result(
    web: Client, settings: Settings
) -> None:
    services = web.app[SERVICES]
    assert isinstance(services.jobs, QueuedJobs)
    ws, frames = await confirm_ritual(web)
    assert any("Writing your ritual" in str(f) for f in frames)
    # queued, not run by the web process (after the demo notes' vectors)
    assert await services.jobs.depth() == 2
    assert await count(web, ContentItem) == 0
    process = await worker(environment(settings))
    try:
        async with asyncio.timeout(60):
            delivered = await until(ws, "reply")
            while "5-minute" not in delivered[-1]["message"]["text"]:
                delivered = await until(ws, "reply")
        assert await count(web, ContentItem) == 1
        async with asyncio.timeout(60):  # the demo notes' vectors may still be computed
            await until_true(lambda: services.jobs.depth(), want=0)
    finally:
        await stop(process)
        await ws.close()


async def test_a_killed_worker_leaves_the_job_for_the_next_one(
    web: Client, settings: Settings, aiohttp_server: AiohttpServer
) -> None:
    ollama = FakeOllama(hang=0)  # the first worker's model never answers
    model = await aiohttp_server(ollama.app())
    stuck = await worker(
        environment(
            settings,
            OLLAMA_HOST=str(model.make_url("")).rstrip("/"),
            OLLAMA_FIRST_TOKEN_TIMEOUT="300",
            OLLAMA_TOTAL_TIMEOUT="600",
        )
    )
    ws, _ = await confirm_ritual(web)
    try:
        await asyncio.wait_for(ollama.chatted.wait(), timeout=60)
        await stop(stuck, signal.SIGKILL)
        fresh = await worker(environment(settings))  # writes with the built-in composer
        try:
            # the killed worker's mark on the job expires after JOB_TIMEOUT_SECONDS + 10 s
            job = await job_done(web, timeout=90)
            delivered = await until(ws, "reply")
            while "5-minute" not in delivered[-1]["message"]["text"]:
                delivered = await until(ws, "reply")
        finally:
            await stop(fresh)
        assert job.attempts == 2
        assert await count(web, ContentItem) == 1
    finally:
        await stop(stuck, signal.SIGKILL)
        await ws.close()


async def until_true(read: Callable[[], Awaitable[int]], want: int) -> None:
    """Poll ``read`` until it gives ``want`` (the caller bounds the wait)."""
    for _ in itertools.count():
        if await read() == want:
            return
        await asyncio.sleep(0.2)


async def pending(indexer: VectorIndexer, bot_id: str) -> int:
    return (await indexer.state(bot_id)).pending


MANAGER_TOKEN = "7000000003:AAF-test-token-for-the-worker-manager_0"


async def test_a_document_sent_to_the_manager_bot_is_learned_by_the_worker(
    aiohttp_server: AiohttpServer, tmp_path: Path, chroma_url: str
) -> None:
    """The web process stores and queues the document; the worker reads it from Telegram,
    learns it into the shared Chroma server and tells the creator's chat how it goes."""
    fake = FakeTelegram()
    fake.add_bot(MANAGER_TOKEN, username="chorus_manager_bot")
    settings = await settings_for(
        fake,
        aiohttp_server,
        tmp_path / "data",
        telegram_bot_token=MANAGER_TOKEN,
        chroma_url=chroma_url,
        speech_enabled=False,
        redis_url=REDIS_URL,
        redis_prefix=f"test-{uuid.uuid4().hex[:10]}",
    )
    web = await start(settings)
    await services_ready(web)
    services = web.app[SERVICES]
    await fake.wait_for("setWebhook", 1, timeout=30)
    secret = fake.bots[MANAGER_TOKEN].webhook.secret_token or ""

    async def tell(update: dict[str, Any]) -> None:
        fake.remember(MANAGER_TOKEN, update)
        assert await post_update(web, "manager", update, secret) == 200
        await services.inbox.idle()

    await tell(text_update("/newbot Tea Notes", user_id=CREATOR))
    pdf = text_pdf([[f"Oolong is rolled and oxidised, note {n}."] for n in range(12)])
    stored = fake.add_file(None, pdf, file_name="oolong.pdf", mime_type="application/pdf")
    await tell(
        document_update(
            user_id=CREATOR, file_id=stored.file_id, file_name="oolong.pdf", file_size=len(pdf)
        )
    )
    # stored and queued, after the demo notes' vectors; the web process waits
    assert await services.jobs.depth() == 2
    before = len(fake.calls_for("sendMessage", MANAGER_TOKEN))
    env = environment(
        settings,
        TELEGRAM_BOT_TOKEN=MANAGER_TOKEN,
        TELEGRAM_API_BASE=settings.telegram_api_base,
        PUBLIC_BASE_URL=settings.public_base_url,
        CHROMA_URL=chroma_url,
    )
    process = await worker(env)
    try:
        expected = before
        while not any("Learned" in t for t in sent_texts(fake, before)):
            expected += 1
            await fake.wait_for("sendMessage", expected, timeout=120, token=MANAGER_TOKEN)
        # the document's vectors, a job of their own the worker queued and runs next
        indexer = services.indexer
        assert indexer is not None
        async with asyncio.timeout(120):
            await until_true(lambda: pending(indexer, "tea-notes"), want=0)
    finally:
        await stop(process)
    texts = sent_texts(fake, before)
    assert texts[0] == "Reading oolong.pdf…"
    assert "Learned “oolong”, 12 pages" in texts[-1]
    async with services.db.read() as session:
        (job,) = (await session.scalars(select(DocumentJob))).all()
    assert (job.status, job.attempts) == ("done", 1)
    found = await services.retriever.explain("tea-notes", "How is oolong made?")
    assert "Oolong" in found[0].chunk.text  # the web process sees what the worker learned
    assert found[0].relevant
    assert found[0].dense is not None  # with the vectors the worker computed
    await web.close()


def sent_texts(fake: FakeTelegram, since: int) -> list[str]:
    return [str(c.params["text"]) for c in fake.calls_for("sendMessage", MANAGER_TOKEN)[since:]]
