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
#: What a model writes for CONTENT: three minutes at a moderate pace, about 300 words.
SCRIPT = """Title: Settling for sleep
Welcome. This is your time to let the day go and settle towards sleep.
(pause 4 seconds)
Let your body be heavy on the bed, and let the mattress hold all of your weight.
(pause 5 seconds)
Breathe in slowly through the nose for a count of four, and out through the mouth for six.
(pause 6 seconds)
Again, in for four, filling the belly, and out for six, letting the shoulders drop.
(pause 6 seconds)
One more time, in for four, and a long, slow breath out for six.
(pause 8 seconds)

Now bring your attention to your feet. Notice any warmth, any weight, any tingling there.
(pause 5 seconds)
Let that softness travel up through your ankles and your calves, into your knees.
(pause 5 seconds)
Let your thighs and your hips sink a little deeper, as if the bed rises to meet you.
(pause 6 seconds)
Feel your belly rise and fall on its own. There is nothing you need to do.
(pause 6 seconds)
Let your chest soften, and your back spread out against the bed.
(pause 5 seconds)
Let your hands rest, palms open, fingers loose and heavy.
(pause 5 seconds)
Soften your jaw, your cheeks, and the small muscles around your eyes.
(pause 6 seconds)

If a thought about the day comes along, that is all right.
Notice it, and let it drift past like a cloud.
(pause 8 seconds)
Come back to the breath, slow and easy, in and out.
(pause 8 seconds)
Whatever the day held, it is done for now. Tomorrow will look after itself.
(pause 6 seconds)
You are safe here, warm and resting, and each breath takes you a little deeper.
(pause 8 seconds)
With every breath out, let go of a little more, sinking softly into rest.
(pause 8 seconds)
Let the quiet carry you now, further and further down, into a deep and easy sleep.
"""
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
