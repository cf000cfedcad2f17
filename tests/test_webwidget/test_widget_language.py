"""The widget tells the server the browser's language, and is greeted in it."""

from __future__ import annotations

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from bots.demo import GREETINGS
from core.app import SERVICES
from tests.test_webwidget.conftest import DESKTOP
from tests.test_webwidget.widget_page import Widget

SPANISH_GREETING = "¡Hola! Soy Mira y hablo español."


async def test_a_spanish_browser_is_greeted_in_spanish(
    browser: Browser, server: TestServer
) -> None:
    await server.app[SERVICES].languages.change("demo", greetings={"es": SPANISH_GREETING})
    greeted = {}
    for locale, online in (("es-ES", "En línea"), ("de-DE", "Online")):
        context = await browser.new_context(
            viewport=DESKTOP, base_url=str(server.make_url("/")), locale=locale
        )
        page = await context.new_page()
        widget = Widget(page)
        await widget.load(online)
        await widget.open()
        await expect(widget.replies().first).to_be_visible()
        greeted[locale] = await widget.replies().first.inner_text()
        await context.close()
    assert SPANISH_GREETING in greeted["es-ES"]
    assert GREETINGS["de"] in greeted["de-DE"]  # Mira's own German greeting
    assert greeted["de-DE"].startswith("Hallo, ich bin Mira")
