"""Every state, command and a whole guided creation in each shipped language, each reply
checked by the offline language identifier.

A user whose app reports a language walks the demo bot's whole conversation: greeting,
help, every end-user command, a question answered and one declined, a guided meditation
typed in their own words from the first question to the finished script, the library,
the paywall, asking for a person and deleting their data. The demo's creator then runs
every creator command in their own chat. Each reply, its buttons and what the content
job pushes must be in the walker's language: proper names, commands, codes, numbers,
links and the words of the creator's documents (an answer's quoted passages) are taken
out before the identifier reads what is left, and texts too short to tell are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from core.i18n.translator import available
from core.messages import OutboundKind, OutboundMessage
from core.people.langid import LanguageIdentifier, letters
from core.services import Services
from core.settings import Settings
from tests.chat import Chat, chat_with

SHIPPED = tuple(sorted(available()))
EVERY = ("en", *SHIPPED)
# shorter texts say too little for the identifier to tell Spanish from Portuguese
MIN_LETTERS = 24
SIBLING = {"es": "pt", "pt": "es", "ru": "uk", "uk": "ru"}
IDENTIFIER = LanguageIdentifier(min_letters=MIN_LETTERS, min_probability=0.5)  # rank() only

# what the identifier must not read: links, commands, codes, words with digits, names
# (the bot's, the languages' own names in /language), quoted creator texts, file names
_NOT_WORDS = re.compile(
    r"https?://\S+|/\w+|\([a-z]{2,3}(?:-[A-Za-z]{2})?\)|\S*\d\S*|“[^”]*”|«[^»]*»|\"[^\"]*\""
    r"|\b(?:Mira|Chorus|Stripe|Telegram|WhatsApp|Paris|UTC|PDF|DOCX|HTML|Markdown|MB|OK)\b"
    r"|\S+\.(?:md|txt|pdf|json|mp3|ogg|zip)\b"
)


@dataclass(frozen=True)
class Words:
    """What a user of one language types."""

    question: str  # answered from the demo's notes
    off_topic: str  # declined: the notes say nothing about it
    purpose: str
    when: str
    feeling: str
    length: str
    pace: str
    voice: str


WORDS = {
    "en": Words(
        "How can breathing help me calm down when I'm anxious?",
        "Who won the football world cup in 2018?",
        "I want to sleep better and stop worrying at night",
        "before bed",
        "I feel anxious",
        "five minutes",
        "slow",
        "text only",
    ),
    "es": Words(
        "¿Cómo me ayuda la respiración a calmarme cuando estoy ansioso?",
        "¿Quién ganó el mundial de fútbol de 2018?",
        "quiero dormir mejor y dejar de preocuparme por la noche",
        "antes de dormir",
        "me siento ansioso",
        "cinco minutos",
        "lento",
        "solo texto",
    ),
    "pt": Words(
        "Como a respiração me ajuda a acalmar quando estou ansioso?",
        "Quem ganhou a Copa do Mundo de futebol de 2018?",
        "quero dormir melhor e parar de me preocupar à noite",
        "antes de dormir",
        "estou ansioso",
        "cinco minutos",
        "lento",
        "só texto",
    ),
    "de": Words(
        "Wie hilft mir das Atmen, mich zu beruhigen, wenn ich ängstlich bin?",
        "Wer hat die Fußball-Weltmeisterschaft 2018 gewonnen?",
        "ich möchte besser schlafen und nachts nicht mehr grübeln",
        "vor dem Schlafengehen",
        "ich bin ängstlich",
        "fünf Minuten",
        "langsam",
        "nur Text",
    ),
    "fr": Words(
        "Comment la respiration m'aide-t-elle à me calmer quand je suis anxieux ?",
        "Qui a gagné la coupe du monde de football en 2018 ?",
        "je veux mieux dormir et arrêter de m'inquiéter la nuit",
        "avant de dormir",
        "je me sens anxieux",
        "cinq minutes",
        "lent",
        "texte seulement",
    ),
    "ru": Words(
        "Как дыхание помогает мне успокоиться, когда я тревожусь?",
        "Кто выиграл чемпионат мира по футболу в 2018 году?",
        "хочу лучше спать и перестать переживать по ночам",
        "перед сном",
        "я тревожусь",
        "пять минут",
        "медленно",
        "только текст",
    ),
    "uk": Words(
        "Як дихання допомагає мені заспокоїтися, коли я тривожуся?",
        "Хто виграв чемпіонат світу з футболу у 2018 році?",
        "хочу краще спати й перестати хвилюватися вночі",
        "перед сном",
        "я тривожуся",
        "п'ять хвилин",
        "повільно",
        "лише текст",
    ),
    "tr": Words(
        "Kaygılı olduğumda nefes almak sakinleşmeme nasıl yardımcı olur?",
        "2018 Dünya Kupası'nı kim kazandı?",
        "daha iyi uyumak ve geceleri endişelenmeyi bırakmak istiyorum",
        "uyumadan önce",
        "kaygılıyım",
        "beş dakika",
        "yavaş",
        "sadece metin",
    ),
}

#: end-user commands walked in order (the guided flow, /forget and /human come after)
END_USER = (
    "/help",
    "/language",
    "/credits",
    "/buy",
    "/library",
    "/voice",
    "/timezone",
    "/timezone Paris",
    "/stop",
    "/subscribe",
    "/link",
    "/export",
    "/cancel",
    "/frobnicate",
)

#: creator commands the demo's creator runs in their own chat
CREATOR = (
    "/docs",
    "/ask breathing",
    "/deldoc",
    "/pricing",
    "/grant",
    "/features",
    "/languages",
    "/ambience",
    "/origins",
    "/theme",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A walk sends a message a moment: more than a person types, so no rate limit."""
    return settings.model_copy(update={"user_message_burst": 10_000})


