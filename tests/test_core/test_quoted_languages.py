"""Answers quoted from notes in another language than the user's say so, once per
conversation, in the user's language; Mira's notes answer each language in its own."""

from __future__ import annotations

import itertools

from core.conversation.quoting import NOTED
from core.messages import InboundMessage
from core.services import Services
from core.storage import repository as repo
from tests.chat import Chat, chat_with

_ids = itertools.count(1)
TEA = (
    b"# Tea guide\n\n## Sencha\n\nSencha is a Japanese green tea. Brew sencha at 80 degrees "
    b"for two minutes, never with boiling water.\n\n## Matcha\n\nMatcha is green tea ground "
    b"to a fine powder. Whisk matcha with water at 75 degrees until it foams.\n"
)
SPANISH_NOTE = "(Cito mis notas tal como están escritas, en inglés.)"


async def tea_bot(services: Services) -> str:
    """A bot whose only note is the English tea guide, its vectors made."""
    bot = await services.bots.create("Tea Guide", greeting="Hi!", creator=None)
    await services.knowledge.ingest_bytes(bot.id, TEA, "tea.md", mime_type="text/markdown")
    await services.indexer.index(bot.id)
    return bot.id


async def ask(chat: Chat, text: str, language: str | None) -> str:
    """``text`` sent as a channel reporting ``language`` would; the replies' text."""
    await chat.send(
        InboundMessage(
            channel=chat.channel,
            bot_id=chat.bot_id,
            sender_id=chat.sender_id,
            text=text,
            platform_message_id=f"quoted-{next(_ids)}",
            language=language,
        )
    )
    return chat.text


async def test_a_spanish_user_is_told_once_that_the_notes_are_in_english(
    services: Services,
) -> None:
    chat = chat_with(services, sender_id="lector", bot_id=await tea_bot(services))
    first = await ask(chat, "¿Cómo preparo el sencha?", "es")
    assert "80 degrees" in first  # quoted as written
    assert first.endswith(SPANISH_NOTE)
    second = await ask(chat, "¿Cómo se hace el té matcha?", "es")
    assert "Matcha is green tea" in second
    assert "Cito mis notas" not in second  # said once is enough
    async with services.db.read() as session:
        party = await repo.find_party(session, chat.bot_id, chat.channel.value, "lector")
    assert party is not None
    assert party.context[NOTED] == ["en"]
    # another conversation is told again, in its own language
    other = chat_with(services, sender_id="leser", bot_id=chat.bot_id)
    german = await ask(other, "Wie bereite ich Sencha zu?", "de")
    assert german.endswith(
        "(Ich zitiere meine Notizen so, wie sie geschrieben sind: auf Englisch.)"
    )


async def test_an_answer_in_the_users_language_says_nothing_of_it(services: Services) -> None:
    english = chat_with(services, sender_id="reader", bot_id=await tea_bot(services))
    for question in ("How do I brew sencha?", "How do I make matcha?"):
        answer = await ask(english, question, "en")
        assert "degrees" in answer
        assert "(I quote my notes" not in answer
    # Mira's notes are in every language she speaks: each user is quoted their own (by
    # their words at first: those notes' vectors are made at the next start)
    for language, question, quoted in (
        ("es", "¿Qué es la respiración cuadrada?", "cuatro lados iguales"),
        ("ru", "Что такое квадратное дыхание?", "четыре равные стороны"),
    ):
        chat = chat_with(services, sender_id=f"mira-{language}")
        await ask(chat, "/start", language)
        answer = await ask(chat, question, language)
        assert quoted in answer, answer
        assert "(" not in answer.rsplit("]", 1)[-1]  # no note after the last citation


async def test_a_streamed_answer_ends_with_the_note(services: Services) -> None:
    bot_id = await tea_bot(services)
    deltas: list[str] = []

    async def stream(delta: str) -> None:
        deltas.append(delta)

    message = InboundMessage(
        channel=chat_with(services).channel,
        bot_id=bot_id,
        sender_id="oyente",
        text="¿A qué temperatura se prepara el sencha?",
        platform_message_id=f"quoted-{next(_ids)}",
        language="es",
    )
    replies = await services.engine.handle(message, stream)
    assert "80 degrees" in "".join(deltas)
    assert SPANISH_NOTE not in "".join(deltas)  # the quote streams; the note follows it
    assert replies[-1].text.endswith(SPANISH_NOTE)
