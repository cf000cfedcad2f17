"""Fixtures several of the core's test modules share."""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fakes.openai_chat import API_KEY, FakeOpenAIChat


@pytest.fixture
def openai_fake() -> FakeOpenAIChat:
    """An OpenAI-compatible fake server's state; it expects :data:`API_KEY`."""
    return FakeOpenAIChat(api_key=API_KEY)


@pytest.fixture
async def openai_base(openai_fake: FakeOpenAIChat, aiohttp_server: AiohttpServer) -> str:
    """The API base URL (ending in ``/v1``) of ``openai_fake``, served on a local port."""
    server = await aiohttp_server(openai_fake.app())
    return str(server.make_url("/v1"))
