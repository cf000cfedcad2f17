"""Driving the widget on a page: its parts, as a visitor and a screen reader reach them."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Locator, Page, expect

SHADOW = "document.querySelector('chorus-widget').shadowRoot"


class Widget:
    """The chat widget on ``page`` (Playwright's CSS locators pierce its open shadow root)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator("chorus-widget .launch")
        self.panel = page.locator("chorus-widget [role=dialog]")
        self.input = page.locator("chorus-widget textarea")
        self.log = page.locator("chorus-widget [role=log]")
        self.state = page.locator("chorus-widget .st")

    async def load(self, online: str = "Online") -> None:
        """Open the demo page and wait until the widget is connected (``online``: the
        status in the browser's language)."""
        await self.page.goto("/")
        await expect(self.state).to_have_text(online)

    async def open(self) -> None:
        await self.launcher.click()
        await expect(self.panel).to_be_visible()

    async def say(self, text: str) -> None:
        await self.input.fill(text)
        await self.input.press("Enter")

    def mine(self, text: str | None = None) -> Locator:
        """The visitor's bubbles (``text``: only those saying exactly that)."""
        bubbles = self.log.locator(".msg.me:not(.pending)")
        return bubbles.filter(has_text=text) if text else bubbles

    def replies(self, text: str | None = None) -> Locator:
        bubbles = self.log.locator(".msg.bot:not([aria-hidden])")
        return bubbles.filter(has_text=text) if text else bubbles

    def after(self, question: str) -> Locator:
        """The bot's finished bubbles that came after the visitor said ``question``."""
        return self.log.locator(
            f".msg.me:not(.pending):has-text({json.dumps(question)}) ~ .msg.bot:not([aria-hidden])"
        )

    async def shadow(self, script: str) -> Any:
        """Evaluate ``script`` with ``root`` bound to the widget's shadow root."""
        return await self.page.evaluate(f"(() => {{ const root = {SHADOW}; return {script}; }})()")
