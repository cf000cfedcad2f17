"""Text generation through Ollama, against tests/fakes/ollama.py, and the fallback to the
grounded composer when the model is refused, slow, silent, garbled or shut off."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ollama import AsyncClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from core.app import create_app
from core.errors import GeneratorUnavailable
from core.generation.composer import GroundedComposer
from core.generation.fallback import INTERRUPTED_NOTE, FallbackGenerator
from core.generation.ollama import OllamaGenerator
from core.generation.seams import Answer, AnswerRequest, ContentRequest, GeneratedContent
from core.runtime.breaker import BreakerState, CircuitBreaker
from core.services import build_services, close, prepare
from core.settings import Settings
from tests.chat import chat_with
from tests.chatmodels import (
    CONTENT,
    PASSAGES,
    REQUEST,
    SCRIPT,
    USER_BOUND,
    closed_url,
    collect,
    composer_answer,
    degraded_llm,
    generators,
    timed,
)
from tests.clock import Clock
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


async def test_stream_answer_yields_the_models_deltas_in_order(
    make: Make, fake: FakeOllama
) -> None:
    fake.chunk_delay = 0.02
    sent_when_first_arrived: list[int] = []
    deltas = []
    async for delta in make().stream_answer(REQUEST):
        if not deltas:
            sent_when_first_arrived.append(fake.chunks_sent)
        deltas.append(delta)

    assert deltas == fake.reply_chunks()
    assert "".join(deltas) == fake.reply
    # streamed, not buffered: the first delta arrived while the server was still writing
    assert sent_when_first_arrived[0] < len(deltas)


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


async def test_answer_keeps_the_sources_it_cites(make: Make, fake: FakeOllama) -> None:
    fake.reply = "Breathe in for four counts [2]. Use the nose [2, 9]."

    answer = await make().answer(REQUEST)

    # renumbered in order of mention: the one passage cited is [1]
    assert answer.text == "Breathe in for four counts [1]. Use the nose [1]."
    assert answer.sources == (PASSAGES[1].as_source(1),)


async def test_answer_without_citations_keeps_every_source(make: Make, fake: FakeOllama) -> None:
    fake.reply = "Breathe in slowly through the nose."

    answer = await make().answer(REQUEST)

    assert answer.text == fake.reply
    assert answer.sources == tuple(p.as_source(n) for n, p in enumerate(PASSAGES, start=1))


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


async def test_a_server_error_is_unavailable_and_not_retried(make: Make, fake: FakeOllama) -> None:
    fake.chat_fail_status = 500

    with pytest.raises(GeneratorUnavailable, match="answered 500: llama runner") as caught:
        await make(retries=3).answer(REQUEST)

    assert caught.value.name == "ollama/llama3.2"
    assert len(fake.chat_requests) == 1


async def test_a_malformed_stream_is_unavailable(make: Make, fake: FakeOllama) -> None:
    fake.malformed_stream = True

    with pytest.raises(GeneratorUnavailable, match="malformed stream"):
        # a first-token clock long enough for a loaded machine: the stream is what fails
        await make(first_token_timeout=10).answer(REQUEST)
    assert len(fake.chat_requests) == 1  # partial output is never retried


async def test_a_server_that_never_answers_hits_the_first_token_timeout(
    make: Make, fake: FakeOllama
) -> None:
    fake.hang = 0

    with pytest.raises(GeneratorUnavailable, match=r"no first token .* within 0\.3 s"):
        await make(first_token_timeout=0.3).answer(REQUEST)


async def test_a_stall_mid_answer_is_unavailable(make: Make, fake: FakeOllama) -> None:
    fake.hang = 3

    with pytest.raises(GeneratorUnavailable, match=r"went silent mid-answer for 0\.2 s"):
        await make(stall_timeout=0.2).answer(REQUEST)
    assert len(fake.chat_requests) == 1


async def test_the_total_timeout_bounds_a_slow_but_steady_stream(
    make: Make, fake: FakeOllama
) -> None:
    fake.chunk_delay = 0.1  # every chunk on time, the whole too slow

    result, elapsed = await timed(
        asyncio.gather(make(total_timeout=0.35).answer(REQUEST), return_exceptions=True)
    )

    assert isinstance(result[0], GeneratorUnavailable)
    assert r"did not finish within 0.35 s" in result[0].reason
    assert elapsed < 1.0


async def test_compose_returns_the_models_script(make: Make, fake: FakeOllama) -> None:
    fake.reply = SCRIPT

    content = await make().compose(CONTENT)

    assert content.title == "Settling for sleep"
    assert content.text.splitlines()[:2] == ["Welcome. Let the day go.", "(pause 20 seconds)"]
    [body] = fake.chat_requests
    assert '"(pause N seconds)"' in body["messages"][0]["content"]
    assert body["options"]["num_predict"] == 2048


async def test_compose_refuses_output_that_is_not_a_script(make: Make, fake: FakeOllama) -> None:
    fake.reply = "Sure! I would love to help you with that."

    with pytest.raises(GeneratorUnavailable, match="unusable script"):
        await make().compose(CONTENT)


async def test_check_is_none_when_the_model_is_pulled(make: Make) -> None:
    assert await make().check() is None


async def test_check_names_an_absent_server(make: Make, closed_host: str) -> None:
    reason = await make(host=f"http://user:secret@{closed_host[7:]}").check()
    assert reason is not None
    assert "cannot connect" in reason
    assert "secret" not in reason


# --- retries -------------------------------------------------------------------------------


async def test_a_refused_connection_is_retried_with_backoff_until_the_server_is_up(
    make: Make, fake: FakeOllama, aiohttp_server: AiohttpServer, closed_host: str
) -> None:
    generator = make(host=closed_host, retries=3, backoff=0.2, first_token_timeout=3.0)
    port = int(closed_host.rsplit(":", 1)[1])

    async def start_later() -> None:
        await asyncio.sleep(0.1)  # the first attempt is refused; the retry at 0.2 s lands
        await aiohttp_server(fake.app(), port=port)

    starting = asyncio.create_task(start_later())
    answer, elapsed = await timed(generator.answer(REQUEST))
    await starting

    assert answer.text == fake.reply
    assert len(fake.chat_requests) == 1
    assert elapsed >= 0.2


async def test_backoff_doubles_between_attempts(make: Make, closed_host: str) -> None:
    once = make(host=closed_host, retries=0, backoff=0.5)
    thrice = make(host=closed_host, retries=2, backoff=0.1, first_token_timeout=3.0)

    for generator, least, most in [(once, 0.0, 0.25), (thrice, 0.3, 1.0)]:
        start = time.perf_counter()
        with pytest.raises(GeneratorUnavailable, match="cannot connect to an Ollama server"):
            await generator.answer(REQUEST)
        assert least <= time.perf_counter() - start < most  # thrice: 0.1 s, then 0.2 s


async def test_retries_stop_at_the_first_token_deadline(make: Make, closed_host: str) -> None:
    generator = make(host=closed_host, retries=5, backoff=0.4, first_token_timeout=1.0)

    _, elapsed = await timed(asyncio.gather(generator.answer(REQUEST), return_exceptions=True))

    assert 0.4 <= elapsed < 1.0  # one retry fits; the next (0.8 s later) would not


# --- the fallback --------------------------------------------------------------------------


async def test_a_refused_connection_falls_back_at_once(closed_host: str) -> None:
    llm = OllamaGenerator(host=closed_host)  # default timeouts and one retry
    generator = FallbackGenerator(llm, GroundedComposer())
    try:
        answer, elapsed = await timed(generator.answer(REQUEST))
    finally:
        await llm.aclose()

    assert answer == await composer_answer()
    assert elapsed < 1.0


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


async def test_with_default_timeouts_a_hang_mid_answer_falls_back_within_the_bound(
    host: str, fake: FakeOllama
) -> None:
    fake.hang = 4
    llm = OllamaGenerator(host=host)
    generator = FallbackGenerator(llm, GroundedComposer())
    try:
        answer, elapsed = await timed(generator.answer(REQUEST))
    finally:
        await llm.aclose()

    assert answer == await composer_answer()
    assert elapsed < USER_BOUND
    assert len(fake.chat_requests) == 1


async def test_a_malformed_stream_falls_back(make: Make, fake: FakeOllama) -> None:
    fake.malformed_stream = True
    answer = await FallbackGenerator(make(), GroundedComposer()).answer(REQUEST)
    assert answer == await composer_answer()


async def test_a_failed_script_falls_back_to_the_composers(make: Make, fake: FakeOllama) -> None:
    fake.reply = "I cannot do that."
    content = await FallbackGenerator(make(), GroundedComposer()).compose(CONTENT)
    assert content == await GroundedComposer().compose(CONTENT)


async def test_a_stream_failing_before_its_first_delta_is_streamed_by_the_fallback(
    make: Make, fake: FakeOllama
) -> None:
    fake.chat_fail_status = 503

    deltas = await collect(FallbackGenerator(make(), GroundedComposer()).stream_answer(REQUEST))

    assert deltas == await collect(GroundedComposer().stream_answer(REQUEST))
    assert len(deltas) >= 1


async def test_a_stream_failing_mid_answer_ends_with_a_note(make: Make, fake: FakeOllama) -> None:
    fake.hang = 3
    generator = FallbackGenerator(make(stall_timeout=0.2), GroundedComposer())

    deltas = await collect(generator.stream_answer(REQUEST))

    assert deltas == [*fake.reply_chunks()[:3], INTERRUPTED_NOTE]


async def test_the_fallback_deadline_backs_up_a_primary_with_long_timeouts(
    make: Make, fake: FakeOllama
) -> None:
    fake.chat_delay = 30.0
    llm = make(first_token_timeout=30.0, total_timeout=60.0)
    generator = FallbackGenerator(llm, GroundedComposer(), deadline=0.3)

    deltas, elapsed = await timed(collect(generator.stream_answer(REQUEST)))

    assert "".join(deltas) == (await composer_answer()).text
    assert elapsed < 1.0
    assert llm.breaker.state is BreakerState.CLOSED  # an abandoned call is no verdict


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


# --- the circuit breaker -------------------------------------------------------------------


async def test_the_breaker_opens_and_later_probes_once(make: Make, fake: FakeOllama) -> None:
    clock = Clock(0.0)
    llm = make(breaker=CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock))
    generator = FallbackGenerator(llm, GroundedComposer())
    fake.chat_fail_status = 500

    for _ in range(5):
        assert await generator.answer(REQUEST) == await composer_answer()

    assert len(fake.chat_requests) == 2  # the last three never reached the server
    assert llm.breaker.state is BreakerState.OPEN
    assert "circuit open" in (await llm.check() or "")
    with pytest.raises(GeneratorUnavailable, match="circuit open after 2 failures"):
        await llm.answer(REQUEST)

    fake.chat_fail_status = None
    clock.now += 30.0
    answer = await generator.answer(REQUEST)

    assert answer.text == fake.reply  # the probe went through and succeeded
    assert len(fake.chat_requests) == 3
    assert llm.breaker.state is BreakerState.CLOSED
    assert await llm.check() is None


async def test_a_failed_probe_reopens_the_breaker(make: Make, fake: FakeOllama) -> None:
    clock = Clock(0.0)
    llm = make(breaker=CircuitBreaker(failure_threshold=1, reset_timeout=10.0, clock=clock))
    fake.malformed_stream = True
    generator = FallbackGenerator(llm, GroundedComposer())

    await generator.answer(REQUEST)
    clock.now += 10.0
    await generator.answer(REQUEST)  # the probe, garbled again
    await generator.answer(REQUEST)

    assert len(fake.chat_requests) == 2
    assert llm.breaker.state is BreakerState.OPEN


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
