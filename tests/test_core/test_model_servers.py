"""What every chat model on a server does alike, run against each fake: Ollama's
(tests/fakes/ollama.py) and an OpenAI-compatible one (tests/fakes/openai_chat.py).
The streamed exchange, citations, scripts, the clocks and retries, the fallback to the
grounded composer when the model is refused, slow, silent or garbled, and the circuit
breaker. What only one protocol has is tested in test_ollama.py / test_openai_compat.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from core.errors import GeneratorUnavailable
from core.generation.composer import GroundedComposer
from core.generation.fallback import INTERRUPTED_NOTE, FallbackGenerator
from core.generation.ollama import OllamaGenerator
from core.generation.openai_compat import OpenAICompatGenerator
from core.generation.remote import RemoteChatModel
from core.runtime.breaker import BreakerState, CircuitBreaker
from tests.chatmodels import (
    CONTENT,
    PASSAGES,
    REQUEST,
    SCRIPT,
    USER_BOUND,
    closed_url,
    collect,
    composer_answer,
    generators,
    timed,
)
from tests.clock import Clock
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_chat import DEFAULT_MODEL, FakeOpenAIChat

KEY = "sk-servers-test-key-7c1e"


@dataclass
class Server:
    """One fake model server and a maker of generators on it; ``make(at=root)`` points a
    generator at another root URL (a closed port, a server started later)."""

    fake: FakeOllama | FakeOpenAIChat
    root: str
    build: Callable[..., RemoteChatModel]
    api: str  # the path under the root where the protocol lives

    def make(self, *, at: str | None = None, **options: Any) -> RemoteChatModel:
        url = f"{at or self.root}{self.api}"
        where = "host" if isinstance(self.fake, FakeOllama) else "base_url"
        return self.build(**{where: url}, **options)

    def max_tokens(self, body: dict[str, Any]) -> Any:
        """The most tokens a request let the model write."""
        if isinstance(self.fake, FakeOllama):
            return body["options"]["num_predict"]
        return body["max_tokens"]


@pytest.fixture(params=["ollama", "openai-compat"])
async def server(
    request: pytest.FixtureRequest, aiohttp_server: AiohttpServer
) -> AsyncIterator[Server]:
    fake: FakeOllama | FakeOpenAIChat
    makers: AsyncIterator[Callable[..., RemoteChatModel]]
    if request.param == "ollama":
        fake, api = FakeOllama(), ""
        makers = generators(OllamaGenerator)
    else:
        fake, api = FakeOpenAIChat(api_key=KEY), "/v1"
        makers = generators(OpenAICompatGenerator, model=DEFAULT_MODEL, api_key=KEY)
    root = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    async for build in makers:
        yield Server(fake, root, build, api)


# --- the exchange --------------------------------------------------------------------------


async def test_stream_answer_yields_the_models_deltas_in_order(server: Server) -> None:
    server.fake.chunk_delay = 0.02
    sent_when_first_arrived: list[int] = []
    deltas: list[str] = []
    async for delta in server.make().stream_answer(REQUEST):
        if not deltas:
            sent_when_first_arrived.append(server.fake.chunks_sent)
        deltas.append(delta)

    assert deltas == server.fake.reply_chunks()
    assert "".join(deltas) == server.fake.reply
    # streamed, not buffered: the first delta arrived while the server was still writing
    assert sent_when_first_arrived[0] < len(deltas)
    assert server.max_tokens(server.fake.chat_requests[0]) == 512


async def test_answer_keeps_the_sources_it_cites(server: Server) -> None:
    server.fake.reply = "Breathe in for four counts [2]. Use the nose [2, 9]."

    answer = await server.make().answer(REQUEST)

    # renumbered in order of mention: the one passage cited is [1]
    assert answer.text == "Breathe in for four counts [1]. Use the nose [1]."
    assert answer.sources == (PASSAGES[1].as_source(1),)


async def test_answer_without_citations_keeps_every_source(server: Server) -> None:
    server.fake.reply = "Breathe in slowly through the nose."

    answer = await server.make().answer(REQUEST)

    assert answer.text == server.fake.reply
    assert answer.sources == tuple(p.as_source(n) for n, p in enumerate(PASSAGES, start=1))


async def test_compose_returns_the_models_script(server: Server) -> None:
    server.fake.reply = SCRIPT

    content = await server.make().compose(CONTENT)

    assert content.title == "Settling for sleep"
    first = "Welcome. This is your time to let the day go and settle towards sleep."
    assert content.spoken.splitlines()[0] == first
    assert content.spoken.splitlines()[1].startswith("(pause ")
    assert "(pause" not in content.text
    assert content.text.startswith(first)
    [body] = server.fake.chat_requests
    assert '"(pause N seconds)"' in body["messages"][0]["content"]
    # room for the most words a three-minute script may have, not a long one's
    assert server.max_tokens(body) == 863


async def test_compose_refuses_output_that_is_not_a_script(server: Server) -> None:
    server.fake.reply = "Sure! I would love to help you with that."

    with pytest.raises(GeneratorUnavailable, match="unusable script"):
        await server.make().compose(CONTENT)


async def test_check_is_none_when_the_model_is_served(server: Server) -> None:
    assert await server.make().check() is None


# --- failures ------------------------------------------------------------------------------


async def test_a_server_error_is_unavailable_and_not_retried(server: Server) -> None:
    server.fake.chat_fail_status = 500
    generator = server.make(retries=3)

    with pytest.raises(GeneratorUnavailable, match="answered 500: ") as caught:
        await generator.answer(REQUEST)

    assert caught.value.name == generator.name
    assert len(server.fake.chat_requests) == 1


async def test_a_malformed_stream_is_unavailable(server: Server) -> None:
    server.fake.malformed_stream = True

    with pytest.raises(GeneratorUnavailable, match="malformed stream"):
        # a first-token clock long enough for a loaded machine: the stream is what fails
        await server.make(first_token_timeout=10).answer(REQUEST)
    assert len(server.fake.chat_requests) == 1  # partial output is never retried


async def test_a_server_that_never_answers_hits_the_first_token_timeout(server: Server) -> None:
    server.fake.hang = 0

    with pytest.raises(GeneratorUnavailable, match=r"no first token .* within 0\.3 s"):
        await server.make(first_token_timeout=0.3).answer(REQUEST)


async def test_a_stall_mid_answer_is_unavailable(server: Server) -> None:
    server.fake.hang = 3

    with pytest.raises(GeneratorUnavailable, match=r"went silent mid-answer for 0\.2 s"):
        await server.make(stall_timeout=0.2).answer(REQUEST)
    assert len(server.fake.chat_requests) == 1


async def test_the_total_timeout_bounds_a_slow_but_steady_stream(server: Server) -> None:
    server.fake.chunk_delay = 0.1  # every chunk on time, the whole too slow

    result, elapsed = await timed(
        asyncio.gather(server.make(total_timeout=0.35).answer(REQUEST), return_exceptions=True)
    )

    assert isinstance(result[0], GeneratorUnavailable)
    assert r"did not finish within 0.35 s" in result[0].reason
    assert elapsed < 1.0


# --- retries -------------------------------------------------------------------------------


async def test_a_refused_connection_is_retried_with_backoff_until_the_server_is_up(
    server: Server, aiohttp_server: AiohttpServer
) -> None:
    closed = closed_url()
    generator = server.make(at=closed, retries=3, backoff=0.2, first_token_timeout=3.0)

    async def start_later() -> None:
        await asyncio.sleep(0.1)  # the first attempt is refused; the retry at 0.2 s lands
        await aiohttp_server(server.fake.app(), port=int(closed.rsplit(":", 1)[1]))

    starting = asyncio.create_task(start_later())
    answer, elapsed = await timed(generator.answer(REQUEST))
    await starting

    assert answer.text == server.fake.reply
    assert len(server.fake.chat_requests) == 1
    assert elapsed >= 0.2


async def test_backoff_doubles_between_attempts(server: Server) -> None:
    closed = closed_url()
    once = server.make(at=closed, retries=0, backoff=0.5)
    thrice = server.make(at=closed, retries=2, backoff=0.1, first_token_timeout=3.0)

    for generator, least, most in [(once, 0.0, 0.25), (thrice, 0.3, 1.0)]:
        start = time.perf_counter()
        with pytest.raises(GeneratorUnavailable, match=r"cannot connect to an .* server at"):
            await generator.answer(REQUEST)
        assert least <= time.perf_counter() - start < most  # thrice: 0.1 s, then 0.2 s


async def test_retries_stop_at_the_first_token_deadline(server: Server) -> None:
    generator = server.make(at=closed_url(), retries=5, backoff=0.4, first_token_timeout=1.0)

    _, elapsed = await timed(asyncio.gather(generator.answer(REQUEST), return_exceptions=True))

    assert 0.4 <= elapsed < 1.0  # one retry fits; the next (0.8 s later) would not


# --- the fallback --------------------------------------------------------------------------


async def test_a_refused_connection_falls_back_at_once(server: Server) -> None:
    # the clocks and retries a server has by default
    llm = server.make(at=closed_url(), first_token_timeout=4.0, total_timeout=60.0)
    generator = FallbackGenerator(llm, GroundedComposer())

    answer, elapsed = await timed(generator.answer(REQUEST))

    assert answer == await composer_answer()
    assert elapsed < 1.0
    assert "cannot connect" in (await llm.check() or "")


async def test_with_default_timeouts_a_hang_mid_answer_falls_back_within_the_bound(
    server: Server,
) -> None:
    server.fake.hang = 4
    llm = server.make(first_token_timeout=4.0, total_timeout=60.0)
    generator = FallbackGenerator(llm, GroundedComposer())

    answer, elapsed = await timed(generator.answer(REQUEST))

    assert answer == await composer_answer()
    assert elapsed < USER_BOUND
    assert len(server.fake.chat_requests) == 1


async def test_a_malformed_stream_falls_back(server: Server) -> None:
    server.fake.malformed_stream = True
    answer = await FallbackGenerator(server.make(), GroundedComposer()).answer(REQUEST)
    assert answer == await composer_answer()


async def test_a_failed_script_falls_back_to_the_composers(server: Server) -> None:
    server.fake.reply = "I cannot do that."
    content = await FallbackGenerator(server.make(), GroundedComposer()).compose(CONTENT)
    assert content == await GroundedComposer().compose(CONTENT)


async def test_a_script_too_short_for_its_length_falls_back_to_the_composers(
    server: Server,
) -> None:
    server.fake.reply = SCRIPT  # about 270 words: right for three minutes, not for twenty
    long = replace(CONTENT, answers={**CONTENT.answers, "duration": 20})
    content = await FallbackGenerator(server.make(), GroundedComposer()).compose(long)
    assert content == await GroundedComposer().compose(long)


async def test_a_script_written_too_slowly_falls_back_to_the_composers(server: Server) -> None:
    # a model that writes steadily, a word every 20 ms, but would take 5 s for the script
    server.fake.reply = SCRIPT
    server.fake.chunk_delay = 0.02
    generator = FallbackGenerator(server.make(), GroundedComposer(), script_deadline=1.0)

    content, elapsed = await timed(generator.compose(CONTENT))

    assert content == await GroundedComposer().compose(CONTENT)
    assert elapsed < 2.0


async def test_a_stream_failing_before_its_first_delta_is_streamed_by_the_fallback(
    server: Server,
) -> None:
    server.fake.chat_fail_status = 503
    generator = FallbackGenerator(server.make(), GroundedComposer())

    deltas = await collect(generator.stream_answer(REQUEST))

    assert deltas == await collect(GroundedComposer().stream_answer(REQUEST))
    assert len(deltas) >= 1


async def test_a_stream_failing_mid_answer_ends_with_a_note(server: Server) -> None:
    server.fake.hang = 3
    generator = FallbackGenerator(server.make(stall_timeout=0.2), GroundedComposer())

    deltas = await collect(generator.stream_answer(REQUEST))

    assert deltas == [*server.fake.reply_chunks()[:3], INTERRUPTED_NOTE]


async def test_the_fallback_deadline_backs_up_a_primary_with_long_timeouts(
    server: Server,
) -> None:
    server.fake.chat_delay = 30.0
    llm = server.make(first_token_timeout=30.0, total_timeout=60.0)
    generator = FallbackGenerator(llm, GroundedComposer(), deadline=0.3)

    deltas, elapsed = await timed(collect(generator.stream_answer(REQUEST)))

    assert "".join(deltas) == (await composer_answer()).text
    assert elapsed < 1.0
    assert llm.breaker.state is BreakerState.CLOSED  # an abandoned call is no verdict


# --- the circuit breaker -------------------------------------------------------------------


async def test_the_breaker_opens_and_later_probes_once(server: Server) -> None:
    clock = Clock(0.0)
    llm = server.make(breaker=CircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock))
    generator = FallbackGenerator(llm, GroundedComposer())
    server.fake.chat_fail_status = 500

    for _ in range(5):
        assert await generator.answer(REQUEST) == await composer_answer()

    assert len(server.fake.chat_requests) == 2  # the last three never reached the server
    assert llm.breaker.state is BreakerState.OPEN
    assert "circuit open" in (await llm.check() or "")
    with pytest.raises(GeneratorUnavailable, match="circuit open after 2 failures"):
        await llm.answer(REQUEST)

    server.fake.chat_fail_status = None
    clock.now += 30.0
    answer = await generator.answer(REQUEST)

    assert answer.text == server.fake.reply  # the probe went through and succeeded
    assert len(server.fake.chat_requests) == 3
    assert llm.breaker.state is BreakerState.CLOSED
    assert await llm.check() is None


async def test_a_failed_probe_reopens_the_breaker(server: Server) -> None:
    clock = Clock(0.0)
    llm = server.make(breaker=CircuitBreaker(failure_threshold=1, reset_timeout=10.0, clock=clock))
    server.fake.malformed_stream = True
    generator = FallbackGenerator(llm, GroundedComposer())

    await generator.answer(REQUEST)
    clock.now += 10.0
    await generator.answer(REQUEST)  # the probe, garbled again
    await generator.answer(REQUEST)

    assert len(server.fake.chat_requests) == 2
    assert llm.breaker.state is BreakerState.OPEN
