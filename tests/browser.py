"""Debian's chromium (/usr/bin/chromium) driven by Playwright, for the tests that load
the server's pages in a real browser (the widget, the API reference)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright

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


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless chromium, closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
