"""A creator's commands in the creator's own language: the replies to /docs, /pricing,
/features and the rest in their own bot's chat, and the messages about a document they
sent, which the document job sends later, through the outbox.

The creator talks to the real engine as a channel would, their app reporting their
language; each reply's language is told by the same identifier the bot uses on users'
text, and a few replies are checked word for word.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from core.i18n.translator import translator
from core.messages import (
    Attachment,
    AttachmentKind,
    InboundMessage,
    OutboundMessage,
    file_reference,
)
from core.people.langid import LanguageIdentifier, letters
from core.services import Services
from core.text import SHIPPED
from tests.chat import Chat, chat_with, mailbox

_ids = itertools.count(1)
IDENTIFIER = LanguageIdentifier()
#: fewer letters of prose than this say too little to tell a language by
MIN_LETTERS = 25
#: commands, their arguments, addresses and file names: English in every language
COMMAND_WORDS = re.compile(
    r"/\w+|\S+://\S+|\S+\.(?:md|pdf|site|example)\b|\b(?:add|remove|list|color|title|"
    r"position|avatar|reset|left|right|cost|free|pack|plan|questions|currency|off|on|"
    r"create|offer|default|greeting|persona|rain|pad|music|level|meditation|affirmations|"
    r"ritual|small|monthly|usd|en|es|de|ID|BOT|FILE|STRIPE_\w+|telegram:\S+|whatsapp:\S+|"
    r"chorus|ambience|dB|dense|bm25|fused)\b"
)
BREATHING = (
    "# Evening breathing\n\nBreathe in for four counts, hold for seven and breathe out "
    "for eight. Repeat the cycle four times before sleep to calm the nervous system.\n\n"
    "## Morning\n\nIn the morning, three slow breaths by an open window wake you gently.\n"
)
#: every creator command with a few wrong and right arguments
COMMANDS = (
    "/docs",
    "/deldoc",
    "/deldoc 0123456789abcdef",
    "/ask",
    "/ask What helps me fall asleep in the evening?",
    "/origins",
    "/origins add not a website",
    "/origins add https://shop.example/page",
    "/origins sideways",
    "/theme",
    "/theme color red",
    "/theme color #0F766E",
    "/theme shape round",
    "/pricing",
    "/pricing cost sandwich 2",
    "/pricing pack small 10 4.99",
    "/pricing questions 3 1",
    "/grant",
    "/grant telegram:404 5",
    "/features",
    "/features sing on",
    "/features create off",
    "/languages",
    "/languages default xx",
    "/ambience",
    "/ambience thunder",
    "/ambience rain -20",
)


async def say(chat: Chat, text: str, language: str) -> list[OutboundMessage]:
    """``text`` from the creator, whose app reports ``language``."""
    return await chat.say(text, language=language)


def prose(text: str) -> str:
    """``text`` without what stays English in every language: commands and their
    arguments, addresses, file names."""
    return COMMAND_WORDS.sub(" ", text)


def language_of(text: str) -> str:
    """The language the identifier finds ``text``'s prose in, among the shipped ones."""
    return IDENTIFIER.rank(prose(text), SHIPPED)[0][0]


def check_language(replies: list[OutboundMessage], language: str, command: str) -> None:
    """Every reply with enough words to tell is in ``language``."""
    for reply in replies:
        if letters(prose(reply.text)) >= MIN_LETTERS:
            assert language_of(reply.text) == language, (command, reply.text)


async def creator_of(services: Services, name: str, sender_id: str) -> Chat:
    """A chat of a new bot's creator with their own bot."""
    creator = chat_with(services, sender_id=sender_id)
    bot = await services.bots.create(name, creator=(creator.channel.value, creator.sender_id))
    creator.bot_id = bot.id
    return creator


async def test_every_creator_command_answers_in_spanish(services: Services) -> None:
    creator = await creator_of(services, "Calma", "creator-es")
    for command in COMMANDS:
        check_language(await say(creator, command, "es"), "es", command)

    docs = (await say(creator, "/docs", "es"))[-1].text
    assert docs.startswith("Calma todavía no tiene documentos. Envíame un archivo PDF")
    priced = (await say(creator, "/pricing pack big 100 19.5", "es"))[-1].text
    assert priced.startswith("Guardado.\nLos usuarios nuevos reciben 0 créditos gratis.")
    assert "Paquete small: 10 créditos por 4,99\xa0€" in priced
    assert "Paquete big: 100 créditos por 19,50\xa0€" in priced
    assert "Preguntas: 3 gratis al día, luego 1 crédito cada una." in priced
    refused = (await say(creator, "/pricing cost sandwich 2", "es"))[-1].text
    assert refused.startswith(
        "No ha funcionado: 'sandwich' no es algo que yo cree (meditation, affirmations, ritual)."
    )
    assert "\n/pricing free 5: los créditos que recibe cada usuario nuevo\n" in refused
    said = (await say(creator, "/ambience rain -22.5", "es"))[-1].text
    assert said == (
        "Bajo la voz grabada de Calma: lluvia suave, 22,5 dB por debajo de la voz. "
        "Las grabaciones que se hagan a partir de ahora lo usan."
    )
    features = (await say(creator, "/features", "es"))[-1].text
    assert features.startswith("Funciones de Calma:\n• create: desactivada — creación guiada")
    assert (await say(creator, "/grant telegram:404 5", "es"))[-1].text == (
        "telegram:404 todavía no ha hablado con Calma."
    )
    assert (await say(creator, "/origins add nowhere", "es"))[-1].text == (
        "nowhere no es una dirección web como https://example.com."
    )
    assert (await say(creator, "/languages", "es"))[-1].text.startswith(
        "Calma habla English (en), Español (es)"
    )