def readable(text: str, names: tuple[str, ...] = ()) -> str:
    """``text`` without what is not the bot's own words in a language (``names``: the
    creator's document titles)."""
    for name in names:
        text = text.replace(name, " ")
    return " ".join(_NOT_WORDS.sub(" ", text).split())


@dataclass
class Walk:
    """One user's walk in one language, and every reply that was not in it."""

    chat: Chat
    language: str
    titles: tuple[str, ...] = ()  # the creator's documents' titles, as /docs lists them
    heard: int = 0
    wrong: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    async def say(self, text: str) -> list[OutboundMessage]:
        replies = await self.chat.say(text, language=self.language)
        self.check(replies, text)
        return replies

    async def press(self, payload: str) -> list[OutboundMessage]:
        self.offers(payload)
        replies = await self.chat.press(payload)
        self.check(replies, payload)
        return replies

    def check(self, replies: list[OutboundMessage], after: str) -> None:
        self.transcript.append(f"> {after}")
        for reply in replies:
            buttons = " | ".join(f"{b.label} [{b.payload}]" for b in reply.buttons)
            self.transcript.append(f"< {reply.text}" + (f"\n  {buttons}" if buttons else ""))
            texts = [reply.text]
            if reply.sources and reply.kind is not OutboundKind.PROGRESS:
                # an answer quotes the creator's documents: only the bot's frame is read
                texts = [line for line in reply.text.splitlines() if line.startswith("(")]
            for text in texts:
                self.read(readable(text, self.titles), after)
            # the buttons together, each distinct wording once ("5 minutes" says "minutes")
            labels = dict.fromkeys(readable(b.label) for b in reply.buttons)
            self.read(" · ".join(label for label in labels if label), after)

    def read(self, text: str, after: str) -> None:
        if letters(text) < MIN_LETTERS:
            return
        self.heard += 1
        ranked = [code for code, _ in IDENTIFIER.rank(text, EVERY)]
        # a short list of words both write alike ("Lento · Moderado") may lean to the
        # sibling language; it must still come second, and never English
        close = SIBLING.get(self.language) == ranked[0] and ranked[1] == self.language
        if ranked[0] != self.language and not (close and letters(text) < 80):
            self.wrong.append(f"after {after!r}: {ranked[0]} {text[:160]!r}")

    def offers(self, payload: str) -> bool:
        """Whether the last replies offer the button ``payload`` (the transcript if not)."""
        offered = {b.payload for r in self.chat.last for b in r.buttons}
        assert payload in offered, "\n".join(self.transcript[-12:])
        return True


async def walk(services: Services, language: str) -> Walk:
    words = WORDS[language]
    pricing = {"free_credits": 1, "costs": {"meditation": 1, "ritual": 3, "affirmations": 1}}
    await services.bots.change_settings("demo", pricing=pricing)
    user = Walk(chat_with(services, sender_id=f"walker-{language}"), language)

    await user.say("/start")
    for command in END_USER:
        await user.say(command)
    await user.say(words.question)  # answered from the notes
    await user.say(words.off_topic)  # declined

    # a whole guided meditation, typed in the user's words
    await user.say("/create")
    await user.press("type:meditation")
    for answer in (words.purpose, words.when, words.feeling, words.length, words.pace):
        await user.say(answer)
    await user.say(words.voice)
    assert user.offers("flow:confirm")
    await user.press("flow:confirm")  # made, pushed, delivered
    assert any(r.kind is OutboundKind.TEXT and len(r.text) > 400 for r in user.chat.last)
    await user.say("/library")
    await user.say("/library 1")

    # out of credits: the paywall
    await user.say("/create")
    await user.press("type:ritual")
    for payload in ("purpose:focus", "time_of_day:evening", "feeling:calm", "duration:5"):
        await user.press(payload)
    await user.press("voice:off")
    await user.press("flow:confirm")
    assert user.offers("flow:back")
    await user.say("/cancel")

    await user.say("/human")
    await user.say("/forget")
    await user.press("forget:yes")

    titles = tuple(d.title for d in await services.knowledge.documents("demo"))
    creator = Walk(chat_with(services, sender_id="local"), language, titles)  # the demo's creator
    for command in CREATOR:
        await creator.say(command)
    user.heard += creator.heard
    user.wrong += creator.wrong
    return user


@pytest.mark.parametrize("language", EVERY)
async def test_every_reply_of_a_whole_walk_is_in_the_user_s_language(
    services: Services, language: str
) -> None:
    walked = await walk(services, language)
    assert walked.heard > 40  # the walk said enough to judge
    assert not walked.wrong, "\n".join(walked.wrong)
