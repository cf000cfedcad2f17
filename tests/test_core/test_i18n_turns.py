"""Whole turns in the user's language: commands, the guided flow and credits, through the
real engine, with the language a channel reports or the one set with /language."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
)
from core.services import Services
from tests.chat import Chat, chat_with


def labels(chat: Chat) -> dict[str, str]:
    """The last replies' buttons, payload to label."""
    return {b.payload: b.label for r in chat.last for b in r.buttons}


async def test_a_spanish_user_gets_help_and_commands_in_spanish(services: Services) -> None:
    chat = chat_with(services, sender_id="es-1")
    await chat.say("/help", language="es")
    assert "Esto es lo que puedo hacer:" in chat.text
    assert "• /create: crear una meditación guiada" in chat.text
    assert "Mira" in chat.text  # the bot's name fills its placeholder
    assert "Here's what I can do" not in chat.text
    assert {r.language for r in chat.last} == {"es"}  # for the words channels add
    await chat.say("/cancel", language="es")
    assert chat.text == "Ahora mismo no hay nada que cancelar."
    await chat.say("/language", language="es")
    assert "Te hablo en Español (es)." in chat.text  # what the channel reported
    await chat.say("/frobnicate", language="es")
    assert "No conozco el comando /frobnicate" in chat.text


async def test_language_switches_the_bot_s_own_words(services: Services) -> None:
    chat = chat_with(services, sender_id="switch-1")
    await chat.say("/start")
    await chat.say("/cancel")
    assert chat.text == "There's nothing to cancel right now."
    await chat.say("/language de")
    assert "Sprache auf de gesetzt" in chat.text  # the confirmation is already in German
    await chat.say("/cancel")
    assert chat.text == "Gerade gibt es nichts abzubrechen."
    await chat.say("/language pt-BR")  # no Brazilian catalogue: Portuguese
    await chat.say("/cancel")
    assert chat.text == "Não há nada para cancelar agora."
    await chat.say("/language ja")  # not a language the bot speaks: refused, in Portuguese
    assert "Aqui não falo 日本語 (ja)." in chat.text
    await chat.say("/cancel")
    assert chat.text == "Não há nada para cancelar agora."


async def test_a_guided_meditation_in_spanish(services: Services) -> None:
    chat = chat_with(services, sender_id="es-2")
    await chat.say("/start", language="es")
    assert labels(chat)["type:meditation"] == "Meditación guiada"
    await chat.press("type:meditation")
    assert "vamos a crear tu meditación guiada" in chat.text
    assert "¿En qué te gustaría que te ayudara?" in chat.text
    buttons = labels(chat)
    assert buttons["purpose:sleeping_better"] == "Dormir mejor"
    assert (buttons["flow:back"], buttons["flow:cancel"]) == ("Atrás", "Cancelar")
    await chat.press("purpose:sleeping_better")
    assert "¿Cuándo lo vas a usar?" in chat.text
    assert labels(chat)["time_of_day:bedtime"] == "Antes de dormir"
    await chat.press("time_of_day:bedtime")
    assert "¿Cómo te sientes ahora mismo?" in chat.text
    await chat.press("feeling:tired")
    assert "¿Cuánto quieres que dure?" in chat.text
    assert labels(chat)["duration:10"] == "10 minutos"
    await chat.press("duration:10")
    assert "¿Qué ritmo te va mejor?" in chat.text
    await chat.press("pace:slow")
    assert "¿Lo quieres en audio además de en texto?" in chat.text
    await chat.press("voice:off")
    summary = chat.text
    assert "Aquí tienes tu meditación guiada:" in summary
    for line in (
        "• Objetivo: dormir mejor",
        "• Momento del día: antes de dormir",
        "• Cómo te sientes: cansado",
        "• Duración: 10 minutos",
        "• Ritmo: lento",
        "• Voz: solo texto",
        "¿Lo creo?",
    ):
        assert line in summary, summary
    buttons = labels(chat)
    assert buttons["flow:confirm"] == "Crear"
    assert buttons["edit:duration"] == "Cambiar duración"
    await chat.press("edit:duration")
    assert "(Ahora: 10 minutos.)" in chat.text
    await chat.say("99")
    assert "No puedo crear algo de 99 minutos" in chat.text


