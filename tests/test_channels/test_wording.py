"""The words a channel puts around a reply (its sources' heading and pages, WhatsApp's
"reply with a number") are in the reply's language; English without one."""

from __future__ import annotations

from channels.telegram import sources_html
from channels.terminal import render_text
from channels.whatsapp import render
from core.messages import Button, Media, OutboundMessage, Source

SOURCES = (Source(1, "Breathing notes", page=3, section="Evening"),)
BUTTONS = (Button("Dormir mejor", "purpose:sleeping_better"), Button("Atrás", "flow:back"))


def _url(media: Media) -> str:
    return f"https://media.example/{media.reference}"


def test_whatsapp_words_follow_the_reply() -> None:
    spanish = OutboundMessage(
        "Respira despacio [1].", buttons=BUTTONS, sources=SOURCES, language="es"
    )
    [message], options = render([spanish], _url)
    assert "*Fuentes*\n[1] Breathing notes, p. 3, Evening" in message.body
    assert message.body.endswith("1. Dormir mejor\n2. Atrás\n_Responde con un número._")
    assert options[0] == {"label": "Dormir mejor", "payload": "purpose:sleeping_better"}
    [english], _ = render([OutboundMessage("Breathe [1].", buttons=BUTTONS, sources=SOURCES)], _url)
    assert "*Sources*" in english.body
    assert english.body.endswith("_Reply with a number._")


def test_telegram_and_terminal_sources_follow_the_reply() -> None:
    assert sources_html(SOURCES).startswith("<b>Sources</b>\n[1] Breathing notes, p. 3")
    german = OutboundMessage("Atme ruhig [1].", sources=SOURCES, language="de")
    assert "Quellen:\n  [1] Breathing notes (S. 3, Evening)" in render_text(german)
    russian = OutboundMessage("Дыши [1].", sources=SOURCES, language="ru")
    assert "Источники:\n  [1] Breathing notes (с. 3, Evening)" in render_text(russian)


def test_a_stored_reply_keeps_its_language() -> None:
    reply = OutboundMessage("Hola", language="es")
    assert OutboundMessage.from_dict(reply.to_dict()) == reply
    assert "language" not in OutboundMessage("Hi").to_dict()
