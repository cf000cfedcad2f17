"""What the tests of chat models on servers share: a question with passages, a script
request, a port nobody listens on, and small timing helpers."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from bots.profile import BotProfile
from core.content import ContentType
from core.generation.composer import GroundedComposer
from core.generation.remote import RemoteChatModel
from core.generation.seams import Answer, AnswerRequest, ContentRequest
from knowledge.passages import Passage
from tests.test_channels.telegram_app import Client

BOT = BotProfile(id="mira", name="Mira", persona="A gentle breathing teacher.")
PASSAGES = [
    Passage("Breathe in slowly through the nose for four counts.", "Breathing", 0.9, page=2),
    Passage("Let the breath go through the mouth for six counts.", "Breathing", 0.8, page=3),
    Passage("Sleep comes easier after a body scan.", "Sleep notes", 0.4),
]
REQUEST = AnswerRequest(bot=BOT, question="How do I breathe in slowly?", passages=PASSAGES)
SCRIPT = (
    "Title: Settling for sleep\n"
    "Welcome. Let the day go.\n(pause 20 seconds)\n"
    "Breathe in for four, and out for six.\n(pause 40 seconds)\n"
    "Notice your shoulders soften.\n(pause 30 seconds)\n"
    "When you are ready, rest.\n"
)
CONTENT = ContentRequest(
    bot=BOT,
    content_type=ContentType.MEDITATION,
    answers={"purpose": "sleep", "time_of_day": "bedtime", "feeling": "restless", "duration": 3},
)
G = TypeVar("G", bound=RemoteChatModel)
#: Every hand-over to the fallback must reach the user within this.
USER_BOUND = 5.0


def closed_url() -> str:
    """The address of a port nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def timed(work: Awaitable[Any]) -> tuple[Any, float]:
    """What ``work`` returns, and how many seconds it took."""
    start = time.perf_counter()
    result = await work
    return result, time.perf_counter() - start


async def collect(stream: AsyncIterator[str]) -> list[str]:
    """Every delta of a stream."""
    return [delta async for delta in stream]


async def composer_answer(request: AnswerRequest = REQUEST) -> Answer:
    """What the grounded composer answers: what a fallback must give."""
    return await GroundedComposer().answer(request)


async def generators(kind: Callable[..., G], **defaults: Any) -> AsyncIterator[Callable[..., G]]:
    """A maker of ``kind`` generators with ``defaults`` (short clocks for tests: a test
    may override any), for a fixture to yield; each one is closed afterwards."""
    made: list[G] = []

    def build(**options: Any) -> G:
        generator = kind(
            **{"first_token_timeout": 0.5, "total_timeout": 5.0, **defaults, **options}
        )
        made.append(generator)
        return generator

    yield build
    for generator in made:
        await generator.aclose()


async def degraded_llm(client: Client) -> str:
    """Why ``/ready`` says the language model is degraded, checked to stay ready (200)
    with the grounded composer answering meanwhile."""
    response = await client.get("/ready")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["llm"] == "degraded"
    reason: str = body["degraded"]["llm"]
    assert "grounded composer" in reason
    return reason
