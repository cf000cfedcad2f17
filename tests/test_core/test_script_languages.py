"""Scripted content in the user's language: complete catalogues, translated pieces.

Each shipped language's catalogue translates every line of the library with the same
placeholders, and its compiled ``.mo`` says what its ``.po`` says; a piece asked for in
that language speaks it (no line left in English, the language's own letters and
words), a bedtime piece says nothing of that language's waking words, a morning piece
ends with energy, and the user's purpose is matched in their words but never read back.
"""

from __future__ import annotations

import gettext
import re
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bots.profile import BotProfile
from core.content import ContentType
from core.generation.practices.catalogue import msgids, placeholders, po_path
from core.generation.practices.frames import feeling_lines, waking_in
from core.generation.practices.themes import occasion, themes_of
from core.generation.practices.translation import SHIPPED, language_of, translator
from core.generation.scripts import write_script
from core.generation.seams import ContentRequest, GeneratedContent

BOT = BotProfile(id="calm-coach", name="Calm Coach")
PAUSE_LINE = re.compile(r"^\(pause [\d.]+ seconds\)$")
STAGE_DIRECTION = re.compile(r"\(\s*pause|\[\s*pause|\bpause \d|~\d", re.IGNORECASE)

#: per language: a purpose naming an interview tomorrow (with a company the piece must
#: never repeat), its feeling, the words the title starts with, and the language's signs
LANGUAGES: dict[str, dict[str, Any]] = {
    "es": {
        "purpose": "Tengo una entrevista mañana en Telefónica y no paro de pensar",
        "feeling": "muy nerviosa",
        "title": "Meditación de 10 minutos · con serenidad ante la entrevista de mañana",
        "intention": "mientras te preparas para la entrevista de mañana",
        "letters": re.compile(r"[ñáéíóú¿]"),
        "words": ("respiración", "cuerpo", "tu"),
        "kinds": {
            ContentType.AFFIRMATIONS: "Afirmaciones de 10 minutos · ",
            ContentType.RITUAL: "Ritual de 10 minutos · ",
        },
        "company": "Telefónica",
    },
    "ru": {
        "purpose": "Завтра собеседование в Сбербанке, и мысли не дают уснуть",
        "feeling": "тревожно",
        "title": "Медитация, 10 мин. · спокойно к завтрашнему собеседованию",
        "intention": "пока ты готовишься к завтрашнему собеседованию",
        "letters": re.compile(r"[а-яё]"),
        "words": ("дыхание", "ты"),
        "kinds": {
            ContentType.AFFIRMATIONS: "Аффирмации, 10 мин. · ",
            ContentType.RITUAL: "Ритуал, 10 мин. · ",
        },
        "company": "Сбербанк",
    },
    "de": {
        "purpose": "Morgen habe ich ein Vorstellungsgespräch bei Siemens und bin total aufgeregt",
        "feeling": "nervös",
        "title": "10-minütige Meditation · gelassen ins Vorstellungsgespräch morgen",
        "intention": "während du dich auf dein Vorstellungsgespräch morgen vorbereitest",
        "letters": re.compile(r"[äöüß]"),
        "words": ("atem", "du"),
        "kinds": {
            ContentType.AFFIRMATIONS: "10-minütige Affirmationen · ",
            ContentType.RITUAL: "10-minütiges Ritual · ",
        },
        "company": "Siemens",
    },
    "fr": {
        "purpose": "J'ai un entretien d'embauche demain chez Renault et je stresse",
        "feeling": "angoissée",
        "title": "Méditation de 10 minutes · avec sérénité pour l'entretien de demain",
        "intention": "pendant que tu te prépares à l'entretien de demain",
        "letters": re.compile(r"[éèêàçùôî]"),
        "words": ("respiration", "tu"),
        "kinds": {
            ContentType.AFFIRMATIONS: "Affirmations de 10 minutes · ",
            ContentType.RITUAL: "Rituel de 10 minutes · ",
        },
        "company": "Renault",
    },
    "pt": {
        "purpose": "Tenho uma entrevista de emprego amanhã na Petrobras e estou nervosa",
        "feeling": "nervosa",
        "title": "Meditação de 10 minutos · com serenidade para a entrevista de amanhã",
        "intention": "enquanto você se prepara para a entrevista de amanhã",
        "letters": re.compile(r"[ãõçáéêó]"),
        "words": ("respiração", "você"),
        "kinds": {
            ContentType.AFFIRMATIONS: "Afirmações de 10 minutos · ",
            ContentType.RITUAL: "Ritual de 10 minutos · ",
        },
        "company": "Petrobras",
    },
    "uk": {
        "purpose": "Завтра співбесіда в Приватбанку, і думки не дають заснути",
        "feeling": "тривожно",
        "title": "Медитація, 10 хв · спокійно до завтрашньої співбесіди",
        "intention": "поки ти готуєшся до завтрашньої співбесіди",
        "letters": re.compile(r"[іїєґ]"),
        "words": ("дихання", "ти"),
        "kinds": {
            ContentType.AFFIRMATIONS: "Афірмації, 10 хв · ",
            ContentType.RITUAL: "Ритуал, 10 хв · ",
        },
        "company": "Приватбанк",
    },
    "tr": {
        "purpose": "Yarın Koç Holding'de iş görüşmem var ve aklım durmuyor",
        "feeling": "endişeliyim",
        "title": "10 dakikalık meditasyon · yarınki mülakata sakinlikle",
        "intention": "yarınki mülakatına hazırlanırken",
        "letters": re.compile(r"[çğışöü]"),
        "words": ("nefes", "ve"),
        "kinds": {
            ContentType.AFFIRMATIONS: "10 dakikalık olumlamalar · ",
            ContentType.RITUAL: "10 dakikalık ritüel · ",
        },
        "company": "Koç Holding",
    },
}


