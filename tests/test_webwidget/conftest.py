"""The real Chorus app on a real port, and Debian's chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
from pytest_aiohttp import AiohttpClient, AiohttpServer

from core.app import create_app
from core.settings import Settings
from tests.test_channels.telegram_app import services_ready

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # a synthetic microphone, so the voice-note button can record without a person
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)

# answers come from the real engine (embeddings, retrieval, espeak-ng): give them time
expect.set_options(timeout=30_000)


@pytest.fixture
async def server(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> TestServer:
    """The whole application, as ``chorus serve`` runs it, on 127.0.0.1 and a free port,
    once it is ready (the demo bot has learned its notes)."""
    served = await aiohttp_server(create_app(Settings(data_dir=tmp_path / "data")))
    await services_ready(await aiohttp_client(served))
    return served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser, server: TestServer) -> AsyncIterator[Page]:
    """A desktop-sized tab on the demo page's origin; any script error fails the test."""
    context = await browser.new_context(viewport=DESKTOP, base_url=str(server.make_url("/")))
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert errors == []
