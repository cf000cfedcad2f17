"""The widget's own words (placeholder, Send, Sources, Choices…) in the visitor's language.

The table is JSON inside widget.js; each language must have every English label, with
the same placeholders, in the languages the bot's catalogues ship. A real browser set to
Spanish shows Spanish labels, and ``data-lang`` chooses for the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from core.i18n.translator import available, translator
from tests.test_webwidget.conftest import DESKTOP
from tests.test_webwidget.widget_page import Widget

WIDGET = Path(__file__).resolve().parents[2] / "webwidget" / "widget.js"
_TABLE = re.compile(r"/\* labels \*/(.*?)/\* /labels \*/", re.S)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
TOO_LONG = (
    "That message is too long (%(length)s characters): please keep it to "
    "%(limit)s characters or fewer, or send it in parts."
)


def labels() -> dict[str, dict[str, str]]:
    match = _TABLE.search(WIDGET.read_text(encoding="utf-8"))
    assert match, "widget.js has no /* labels */ table"
    table: dict[str, dict[str, str]] = json.loads(match.group(1))
    return table


def test_the_widget_speaks_the_languages_the_bot_does() -> None:
    assert set(labels()) == {"en", *available()}


@pytest.mark.parametrize("language", sorted(available()))
def test_every_label_is_translated_with_its_placeholders(language: str) -> None:
    english, table = labels()["en"], labels()[language]
    assert set(table) == set(english)
    for key, text in table.items():
        assert text.strip(), key
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(english[key])), key
    assert table["placeholder"] != english["placeholder"]


@pytest.mark.parametrize("language", ["en", *sorted(available())])
def test_the_widget_refuses_a_long_message_in_the_server_s_words(language: str) -> None:
    """The widget's own refusal of a too-long message says what the server would."""
    widget = labels()[language]["tooLong"].replace("{n}", "%(length)s")
    assert widget.replace("{max}", "%(limit)s") == translator(language).gettext(TOO_LONG)


async def test_a_spanish_browser_gets_spanish_labels(browser: Browser, server: TestServer) -> None:
    context = await browser.new_context(
        viewport=DESKTOP, base_url=str(server.make_url("/")), locale="es-ES"
    )
    page = await context.new_page()
    widget = Widget(page)
    await page.goto("/")
    await expect(widget.state).to_have_text("En línea")
    await widget.open()
    await expect(widget.input).to_have_attribute("placeholder", "Escribe un mensaje…")
    send = page.locator("chorus-widget button.send")
    await expect(send).to_have_attribute("aria-label", "Enviar")
    await expect(page.locator("chorus-widget [role=dialog]")).to_have_attribute(
        "aria-label", re.compile("^Chatear con ")
    )
    await widget.say("I'd like a meditation")
    choices = page.locator("chorus-widget .btns").first
    await expect(choices).to_have_attribute("aria-label", "Opciones")
    await context.close()


async def test_a_page_chooses_the_widget_s_language(browser: Browser, server: TestServer) -> None:
    context = await browser.new_context(
        viewport=DESKTOP, base_url=str(server.make_url("/")), locale="es-ES"
    )
    page = await context.new_page()
    script = f"<script src='{server.make_url('/widget.js')}' data-bot='demo' data-lang='uk'>"
    await page.route(
        "**/uk.html",
        lambda route: route.fulfill(
            content_type="text/html", body=f"<!doctype html><title>uk</title>{script}</script>"
        ),
    )
    await page.goto("/uk.html")
    widget = Widget(page)  # the words only: this page is not one the bot's server serves
    await expect(widget.input).to_have_attribute("placeholder", "Напиши повідомлення…")
    send = page.locator("chorus-widget button.send")
    await expect(send).to_have_attribute("aria-label", "Надіслати")
    await context.close()