def compose(language: str, content_type: ContentType, **answers: Any) -> GeneratedContent:
    request = ContentRequest(BOT, content_type, answers, language=language, variation="job-1")
    return write_script(request)


def spoken_lines(content: GeneratedContent) -> list[str]:
    return [line for line in content.spoken.splitlines() if not PAUSE_LINE.match(line)]


def test_every_shipped_language_has_a_test_and_only_shipped_ones_are_used() -> None:
    assert set(LANGUAGES) == set(SHIPPED)
    assert language_of(None) == language_of("en") == language_of("xx") == "en"
    assert language_of("ES_mx") == "es"
    assert language_of("pt-br") == language_of("pt_BR") == "pt"
    assert translator("de-AT").language == ("de" if "de" in SHIPPED else "en")


@pytest.mark.parametrize("language", SHIPPED)
def test_catalogue_translates_every_line_with_its_placeholders(language: str) -> None:
    with po_path(language).open("rb") as source:
        catalog = read_po(source)
    with po_path(language).with_suffix(".mo").open("rb") as source:
        compiled = read_mo(source)
    expected = msgids()
    messages = {m.id: m for m in catalog if m.id}
    assert sorted(messages) == sorted(expected), "the catalogue's ids are not the library's"
    for msgid in expected:
        message = messages[msgid]
        assert isinstance(message.string, str), msgid
        assert message.string.strip(), msgid
        assert not message.fuzzy, msgid
        assert placeholders(message.string) == placeholders(msgid), msgid
        assert compiled[msgid].string == message.string, f".mo out of date: {msgid}"
    # the runtime loader reads the same .mo
    assert gettext.translation("practices", po_path(language).parents[2], [language])


@pytest.mark.parametrize("language", SHIPPED)
def test_bedtime_meditation_speaks_the_language_and_never_wakes(language: str) -> None:
    case = LANGUAGES[language]
    content = compose(
        language,
        ContentType.MEDITATION,
        purpose=case["purpose"],
        feeling=case["feeling"],
        time_of_day="bedtime",
        duration=10,
        pace="slow",
    )
    english = set(msgids())
    lines = spoken_lines(content)
    assert lines
    assert not [line for line in lines if line in english]
    assert content.title == case["title"]
    assert case["intention"] in content.text  # the interview, tomorrow: found in their words
    assert case["letters"].search(content.text)
    assert all(re.search(rf"\b{word}\b", content.text.lower()) for word in case["words"])
    assert not waking_in(language).search(content.text)
    assert case["purpose"] not in content.text
    assert case["company"] not in content.text
    assert not STAGE_DIRECTION.search(content.text)


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("content_type", list(ContentType))
@pytest.mark.parametrize("variation", ["a", "b", "c"])
def test_no_bedtime_piece_wakes_the_listener_and_mornings_end_with_energy(
    language: str, content_type: ContentType, variation: str
) -> None:
    waking = waking_in(language)
    for purpose in ("", LANGUAGES[language]["purpose"], "sleep", "public speaking", "work"):
        for feeling in ("", LANGUAGES[language]["feeling"], "hopeful", "tired"):
            request = ContentRequest(
                BOT,
                content_type,
                {"purpose": purpose, "feeling": feeling, "time_of_day": "bedtime"},
                language=language,
                variation=variation,
            )
            bedtime = write_script(request)
            assert not waking.search(bedtime.text), (purpose, feeling, waking.search(bedtime.text))
    morning = compose(language, content_type, time_of_day="morning", purpose="work")
    closing = morning.text.strip().split("\n\n")[-2]  # the last paragraph before signing off
    assert waking.search(closing), closing


