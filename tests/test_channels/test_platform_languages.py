"""The languages platforms report, through the real adapters: Telegram's
``language_code`` on messages and button presses, and the widget's ``hello``."""

from __future__ import annotations

from typing import Any

from bots.demo import GREETINGS
from channels.telegram_ids import language_of
from core.services import Services
from core.storage import repository as repo
from tests.fakes.telegram_updates import callback_update, text_update
from tests.test_channels.telegram_app import Client
from tests.test_channels.test_telegram import (
    Setup,
    telegram,  # noqa: F401 - a fixture
)
from tests.test_channels.test_widget_protocol import (
    answered,
    client,  # noqa: F401 - a fixture
    connect,
    services,
    until,
)

SPANISH_GREETING = "¡Hola! Soy Mira."


async def kept(svc: Services, channel: str, sender: str) -> tuple[str | None, str | None]:
    async with svc.db.read() as session:
        party = await repo.find_party(session, "demo", channel, sender)
    assert party is not None
    return party.language, party.language_source


def speaking(update: dict[str, Any], kind: str, language: str) -> dict[str, Any]:
    """The update as from a user whose Telegram app is in ``language``."""
    update[kind]["from"]["language_code"] = language
    return update


async def test_telegrams_language_code_is_followed_on_messages_and_button_presses(
    telegram: Setup,  # noqa: F811
) -> None:
    svc = telegram.services
    await svc.languages.change("demo", greetings={"es": SPANISH_GREETING})
    assert await telegram.post(speaking(text_update("hola", user_id=501), "message", "es")) == 200
    await telegram.settle()
    assert telegram.texts()[0] == SPANISH_GREETING
    assert await kept(svc, "telegram", "501") == ("es", "platform")
    markup = telegram.fake.calls_for("sendMessage")[0].params.get("reply_markup")
    data = markup["inline_keyboard"][0][0]["callback_data"] if markup else "unknown"
    press = speaking(callback_update(data, user_id=501), "callback_query", "pt-BR")
    assert await telegram.post(press) == 200
    await telegram.settle()
    assert await kept(svc, "telegram", "501") == ("pt-br", "platform")


async def test_the_widgets_hello_carries_the_browsers_language(client: Client) -> None:  # noqa: F811
    svc = services(client)
    await svc.languages.change("demo", greetings={"es": SPANISH_GREETING})
    found = {}
    for n, reported in enumerate(("es-ES", "<script>alert(1)</script>", "x" * 100, None)):
        ws = await connect(client)
        await ws.send_json({"type": "hello", "last_seq": 0, "language": reported})
        welcome = (await until(ws, "welcome"))[-1]
        await ws.send_json({"type": "start"})
        greeting = (await until(ws, "reply"))[-1]["message"]["text"]
        await ws.send_json({"type": "message", "id": f"l-{n}", "text": "ok"})
        await answered(ws)
        await ws.close()
        found[reported] = (
            welcome["bot"]["greeting"],
            greeting,
            await kept(svc, "widget", welcome["visitor"]),
        )
    english = "Hello, I'm Mira"
    assert found["es-ES"] == (SPANISH_GREETING, SPANISH_GREETING, ("es-es", "platform"))
    for ignored in ("<script>alert(1)</script>", "x" * 100, None):
        bot_greeting, greeting, stored = found[ignored]
        assert bot_greeting.startswith(english)
        assert greeting.startswith(english)
        assert stored == (None, None)  # "ok" says too little to decide


def test_the_inbox_reads_telegrams_language_code_for_its_apology() -> None:
    """The language an update reports, which the inbox's apology falls back on for a
    sender it has not stored (see tests/test_core/test_inbox.py)."""
    assert language_of(speaking(text_update("hola"), "message", "es")) == "es"
    assert language_of(speaking(callback_update("flow:back"), "callback_query", "uk")) == "uk"
    assert language_of({"message": {"text": "no sender"}}) is None
    assert language_of({"update_id": 1}) is None


async def test_mira_greets_a_spanish_telegram_user_in_her_own_spanish(
    telegram: Setup,  # noqa: F811
) -> None:
    assert await telegram.post(speaking(text_update("hola", user_id=502), "message", "es")) == 200
    await telegram.settle()
    assert telegram.texts()[0] == GREETINGS["es"]  # written for the demo, nothing set