async def test_creator_commands_answer_in_ukrainian_with_its_plurals(services: Services) -> None:
    creator = await creator_of(services, "Тиша", "creator-uk")
    for command in COMMANDS:
        check_language(await say(creator, command, "uk"), "uk", command)

    assert (await say(creator, "/docs", "uk"))[-1].text.startswith("У Тиша поки немає документів.")
    uk = translator("uk")
    for free, said in (
        (1, "1 безкоштовний кредит."),
        (3, "3 безкоштовні кредити."),
        (5, "5 безкоштовних кредитів."),
        (2000, f"{uk.number(2000)} безкоштовних кредитів."),
    ):
        reply = (await say(creator, f"/pricing free {free}", "uk"))[-1].text
        assert f"Нові користувачі отримують {said}" in reply
    assert (await say(creator, "/pricing free lots", "uk"))[-1].text.startswith(
        "Не вийшло: 'lots' — не ціле число."
    )
    assert (await say(creator, "/deldoc 0123456789abcdef", "uk"))[-1].text == (
        "Не вийшло: документа 0123456789abcdef немає: /docs покаже список"
    )
    # the same commands in English, for a creator whose app is in English
    assert (await say(creator, "/docs", "en"))[-1].text.startswith("Тиша has no documents yet.")


async def told_about(
    services: Services, creator: Chat, sent: InboundMessage
) -> list[OutboundMessage]:
    """What the creator hears about a document sent: the document job's messages,
    pushed through the outbox while it runs in the background."""
    heard = await creator.send(sent)
    await services.jobs.idle()
    return [*heard, *mailbox(services.outbox).take(creator.address)]


async def test_a_documents_progress_and_outcome_reach_the_creator_in_their_language(
    services: Services, tmp_path: Path
) -> None:
    creator = await creator_of(services, "Дихання", "creator-uk-docs")
    path = tmp_path / "breathing.md"
    path.write_text(BREATHING, encoding="utf-8")
    document = Attachment(
        AttachmentKind.DOCUMENT,
        "text/markdown",
        path.stat().st_size,
        file_reference(path),
        filename="breathing.md",
    )
    sent = InboundMessage(
        creator.channel,
        creator.bot_id,
        creator.sender_id,
        attachments=(document,),
        platform_message_id=f"creator-{next(_ids)}",
        language="uk",
    )
    mailed = await told_about(services, creator, sent)
    told = [m.text for m in mailed]
    assert told, "the document job told the creator nothing"
    assert told[0] == "Читаю breathing.md…"
    learned = told[-1]
    assert learned.startswith("Вивчив «Evening breathing»: ")
    assert "/docs покаже все, що я знаю." in learned
    check_language(mailed, "uk", "a document")

    docs = (await say(creator, "/docs", "uk"))[-1].text
    assert docs.startswith("Дихання знає 1 документ:\n• ")
    assert docs.endswith("Видалити документ: /deldoc ID.")

    # a file over the limit is refused at once, in the creator's language
    limit = services.knowledge.limits.max_bytes
    huge = Attachment(
        AttachmentKind.DOCUMENT, "application/pdf", limit + 1, file_reference(path), "big.pdf"
    )
    refused = await creator.send(
        InboundMessage(
            creator.channel,
            creator.bot_id,
            creator.sender_id,
            attachments=(huge,),
            platform_message_id=f"creator-{next(_ids)}",
            language="es",
        )
    )
    megabytes = translator("es").number(limit // (1024 * 1024))
    assert [r.text for r in refused] == [
        f"big.pdf es demasiado grande: el límite es de {megabytes} MB."
    ]

    # sent again in Spanish: the job keeps that language for what it says later
    again = InboundMessage(
        creator.channel,
        creator.bot_id,
        creator.sender_id,
        attachments=(document,),
        platform_message_id=f"creator-{next(_ids)}",
        language="es",
    )
    told = [m.text for m in await told_about(services, creator, again)]
    assert told[-1].startswith("Ya conozco «Evening breathing» (id ")
    assert told[-1].endswith("); no ha cambiado nada.")
