"""The embeddable widget in a real browser against the real server (webwidget/PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, WebSocket, WebSocketRoute, expect
from pytest_aiohttp import AiohttpServer

from bots.origins import AllowedOrigins
from core.app import SERVICES
from core.messages import too_long
from tests.test_webwidget.conftest import DESKTOP, PHONE
from tests.test_webwidget.widget_page import Widget

QUESTION = "How should I breathe when I feel anxious?"
ANSWER = "light-headed"  # words of the demo notes' answer to QUESTION
GREETING = "Hello, I'm Mira"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "webwidget" / "screenshots"


def frames_received(page: Page) -> list[dict[str, object]]:
    """Every frame the page's widget sockets receive, decoded, as they arrive."""
    frames: list[dict[str, object]] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", watch)
    return frames


async def test_a_question_is_answered_as_it_streams_with_its_sources(page: Page) -> None:
    frames = frames_received(page)
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say(QUESTION)

    answer = widget.after(QUESTION).filter(has_text=ANSWER)
    await expect(answer).to_have_count(1)
    assert any(f["type"] == "delta" for f in frames), "the answer did not stream"
    await expect(widget.mine(QUESTION)).to_have_count(1)
    await expect(widget.replies(GREETING)).to_have_count(1)
    sources = answer.locator("ol.src li")
    await expect(sources.first).to_contain_text("Breathing and calm")
    # a citation is a footnote mark that leads to its source
    mark = answer.locator("sup a").first
    await expect(mark).to_have_text("1")
    await mark.click()
    assert await widget.shadow("root.activeElement.closest('ol.src') !== null")