async def test_a_button_from_an_earlier_step_is_refused_in_the_user_s_language(
    services: Services,
) -> None:
    chat = chat_with(services, sender_id="fr-1")
    await chat.say("/start", language="fr")
    await chat.press("type:ritual")
    assert "créons ton rituel" in chat.text
    await chat.press("purpose:focus")
    stale = await chat.send(
        InboundMessage(
            channel=chat.channel,
            bot_id=chat.bot_id,
            sender_id=chat.sender_id,
            button_payload="pace:slow",  # a button of a later question, not shown now
            platform_message_id="i18n-stale-button",
        )
    )
    assert "Ce bouton appartient à une étape précédente" in stale[0].text
    assert labels(chat)["time_of_day:evening"] == "Soir"


@pytest.mark.parametrize(
    ("credits", "said"),
    [
        (1, "У тебя 1 кредит."),
        (2, "У тебя 2 кредита."),
        (5, "У тебя 5 кредитов."),
        (21, "У тебя 21 кредит."),
    ],
)
async def test_a_russian_statement_counts_credits_in_russian(
    services: Services, credits: int, said: str
) -> None:
    pricing = {"free_credits": credits, "costs": {"ritual": 3}}
    await services.bots.change_settings("demo", pricing=pricing)
    chat = chat_with(services, sender_id=f"ru-{credits}")
    await chat.say("привет", language="ru")
    statement = (await chat.say("/credits", language="ru"))[-1].text
    assert statement.splitlines()[0] == said
    assert "• ритуал: 3 кредита" in statement


async def test_a_russian_paywall_and_its_buttons(services: Services) -> None:
    pricing = {"free_credits": 1, "costs": {"ritual": 3}}
    await services.bots.change_settings("demo", pricing=pricing)
    chat = chat_with(services, sender_id="ru-paywall")
    await chat.say("/start", language="ru")
    await chat.press("type:ritual")
    for payload in ("purpose:focus", "time_of_day:evening", "feeling:calm", "duration:5"):
        await chat.press(payload)
    await chat.press("voice:off")
    assert "Создаём? Это стоит 3 кредита." in chat.text
    await chat.press("flow:confirm")
    assert "Твой ритуал стоит 3 кредита, а у тебя 1." in chat.text
    assert labels(chat)["flow:back"] == "Назад"
    assert chat.last[-1].buttons[-1].payload == "flow:back"


async def test_english_stays_the_default(services: Services) -> None:
    chat = chat_with(services, sender_id="en-1")
    await chat.say("/start", language=None)
    assert chat.text.startswith("Hello, I'm Mira")  # the creator's own welcome, as written
    assert labels(chat)["type:meditation"] == "Guided meditation"
    await chat.say("/cancel", language="ja")  # a language without a catalogue
    assert chat.text == "There's nothing to cancel right now."


async def test_voice_notes_refused_in_the_user_s_language(
    services: Services, tmp_path: Path
) -> None:
    chat = chat_with(services, sender_id="de-voice")
    await chat.say("/start", language="de")
    garbage = tmp_path / "garbage.ogg"
    garbage.write_bytes(b"OggS" + bytes(5000))
    for size, said in (
        (5004, "Ich konnte die Sprachnachricht nicht abspielen."),
        (
            200 * 1024 * 1024,
            "ich kann bis zu 20 MB anhören.",
        ),
    ):
        note = Attachment(AttachmentKind.VOICE, "audio/ogg", size, garbage.as_uri())
        await chat.send(
            InboundMessage(Channel.TERMINAL, "demo", "de-voice", attachments=(note,), language="de")
        )
        assert said in chat.text
