"""The real Chorus app on a real port, and Debian's chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, ViewportSize, expect

DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)

# answers come from the real engine (embeddings, retrieval, espeak-ng): give them time
expect.set_options(timeout=30_000)


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