@pytest.mark.parametrize("language", SHIPPED)
def test_affirmations_and_ritual_come_out_in_the_language(language: str) -> None:
    case = LANGUAGES[language]
    english = set(msgids())
    for content_type in (ContentType.AFFIRMATIONS, ContentType.RITUAL):
        content = compose(
            language,
            content_type,
            purpose=case["purpose"],
            time_of_day="evening",
            duration=10,
        )
        assert not [line for line in spoken_lines(content) if line in english]
        assert not [line for line in content.text.splitlines() if line in english]
        assert case["letters"].search(content.text)
        assert case["purpose"] not in content.text
        assert case["company"] not in content.text
        assert "{" not in content.text
        assert not STAGE_DIRECTION.search(content.text)
        assert content.title.startswith(case["kinds"][content_type])


def test_english_is_the_library_unchanged() -> None:
    answers = {"purpose": "job interview tomorrow", "time_of_day": "bedtime", "duration": 10}
    plain = write_script(ContentRequest(BOT, ContentType.MEDITATION, answers))
    for code in ("en", "EN-gb", "xx"):
        said = write_script(ContentRequest(BOT, ContentType.MEDITATION, answers, language=code))
        assert said == plain
    assert plain.title == "10-minute meditation · steady for tomorrow's interview"


@pytest.mark.parametrize(
    ("language", "purpose", "theme", "said"),
    [
        ("es", "tengo una entrevista mañana", "interview", "tomorrow's"),
        ("es", "no puedo dormir por las noches", "sleep", "your"),
        ("es", "quiero hablar en público esta semana", "public_speaking", "this week's"),
        ("es", "una meditación para cada mañana, con calma", "calm", "your"),
        ("es", "esta mañana tengo un examen", "focus", "today's"),
        ("ru", "у меня завтра собеседование", "interview", "tomorrow's"),
        ("ru", "не могу уснуть, бессонница", "sleep", "your"),
        ("ru", "сегодня вечером выступление на конференции", "public_speaking", "tonight's"),
        ("ru", "на следующей неделе экзамен, не могу сосредоточиться", "focus", "next week's"),
        ("de", "ich kann nachts nicht einschlafen", "sleep", "your"),
        ("de", "jeden Morgen mehr Gelassenheit statt Stress", "calm", "your"),
        ("de", "heute Abend halte ich eine Rede", "public_speaking", "tonight's"),
        ("fr", "je n'arrive pas à dormir la nuit", "sleep", "your"),
        ("fr", "examen la semaine prochaine, je suis distrait", "focus", "next week's"),
        ("pt", "não consigo dormir, insônia toda noite", "sleep", "your"),
        ("pt", "vou falar em público hoje à noite", "public_speaking", "tonight's"),
        ("uk", "не можу заснути, безсоння", "sleep", "your"),
        ("uk", "іспит наступного тижня, важко зосередитися", "focus", "next week's"),
        ("tr", "geceleri uyuyamıyorum", "sleep", "your"),
        ("tr", "bu akşam bir sunumum var", "public_speaking", "tonight's"),
        ("tr", "İşimde çok stres var, İŞTE toplantılar", "career", "your"),
    ],
)
def test_a_purpose_in_the_users_language_finds_its_theme_and_moment(
    language: str, purpose: str, theme: str, said: str
) -> None:
    assert themes_of(purpose, language)[0].key == theme
    assert occasion(purpose, language) == said


def test_an_english_purpose_is_matched_by_the_english_keywords_only() -> None:
    # "lit" (French for bed) must not make "a little" about sleep
    assert themes_of("I feel a little stressed")[0].key == "calm"
    assert themes_of("tengo una entrevista mañana")[0].key == "general"
    assert occasion("tengo una entrevista mañana") == "your"


@pytest.mark.parametrize(
    ("language", "feeling", "english"),
    [
        ("es", "cansada", "tired"),
        ("es", "estoy enfadado", "angry"),
        ("ru", "тревожно", "anxious"),
        ("ru", "грустно", "sad"),
        ("de", "entspannt", "calm"),
        ("de", "total erschöpft", "tired"),
        ("fr", "un peu agacée", "angry"),
        ("pt", "muito cansada", "tired"),
        ("uk", "дуже сумно", "sad"),
        ("tr", "çok yorgunum", "tired"),
    ],
)
def test_a_feeling_in_the_users_language_is_met_as_in_english(
    language: str, feeling: str, english: str
) -> None:
    assert feeling_lines(feeling, language) == feeling_lines(english)
    assert feeling_lines(feeling, language) != feeling_lines("", language)