async def test_a_guided_flow_button_is_pressed_once(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say("I'd like a meditation")
    choices = widget.after("I'd like a meditation").locator(".btns button")
    await expect(choices.first).to_be_visible()
    choice = choices.filter(has_text="Less stress")
    await choice.click()

    await expect(choice).to_be_disabled()
    await expect(widget.mine("Less stress")).to_have_count(1)
    await expect(widget.after("Less stress").first).to_be_visible()


async def test_a_new_visitor_is_greeted_with_its_choices_before_typing(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    greeting = widget.replies(GREETING)
    choices = greeting.locator(".btns button")
    await expect(choices.filter(has_text="Guided meditation")).to_be_visible()
    await expect(greeting).to_have_count(1)
    await expect(widget.mine()).to_have_count(0)

    await choices.filter(has_text="Guided meditation").click()
    await expect(widget.mine("Guided meditation")).to_have_count(1)
    step = widget.after("Guided meditation").filter(has_text="help you with?")
    await expect(step).to_have_count(1)
    await expect(step.locator(".btns button").filter(has_text="Sleeping better")).to_be_visible()
    await expect(widget.replies(GREETING)).to_have_count(1)
    first = "root.querySelector('.log .msg').textContent"
    assert (await widget.shadow(first)).startswith(GREETING)

    # a returning visitor sees the same conversation: one greeting, first
    await page.reload()
    await expect(widget.state).to_have_text("Online")
    await widget.open()
    await expect(step).to_have_count(1)
    await expect(widget.replies(GREETING)).to_have_count(1)
    assert (await widget.shadow(first)).startswith(GREETING)
    await expect(widget.mine()).to_have_count(1)


async def test_a_spoken_reply_plays(page: Page, server: TestServer) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say("/voice on")
    player = widget.after("/voice on").locator("audio").first
    await expect(player).to_be_attached()
    src = await player.get_attribute("src")
    assert src is not None
    assert src.startswith(str(server.make_url("/media/")))

    audio = await player.element_handle()
    # muted, a page may play without a click (Chromium's autoplay policy)
    await audio.evaluate("audio => { audio.muted = true; return audio.play(); }")
    await page.wait_for_function("audio => audio.duration > 0 && audio.currentTime > 0", arg=audio)
    assert await audio.evaluate("audio => audio.error") is None


async def test_an_answer_cut_off_midway_arrives_once_after_reconnecting(page: Page) -> None:
    cut = asyncio.Event()
    connections = 0

    async def route(socket: WebSocketRoute) -> None:
        nonlocal connections
        connections += 1
        server = socket.connect_to_server()

        async def from_server(message: str | bytes) -> None:
            if not cut.is_set() and json.loads(message)["type"] == "delta":
                cut.set()  # the line drops after the first words of the answer
                await socket.close(code=4000, reason="network lost")
                await server.close()
                return
            socket.send(message)

        server.on_message(from_server)

    await page.route_web_socket("**/ws/widget/*", route)
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say(QUESTION)

    await asyncio.wait_for(cut.wait(), 30)
    answer = widget.after(QUESTION).filter(has_text=ANSWER)
    await expect(answer).to_have_count(1)
    await expect(widget.state).to_have_text("Online")
    assert connections >= 2
    await expect(widget.log.locator(".msg[aria-hidden]")).to_have_count(0)
    await expect(widget.mine(QUESTION)).to_have_count(1)
    # nothing more comes later either
    await page.wait_for_timeout(1000)
    await expect(answer).to_have_count(1)


async def test_the_server_going_away_is_survived(page: Page, server: TestServer) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    widget_channel = server.app[SERVICES].widget
    assert widget_channel is not None
    await widget_channel.close()  # 1001, as at shutdown

    await expect(widget.state).not_to_have_text("Online", timeout=5000)
    await expect(widget.state).to_have_text("Online")
    await widget.say(QUESTION)
    await expect(widget.after(QUESTION).filter(has_text=ANSWER)).to_have_count(1)


async def test_a_message_typed_offline_waits_then_is_answered(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await page.context.set_offline(True)
    await expect(widget.state).not_to_have_text("Online")
    await widget.say(QUESTION)

    waiting = widget.log.locator(".msg.me.pending").filter(has_text=QUESTION)
    await expect(waiting).to_contain_text("Waiting")
    await page.context.set_offline(False)
    await expect(widget.after(QUESTION).filter(has_text=ANSWER)).to_have_count(1)
    await expect(waiting).to_have_count(0)
    await expect(widget.mine(QUESTION)).to_have_count(1)
    assert await page.evaluate("localStorage.getItem('chorus:demo:queue')") is None


async def test_a_message_over_the_limit_is_refused_whole_and_kept_to_shorten(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    counter = page.locator("chorus-widget .count")
    await widget.input.fill("breathe " * 10)
    await expect(counter).to_be_hidden()  # far from the limit: no counter
    long = "breathe " * 500 + "slowly"  # 4,006 characters
    await widget.input.fill(long)
    await expect(counter).to_have_text("4,006 / 4,000")
    await expect(counter).to_have_class(re.compile(r"\bover\b"))
    await widget.input.press("Enter")
    # the server's own words, and the text stays in the box: nothing cut, nothing sent
    await expect(page.locator("chorus-widget .note")).to_have_text(too_long(4006))
    await expect(widget.input).to_have_value(long)
    await expect(widget.log.locator(".msg.me")).to_have_count(0)

    fits = "breathe " * 499 + "slowly!!"  # 4,000 characters
    await widget.input.fill(fits)
    await expect(counter).to_have_text("4,000 / 4,000")
    await expect(counter).not_to_have_class(re.compile(r"\bover\b"))
    await widget.input.press("Enter")
    await expect(widget.mine()).to_have_count(1)
    assert await widget.shadow("root.querySelector('.msg.me').textContent.length") == 4000
    await expect(counter).to_be_hidden()


async def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    attack = "<img src=x onerror=alert(1)>"
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say(attack)

    await expect(widget.mine(attack)).to_have_count(1)
    await expect(widget.after(attack).first).to_be_visible()
    await page.wait_for_timeout(500)
    assert dialogs == []
    assert await widget.shadow("root.querySelectorAll('img').length") == 0
    assert await page.evaluate("document.querySelectorAll('img').length") == 0
    assert await widget.shadow("[...root.querySelectorAll('.msg.me')].pop().textContent") == attack


async def test_a_reloaded_page_shows_the_conversation_once(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await widget.open()
    await widget.say(QUESTION)
    await expect(widget.after(QUESTION).filter(has_text=ANSWER)).to_have_count(1)
    before = await widget.replies().count()

    await page.reload()
    await expect(widget.state).to_have_text("Online")
    await widget.open()
    await expect(widget.mine(QUESTION)).to_have_count(1)
    await expect(widget.after(QUESTION).filter(has_text=ANSWER)).to_have_count(1)
    await expect(widget.replies()).to_have_count(before)
    await expect(widget.replies(GREETING)).to_have_count(1)
    assert await page.evaluate("localStorage.getItem('chorus:demo:session')")


async def test_keyboard_and_screen_reader_use(page: Page) -> None:
    widget = Widget(page)
    await widget.load()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    controls = await widget.launcher.get_attribute("aria-controls")
    await expect(widget.panel).to_have_attribute("id", controls or "")
    await expect(widget.panel).to_have_attribute("aria-label", "Chat with Mira")
    await expect(widget.log).to_have_attribute("aria-live", "polite")

    await widget.launcher.focus()
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    await expect(widget.input).to_be_focused()
    await page.keyboard.type("first line")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("second line")
    await expect(widget.input).to_have_value("first line\nsecond line")

    await page.keyboard.press("Escape")
    await expect(widget.panel).to_be_hidden()
    await expect(widget.launcher).to_be_focused()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    await page.evaluate("ChorusWidget.open()")
    await expect(widget.panel).to_be_visible()
    await page.evaluate("ChorusWidget.demo.toggle()")
    await expect(widget.panel).to_be_hidden()


async def test_a_voice_note_is_recorded_and_sent(page: Page) -> None:
    await page.context.grant_permissions(["microphone"])
    widget = Widget(page)
    await widget.load()
    await widget.open()
    mic = page.locator("chorus-widget .mic")
    await mic.click()
    await expect(mic).to_have_attribute("aria-pressed", "true")
    await page.wait_for_timeout(1500)
    await mic.click()

    await expect(mic).to_have_attribute("aria-pressed", "false")
    await expect(widget.mine().filter(has_text="Voice note")).to_have_count(1)
    await expect(widget.after("Voice note").first).to_be_visible()
    assert await page.evaluate("localStorage.getItem('chorus:demo:queue')") is None


async def test_screenshots_of_the_open_widget(browser: Browser, server: TestServer) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = await browser.new_context(viewport=viewport, base_url=str(server.make_url("/")))
        page = await context.new_page()
        widget = Widget(page)
        await widget.load()
        await widget.open()
        await widget.say(QUESTION)
        await expect(widget.after(QUESTION).filter(has_text=ANSWER)).to_have_count(1)
        await widget.say("I'd like a meditation")
        choices = widget.after("I'd like a meditation").locator(".btns button")
        await expect(choices.first).to_be_visible()
        await page.locator("chorus-widget textarea").blur()
        await page.screenshot(path=SCREENSHOTS / f"{name}.png")
        await context.close()


async def test_a_fast_typist_is_paced_not_refused_and_kept_in_order(page: Page) -> None:
    frames = frames_received(page)
    widget = Widget(page)
    await widget.load()
    await widget.open()
    typed = [f"note {n}" for n in range(1, 31)]  # more than the server's burst of 20
    for text in typed:
        await widget.say(text)

    await expect(widget.mine()).to_have_count(len(typed), timeout=60_000)
    assert await widget.shadow("[...root.querySelectorAll('.msg.me')].map(e => e.textContent)") == (
        typed
    )
    assert not [f for f in frames if f.get("code") == "rate_limited"]
    await page.wait_for_function("localStorage.getItem('chorus:demo:queue') === null")


async def test_a_refused_session_starts_a_new_visitor(page: Page) -> None:
    frames = frames_received(page)
    await page.add_init_script("localStorage.setItem('chorus:demo:session', 'forged.token')")
    widget = Widget(page)
    await widget.load()
    assert {"type": "error", "code": "session_invalid"}.items() <= frames[0].items()
    assert frames[1]["type"] == "welcome"
    assert (
        await page.evaluate("localStorage.getItem('chorus:demo:session')") == frames[1]["session"]
    )


RICH = (
    "**Bold** and *soft* and `code`.\nSecond line\n\n- one\n- two [2]\n\n"
    "[site](https://example.com) [bad](javascript:alert(1)) [mail](mailto:a@example.com) [7]"
)


async def test_the_safe_markdown_subset_and_every_part_of_a_reply(page: Page) -> None:
    """What the demo bot never says, from a scripted socket; the page is the real server's."""
    reply = {
        "kind": "document",
        "text": RICH,
        "sources": [{"number": 2, "title": "Guide", "page": 3, "section": "Exhale"}],
        "audio": {"url": "/media/a.ogg", "mime": "audio/ogg"},
        "document": {"url": "/media/notes.pdf", "mime": "application/pdf", "filename": "n.pdf"},
        "buttons": [
            {"label": "Pay with Stripe", "payload": "", "url": "https://pay.example/c/cs_1"},
            {"label": "Evil", "payload": "", "url": "javascript:alert(1)"},
        ],
    }

    def script(socket: WebSocketRoute) -> None:
        def on_frame(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "hello":
                welcome = {"type": "welcome", "session": "s", "visitor": "v_1", "seq": 0}
                socket.send(json.dumps({**welcome, "bot": {"title": "Ada", "color": "#fde047"}}))
            elif frame["type"] == "message":
                socket.send(json.dumps({"type": "ack", "id": frame["id"]}))
                said = {"type": "said", "seq": 1, "id": frame["id"], "text": frame["text"]}
                socket.send(json.dumps(said))
                socket.send(
                    json.dumps({"type": "progress", "reply_to": frame["id"], "text": "Hm…"})
                )
                socket.send(json.dumps({"type": "delta", "reply_to": frame["id"], "text": "**Bo"}))
                socket.send(
                    json.dumps(
                        {"type": "reply", "seq": 2, "reply_to": frame["id"], "message": reply}
                    )
                )
                socket.send(json.dumps({"type": "reply", "seq": 2, "message": {"text": "again"}}))
                error = {"type": "error", "code": "rate_limited", "message": "Slow down a little."}
                socket.send(json.dumps({**error, "retry_after": 0.1}))

        socket.on_message(on_frame)

    await page.route_web_socket("**/ws/widget/*", script)
    widget = Widget(page)
    await widget.load()
    await expect(widget.launcher).to_have_attribute("aria-label", "Chat with Ada")
    await widget.open()
    await widget.say("show me")
    await expect(page.locator("chorus-widget .note")).to_have_text("Slow down a little.")

    bubble = widget.replies().last
    await expect(bubble.locator("strong")).to_have_text("Bold")
    await expect(bubble.locator("em")).to_have_text("soft")
    await expect(bubble.locator("code")).to_have_text("code")
    await expect(bubble.locator("p br")).to_have_count(1)
    await expect(bubble.locator("ul li")).to_have_text(["one", "two2"])
    await expect(bubble.locator("a[target=_blank]").filter(has_text="site")).to_have_attribute(
        "rel", "noopener noreferrer nofollow"
    )
    await expect(bubble.locator("a", has_text="mail")).to_have_attribute(
        "href", "mailto:a@example.com"
    )
    await expect(bubble.locator("a[href^=javascript]")).to_have_count(0)
    await expect(bubble).to_contain_text("[bad](javascript:alert(1))")
    await expect(bubble).to_contain_text("[7]")  # cites no source: left as it is
    await expect(bubble.locator("ol.src li")).to_have_text("Guide — p. 3, Exhale")
    origin = page.url.rstrip("/")
    await expect(bubble.locator("audio")).to_have_attribute("src", f"{origin}/media/a.ogg")
    await expect(bubble.locator("a.doc")).to_have_attribute("href", f"{origin}/media/notes.pdf")
    await expect(bubble.locator("a.doc")).to_have_attribute("download", "n.pdf")
    # a link button (a checkout page) opens in a new tab; a script URL goes nowhere
    pay = bubble.locator(".btns a.link", has_text="Pay with Stripe")
    await expect(pay).to_have_attribute("href", "https://pay.example/c/cs_1")
    await expect(pay).to_have_attribute("target", "_blank")
    await expect(bubble.locator(".btns a.link", has_text="Evil")).to_have_attribute("href", "#")
    await expect(widget.replies("again")).to_have_count(0)  # seq 2 was shown already
    await expect(widget.log.locator(".msg[aria-hidden]")).to_have_count(0)
    await expect(page.locator("chorus-widget .typing")).to_be_hidden()


async def test_a_website_not_allowed_is_told_the_chat_is_unavailable(
    page: Page, server: TestServer, aiohttp_server: AiohttpServer
) -> None:
    script = server.make_url("/widget.js")

    async def home(request: web.Request) -> web.Response:
        tag = f'<script src="{script}" data-bot="demo"></script>'
        return web.Response(text=f"<title>Shop</title>{tag}", content_type="text/html")

    website = web.Application()  # a creator's own website: another origin (another port)
    website.router.add_get("/", home)
    shop = await aiohttp_server(website)
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    await page.goto(str(shop.make_url("/")))
    widget = Widget(page)

    await expect(widget.state).to_have_text("Unavailable")
    await widget.open()
    alert = page.locator("chorus-widget [role=alert]")
    await expect(alert).to_have_text("This chat isn't available on this site.")
    await expect(alert).to_be_visible()
    await expect(widget.input).to_be_disabled()
    await page.wait_for_timeout(3000)  # backoff would have retried by now
    assert len(sockets) == 1
    await expect(widget.state).to_have_text("Unavailable")

    # once the creator allows the website, it works there
    await AllowedOrigins(server.app[SERVICES].bots).add("demo", str(shop.make_url("/any/page")))
    await page.reload()
    await expect(widget.state).to_have_text("Online")
    await widget.open()
    await expect(widget.replies(GREETING).locator(".btns button").first).to_be_visible()
    await expect(page.locator("chorus-widget [role=alert]")).to_be_hidden()
