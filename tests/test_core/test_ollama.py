"""Text generation through Ollama, against tests/fakes/ollama.py: what only its protocol
has (what test_model_servers.py runs against every server is not repeated here), and the
fallback to the grounded composer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ollama import AsyncClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from core.app import create_app
from core.errors import GeneratorUnavailable
from core.generation.composer import GroundedComposer
from core.generation.fallback import FallbackGenerator
from core.generation.ollama import OllamaGenerator
from core.generation.seams import Answer, AnswerRequest, ContentRequest, GeneratedContent
from core.services import build_services, close, prepare
from core.settings import Settings
from tests.chat import chat_with
from tests.chatmodels import (
    REQUEST,
    USER_BOUND,
    closed_url,
    collect,
    composer_answer,
    degraded_llm,
    generators,
    timed,
)
from tests.fakes.ollama import FakeOllama
from tests.test_channels.telegram_app import services_ready

Make = Callable[..., OllamaGenerator]


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
async def host(fake: FakeOllama, aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def closed_host() -> str:
    return closed_url()


@pytest.fixture
async def make(host: str) -> AsyncIterator[Make]:
    """Generators on the fake (short timeouts unless a test asks), closed afterwards."""
    async for build in generators(OllamaGenerator, host=host):
        yield build


# --- the exchange --------------------------------------------------------------------------


async def test_the_request_is_a_streamed_chat_carrying_the_prompt(
    make: Make, fake: FakeOllama
) -> None:
    await make().answer(REQUEST)

    [body] = fake.chat_requests
    assert body["model"] == "llama3.2"
    assert body["stream"] is True
    assert body["options"]["num_predict"] == 512
    system, question = body["messages"][0], body["messages"][-1]
    assert system["role"] == "system"
    assert system["content"].startswith("You are Mira.\nA gentle breathing teacher.")
    assert question["role"] == "user"
    assert '<passage n="1" title="Breathing" page="2">' in question["content"]
    assert '<passage n="3" title="Sleep notes">' in question["content"]
    assert question["content"].endswith("<question>\nHow do I breathe in slowly?\n</question>")


async def test_the_fake_also_answers_unstreamed(host: str, fake: FakeOllama) -> None:
    client = AsyncClient(host=host)
    try:
        response = await client.chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=False
        )
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    assert response.message.content == fake.reply
    assert response.done is True
    assert response.done_reason == "stop"
    assert response.eval_count == len(fake.reply_chunks())


async def test_an_unknown_model_says_how_to_pull_it(make: Make, fake: FakeOllama) -> None:
    generator = make(model="mistral")

    with pytest.raises(GeneratorUnavailable, match=r"model mistral not found .*ollama pull"):
        await generator.answer(REQUEST)
    assert "ollama pull mistral" in (await generator.check() or "")
    assert len(fake.chat_requests) == 1


async def test_check_names_an_absent_server(make: Make, closed_host: str) -> None:
    reason = await make(host=f"http://user:secret@{closed_host[7:]}").check()
    assert reason is not None
    assert "cannot connect" in reason
    assert "secret" not in reason


# --- the fallback --------------------------------------------------------------------------


async def test_with_default_settings_a_slow_first_token_falls_back_within_the_bound(
    host: str, fake: FakeOllama, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.chat_delay = 30.0
    settings = Settings(
        ollama_host=host,
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'chorus.db'}",
    )
    services = build_services(settings)
    try:
        assert isinstance(services.generator, FallbackGenerator)
        with caplog.at_level(logging.WARNING, logger="chorus.generation"):
            answer, elapsed = await timed(services.generator.answer(REQUEST))
    finally:
        await close(services)

    assert answer == await composer_answer()
    assert elapsed < USER_BOUND
    assert len(fake.chat_requests) == 1
    assert "no first token" in caplog.text
    assert "used the fallback" in caplog.text


class Exploding(GroundedComposer):
    """A primary with a bug rather than an outage."""

    async def answer(self, request: AnswerRequest) -> Answer:
        raise RuntimeError("bug in the primary")

    async def compose(self, request: ContentRequest) -> GeneratedContent:
        raise RuntimeError("bug in the primary")


async def test_any_error_of_the_primary_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    generator = FallbackGenerator(Exploding(), GroundedComposer())

    with caplog.at_level(logging.WARNING, logger="chorus.generation"):
        answer = await generator.answer(REQUEST)

    assert answer == await composer_answer()
    [record] = caplog.records
    assert record.name == "chorus.generation"
    assert record.levelno == logging.WARNING
    assert "RuntimeError: bug in the primary" in record.getMessage()


async def test_the_composer_streams_its_answer_sentence_by_sentence() -> None:
    deltas = await collect(GroundedComposer().stream_answer(REQUEST))
    assert "".join(deltas) == (await composer_answer()).text
    assert all(delta.rstrip().endswith("]") for delta in deltas)


# --- readiness -----------------------------------------------------------------------------


async def test_ready_reports_a_healthy_llm(
    aiohttp_client: AiohttpClient, settings: Settings, host: str
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"ollama_host": host})))
    await services_ready(client)

    response = await client.get("/ready")

    assert response.status == 200
    body = await response.json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "vector_store": "ok", "llm": "ok"},
    }


async def test_ready_shows_a_failing_llm_as_degraded_but_stays_ready(
    aiohttp_client: AiohttpClient, settings: Settings, host: str, fake: FakeOllama
) -> None:
    fake.chat_models = set()  # the model was never pulled
    client = await aiohttp_client(create_app(settings.model_copy(update={"ollama_host": host})))
    await services_ready(client)

    assert "ollama pull llama3.2" in await degraded_llm(client)


async def test_ready_without_an_llm_does_not_mention_one(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    await services_ready(client)
    body = await (await client.get("/ready")).json()
    assert "llm" not in body["checks"]


async def test_the_engine_sends_earlier_turns_with_a_question(
    fake: FakeOllama, host: str, tmp_path: Path
) -> None:
    fake.reply = "Breathe out for longer than you breathe in [1]."
    services = build_services(Settings(data_dir=tmp_path, ollama_host=host))
    try:
        await prepare(services)
        chat = chat_with(services)
        await chat.say("How should I breathe when I feel anxious?")
        assert "longer than you breathe in [1]" in chat.text
        assert chat.last[-1].sources  # the cited passage is kept as a source
        await chat.say("And what about before sleep?")
    finally:
        await close(services)
    first, second = fake.chat_requests[-2:]
    assert "feel anxious" not in str(first["messages"][:-1])
    earlier = str(second["messages"])
    assert "How should I breathe when I feel anxious?" in earlier
    assert "longer than you breathe in" in earlier
    assert "what about before sleep" in second["messages"][-1]["content"]
