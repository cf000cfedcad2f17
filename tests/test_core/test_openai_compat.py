"""Text generation through an OpenAI-compatible server, against tests/fakes/openai_chat.py:
what only its protocol has (bearer auth, refusals, rate limits, the ways an event stream
breaks); what test_model_servers.py runs against every server is not repeated here."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from core.errors import GeneratorUnavailable
from core.generation.composer import GroundedComposer
from core.generation.fallback import INTERRUPTED_NOTE, FallbackGenerator
from core.generation.openai_compat import OpenAICompatGenerator, retry_after, safe_base
from core.runtime.breaker import BreakerState, CircuitBreaker
from tests.chatmodels import (
    REQUEST,
    collect,
    composer_answer,
    generators,
    timed,
)
from tests.fakes.openai_chat import API_KEY as KEY
from tests.fakes.openai_chat import DEFAULT_MODEL, FakeOpenAIChat

Make = Callable[..., OpenAICompatGenerator]


@pytest.fixture
async def make(openai_base: str) -> AsyncIterator[Make]:
    """Generators on the fake (short timeouts unless a test asks), closed afterwards."""
    async for build in generators(
        OpenAICompatGenerator, base_url=openai_base, model=DEFAULT_MODEL, api_key=KEY
    ):
        yield build


# --- the exchange --------------------------------------------------------------------------


async def test_the_request_is_a_streamed_chat_completion_with_the_bearer_key(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    await make().answer(REQUEST)

    [body] = openai_fake.chat_requests
    assert body["model"] == DEFAULT_MODEL
    assert body["stream"] is True
    assert body["max_tokens"] == 512
    assert openai_fake.authorizations == [f"Bearer {KEY}"]
    system, question = body["messages"][0], body["messages"][-1]
    assert system["role"] == "system"
    assert system["content"].startswith("You are Mira.\nA gentle breathing teacher.")
    assert question["role"] == "user"
    assert '<passage n="1" title="Breathing" page="2">' in question["content"]
    assert question["content"].endswith("<question>\nHow do I breathe in slowly?\n</question>")


async def test_without_a_key_no_authorization_is_sent(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.api_key = None  # a local server (llama.cpp, vLLM) that wants none

    answer = await make(api_key=None).answer(REQUEST)

    assert answer.text.startswith("Breathe in slowly")
    assert openai_fake.authorizations == [None]


async def test_a_server_that_answers_unstreamed_is_read_whole(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.unstreamed = True
    answer = await make().answer(REQUEST)
    assert answer.text == "Breathe in slowly through the nose [1]. Then let the breath go [2]."


async def test_the_fake_answers_an_unstreamed_request_as_openai_does(
    openai_base: str, openai_fake: FakeOpenAIChat
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{openai_base}/chat/completions",
            json={"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as response,
    ):
        body = await response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": openai_fake.reply,
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == len(openai_fake.reply_chunks())


async def test_a_reply_cut_by_max_tokens_is_kept(make: Make, openai_fake: FakeOpenAIChat) -> None:
    openai_fake.reply = " ".join(["calm"] * 600)  # longer than the 512 tokens an answer may use

    answer = await make().answer(REQUEST)

    assert answer.text.split() == ["calm"] * 512  # finish_reason "length" still finishes


# --- refusals ------------------------------------------------------------------------------


async def test_a_wrong_key_is_a_configuration_error_never_retried_or_logged(
    make: Make, openai_fake: FakeOpenAIChat, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-that-must-stay-secret"
    generator = make(api_key=wrong, retries=3)

    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(GeneratorUnavailable, match=r"answered 401: Incorrect API key") as caught,
    ):
        await generator.answer(REQUEST)

    assert "check LLM_API_KEY" in caught.value.reason
    assert len(openai_fake.chat_requests) == 0  # refused before the body was read
    assert openai_fake.authorizations == [f"Bearer {wrong}"]
    assert wrong not in caught.value.reason
    assert wrong not in caplog.text
    assert "(the API key was refused" in (await generator.check() or "")


async def test_a_refused_key_quoted_by_the_server_is_kept_out_of_the_reason(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.echo_key = True
    wrong = "sk-wrong-key-quoted-in-full"

    with pytest.raises(GeneratorUnavailable) as caught:
        await make(api_key=wrong).answer(REQUEST)

    assert "Incorrect API key provided: [LLM_API_KEY]" in caught.value.reason
    assert wrong not in str(caught.value)


async def test_a_missing_key_says_so(make: Make) -> None:
    with pytest.raises(GeneratorUnavailable, match="You didn't provide an API key"):
        await make(api_key=None).answer(REQUEST)


async def test_an_unknown_model_is_named(make: Make, openai_base: str) -> None:
    generator = make(model="gpt-9")

    with pytest.raises(GeneratorUnavailable, match=r"answered 404: The model `gpt-9` does not"):
        await generator.answer(REQUEST)
    assert await generator.check() == (
        f"model gpt-9 is not served by {safe_base(openai_base)} (it serves {DEFAULT_MODEL})"
    )


@pytest.mark.parametrize("status", [503, 403])
async def test_a_server_error_is_unavailable_and_not_retried(
    make: Make, openai_fake: FakeOpenAIChat, status: int
) -> None:
    openai_fake.chat_fail_status = status

    with pytest.raises(GeneratorUnavailable, match=f"answered {status}: ") as caught:
        await make(retries=3).answer(REQUEST)

    assert caught.value.name == f"openai-compat/{DEFAULT_MODEL}"
    assert len(openai_fake.chat_requests) == 1


async def test_a_rate_limit_is_retried_after_the_wait_the_server_asks(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.script = [429]
    openai_fake.retry_after = "1"

    answer, elapsed = await timed(make(first_token_timeout=3.0).answer(REQUEST))

    assert answer.text.startswith("Breathe in slowly")
    assert len(openai_fake.chat_requests) == 2
    assert elapsed >= 1.0  # Retry-After, not the 0.2 s backoff


async def test_a_rate_limit_longer_than_the_budget_falls_back_at_once(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.chat_fail_status = 429
    openai_fake.retry_after = "30"
    llm = make(first_token_timeout=3.0, retries=3)

    with pytest.raises(GeneratorUnavailable, match=r"answered 429: .*asked to wait 30 s"):
        await llm.answer(REQUEST)
    answer, elapsed = await timed(FallbackGenerator(llm, GroundedComposer()).answer(REQUEST))

    assert answer == await composer_answer()
    assert elapsed < 0.5
    assert len(openai_fake.chat_requests) == 2  # one each: never retried into the wait


async def test_rate_limits_are_retried_only_as_often_as_allowed(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.script = [429, 429, 429]
    openai_fake.retry_after = None  # no Retry-After: the exponential backoff

    with pytest.raises(GeneratorUnavailable, match="answered 429"):
        await make(retries=2, backoff=0.05, first_token_timeout=3.0).answer(REQUEST)
    assert len(openai_fake.chat_requests) == 3


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    soon = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": "0.5"}) == 0.5
    assert retry_after({"retry-after-ms": "250", "Retry-After": "7"}) == 0.25
    assert 18 < (retry_after({"Retry-After": soon}) or 0) <= 20
    assert retry_after({"Retry-After": "Mon, 01 Jan 2024 00:00:00 GMT"}) == 0.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


def test_the_server_is_named_without_credentials() -> None:
    assert safe_base("https://me:secret@llm.example:8443/v1/?key=x") == (
        "https://llm.example:8443/v1"
    )


# --- broken streams ------------------------------------------------------------------------


async def test_an_error_in_the_stream_is_unavailable(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.error_mid_stream = True

    with pytest.raises(GeneratorUnavailable, match="error mid-stream: upstream model crashed"):
        await make().answer(REQUEST)
    assert len(openai_fake.chat_requests) == 1  # partial output is never retried


async def test_a_finished_stream_without_done_is_whole(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.no_done = True
    answer = await make().answer(REQUEST)
    assert answer.text.endswith("Then let the breath go [2].")


async def test_a_stream_that_ends_unfinished_is_unavailable(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.cut_after = 3

    with pytest.raises(GeneratorUnavailable, match="ended before the model finished"):
        await make().answer(REQUEST)


# --- the fallback and the breaker ----------------------------------------------------------


async def test_an_error_reported_mid_stream_ends_the_streamed_answer_with_a_note(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    openai_fake.error_mid_stream = True

    deltas = await collect(FallbackGenerator(make(), GroundedComposer()).stream_answer(REQUEST))

    assert deltas == [*openai_fake.reply_chunks()[:2], INTERRUPTED_NOTE]


async def test_a_rejected_key_also_opens_the_breaker(
    make: Make, openai_fake: FakeOpenAIChat
) -> None:
    llm = make(api_key="sk-wrong", breaker=CircuitBreaker(failure_threshold=2))
    generator = FallbackGenerator(llm, GroundedComposer())

    for _ in range(3):
        await generator.answer(REQUEST)

    assert len(openai_fake.authorizations) == 2  # the third call was shed
    assert llm.breaker.state is BreakerState.OPEN
