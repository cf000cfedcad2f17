"""The guided flow reads answers in every shipped language: one table per language, then
the lexicons' own consistency (every term means what its table says, on its own)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.content import ContentType
from core.conversation import reading
from core.conversation.flow import FIELDS
from core.conversation.words import LEXICONS, Lexicon
from core.generation.practices.frames import NO_FEELING, feeling_lines

Case = tuple[str, str, object]

# what each kind of answer reads to: a field's stored value, a navigation word, a type
_NAVIGATION: dict[str, Callable[[str], bool]] = {
    "confirm": reading.is_confirm,
    "back": reading.is_back,
    "cancel": reading.is_cancel,
}


def read(kind: str, text: str, language: str | None) -> object:
    if kind in _NAVIGATION:
        return _NAVIGATION[kind](text)
    if kind == "type":
        return reading.content_type_in(text)
    parsed = FIELDS[kind].parse(text, language)
    return parsed.value if parsed.problem is None else None


TABLES: dict[str, list[Case]] = {
    "en": [
        ("duration", "ten minutes", 10),
        ("duration", "a quarter of an hour", 15),
        ("duration", "um, twelve minutes I think", 12),
        ("duration", "half an hour", None),  # 30: too long
        ("time_of_day", "before bed", "bedtime"),
        ("time_of_day", "in the morning", "morning"),
        ("feeling", "anxious about tomorrow", "anxious about tomorrow"),  # English: kept
        ("feeling", "I feel brave", "I feel brave"),  # not Portuguese "brava" (angry)
        ("feeling", "a gut feeling it'll be fine", "a gut feeling it'll be fine"),
        ("pace", "slowly please", "slow"),
        ("voice", "text only", "off"),
        ("confirm", "yes please", True),
        ("back", "go back", True),
        ("cancel", "never mind", True),
        ("type", "make me a meditation", ContentType.MEDITATION),
    ],
    "es": [
        ("duration", "10 minutos", 10),
        ("duration", "diez minutos", 10),
        ("duration", "un cuarto de hora", 15),
        ("duration", "unos doce minutos", 12),
        ("duration", "media hora", None),
        ("time_of_day", "antes de dormir", "bedtime"),
        ("time_of_day", "por la mañana", "morning"),
        ("time_of_day", "por la tarde", "midday"),
        ("feeling", "me siento ansioso", "anxious"),
        ("feeling", "estoy agotada", "tired"),
        ("feeling", "tengo una entrevista mañana", "tengo una entrevista mañana"),
        ("pace", "lento, por favor", "slow"),
        ("voice", "no, solo texto", "off"),
        ("voice", "sí", "on"),
        ("confirm", "sí", True),
        ("confirm", "Sí, créala", True),
        ("back", "atrás", True),
        ("cancel", "cancelar", True),
        ("type", "quiero una meditación", ContentType.MEDITATION),
        ("type", "unas afirmaciones", ContentType.AFFIRMATIONS),
    ],
    "pt": [
        ("duration", "dez minutos", 10),
        ("duration", "quinze minutos", 15),
        ("duration", "um quarto de hora", 15),
        ("duration", "vinte e cinco minutos", None),
        ("time_of_day", "antes de dormir", "bedtime"),
        ("time_of_day", "de manhã", "morning"),
        ("time_of_day", "à noite", "bedtime"),
        ("feeling", "estou muito estressada", "stressed"),
        ("feeling", "cansado", "tired"),
        ("pace", "devagar", "slow"),
        ("voice", "só texto", "off"),
        ("confirm", "sim, pode criar", True),
        ("back", "voltar", True),
        ("cancel", "cancela", True),
        ("type", "quero uma meditação", ContentType.MEDITATION),
        ("type", "um ritual", ContentType.RITUAL),
    ],
    "de": [
        ("duration", "zehn Minuten", 10),
        ("duration", "15 Min.", 15),
        ("duration", "eine Viertelstunde", 15),
        ("duration", "fünfzehn", 15),
        ("duration", "eine halbe Stunde", None),
        ("time_of_day", "vor dem Schlafengehen", "bedtime"),
        ("time_of_day", "morgens", "morning"),
        ("time_of_day", "am Abend", "evening"),
        ("feeling", "ich bin müde", "tired"),
        ("feeling", "Ich habe Angst", "anxious"),
        ("pace", "langsam bitte", "slow"),
        ("voice", "nur Text", "off"),
        ("confirm", "ja, bitte", True),
        ("back", "zurück", True),
        ("back", "zurueck", True),
        ("cancel", "abbrechen", True),
        ("type", "ich möchte eine Meditation", ContentType.MEDITATION),
        ("type", "Affirmationen", ContentType.AFFIRMATIONS),
    ],
    "fr": [
        ("duration", "dix minutes", 10),
        ("duration", "un quart d'heure", 15),
        ("duration", "vingt minutes", 20),
        ("duration", "trois quarts d'heure", None),  # 45
        ("time_of_day", "avant de dormir", "bedtime"),
        ("time_of_day", "le matin", "morning"),
        ("time_of_day", "le soir", "evening"),
        ("feeling", "je suis stressée", "stressed"),
        ("feeling", "je suis inquiète", "anxious"),
        ("feeling", "fatiguée", "tired"),
        ("pace", "lentement", "slow"),
        ("pace", "rapide", "lively"),
        ("voice", "oui", "on"),
        ("confirm", "oui, vas-y", True),
        ("back", "retour", True),
        ("cancel", "annuler", True),
        ("type", "je veux une méditation", ContentType.MEDITATION),
        ("type", "un rituel du soir", ContentType.RITUAL),
    ],
    "ru": [
        ("duration", "10 минут", 10),
        ("duration", "десять минут", 10),
        ("duration", "пять минут", 5),
        ("duration", "пятнадцать минут", 15),
        ("duration", "двадцать минут", 20),
        ("duration", "минуты три", 3),
        ("duration", "полчаса", None),
        ("duration", "одну минуту", None),
        ("time_of_day", "перед сном", "bedtime"),
        ("time_of_day", "утром", "morning"),
        ("time_of_day", "вечером после работы", "evening"),
        ("feeling", "мне тревожно", "anxious"),
        ("feeling", "я очень устала", "tired"),
        ("feeling", "грустно", "sad"),
        ("pace", "медленно", "slow"),
        ("voice", "нет, только текст", "off"),
        ("confirm", "да, создавай", True),
        ("back", "назад", True),
        ("cancel", "отмена", True),
        ("type", "хочу аффирмации", ContentType.AFFIRMATIONS),
        ("type", "медитацию для сна", ContentType.MEDITATION),
    ],
    "uk": [
        ("duration", "десять хвилин", 10),
        ("duration", "п'ятнадцять хвилин", 15),
        ("duration", "п’ять хвилин", 5),
        ("duration", "чверть години", 15),
        ("duration", "півгодини", None),
        ("time_of_day", "перед сном", "bedtime"),
        ("time_of_day", "вранці", "morning"),
        ("time_of_day", "ввечері", "evening"),
        ("feeling", "я втомлена", "tired"),
        ("feeling", "тривожно", "anxious"),
        ("pace", "повільно", "slow"),
        ("voice", "так", "on"),
        ("confirm", "так, створюй", True),
        ("back", "назад", True),
        ("cancel", "скасувати", True),
        ("type", "хочу медитацію", ContentType.MEDITATION),
        ("type", "афірмації", ContentType.AFFIRMATIONS),
    ],
    "tr": [
        ("duration", "10 dakikalık", 10),
        ("duration", "on dakika", 10),
        ("duration", "on beş dakika", 15),
        ("duration", "onbeş dakikalık", 15),
        ("duration", "çeyrek saat", 15),
        ("duration", "yarım saat", None),
        ("duration", "YARIM SAATLİK", None),
        ("time_of_day", "yatmadan önce", "bedtime"),
        ("time_of_day", "sabahları", "morning"),
        ("time_of_day", "akşam", "evening"),
        ("feeling", "çok yorgunum", "tired"),
        ("feeling", "endişeliyim", "anxious"),
        ("pace", "yavaş", "slow"),
        ("voice", "hayır, sadece metin", "off"),
        ("confirm", "evet", True),
        ("back", "geri", True),
        ("cancel", "iptal", True),
        ("cancel", "vazgeç", True),
        ("type", "ritüel", ContentType.RITUAL),
        ("type", "meditasyon istiyorum", ContentType.MEDITATION),
    ],
}

CASES = [(lang, *case) for lang, cases in TABLES.items() for case in cases]


@pytest.mark.parametrize(
    ("language", "kind", "text", "expected"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_answers_are_read_in_each_language(
    language: str, kind: str, text: str, expected: object
) -> None:
    assert read(kind, text, language) == expected


@pytest.mark.parametrize(
    ("language", "kind", "text", "expected"),
    [c for c in CASES if c[0] != "en"],
    ids=[f"{c[0]}-{c[2]}" for c in CASES if c[0] != "en"],
)
def test_answers_are_read_when_the_language_is_unknown(
    language: str, kind: str, text: str, expected: object
) -> None:
    """Every language is matched at once: a user whose language the channel did not say
    is understood all the same."""
    assert read(kind, text, None) == expected


def test_every_table_covers_the_kinds_of_answer() -> None:
    kinds = {"duration", "time_of_day", "feeling", "pace", "voice", "confirm", "back"}
    for language, cases in TABLES.items():
        assert len(cases) >= 10, language
        assert kinds | {"cancel", "type"} <= {kind for kind, _, _ in cases}, language
    assert set(TABLES) == {lexicon.language for lexicon in LEXICONS}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("yes but change the pace", "confirm"),
        ("please", "confirm"),
        ("назад к длительности", "back"),  # more than navigation: not a bare "back"
        ("no", "cancel"),
        ("", "confirm"),
    ],
)
def test_navigation_is_the_whole_message(text: str, kind: str) -> None:
    assert not _NAVIGATION[kind](text)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("change the session length", "duration"),  # not Turkish "ses" (voice)
        ("sure, but slower", "pace"),  # not Turkish "süre" (length) nor French "but"
        ("hazlo de 12 minutos", "duration"),
        ("поменяй темп", "pace"),
        ("ändere die Stimme", "voice"),
    ],
)
def test_a_change_from_the_summary_names_one_field(text: str, field: str) -> None:
    assert reading.FIELD_WORDS.values(reading.fold(text)) == {field}


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("YARIM SAATLİK", "yarim saatlik"),
        ("Schlafengehen, bitte!", "schlafengehen bitte"),
        ("Straße", "strasse"),
        ("un quart d’heure", "un quart d'heure"),
        ("Ещё  ПЯТЬ—минут", "еще пять минут"),
        ("7,5 min.", "7,5 min"),
        ("vingt-cinq", "vingt cinq"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert reading.fold(text) == folded


@pytest.mark.parametrize("lexicon", LEXICONS, ids=lambda lex: lex.language)
def test_every_number_word_1_to_60_is_read_as_minutes(lexicon: Lexicon) -> None:
    """num2words writes each number; reading it back before the language's minute word
    gives the number (so "пятьдесят девять минут" is 59), whatever the language."""
    from num2words import num2words

    unit = lexicon.minute_units[0].rstrip("*")
    for n in range(1, 61):
        said = f"{num2words(n, lang=lexicon.language)} {unit}"
        assert reading.read_minutes(said, lexicon.language) == n, said


@pytest.mark.parametrize("lexicon", LEXICONS, ids=lambda lex: lex.language)
def test_every_lexicon_names_the_same_values(lexicon: Lexicon) -> None:
    """A misspelt value would become an answer no other layer knows."""
    english = LEXICONS[0]
    assert set(lexicon.times) == set(english.times)
    assert set(lexicon.paces) == set(english.paces)
    assert set(lexicon.voice) == set(english.voice)
    assert set(lexicon.feelings) == set(english.feelings)
    assert set(lexicon.field_words) <= set(FIELDS)
    assert set(lexicon.content_names) == set(ContentType)


CHOICE_TERMS = [
    (lexicon.language, field, value, term)
    for lexicon in LEXICONS
    for field, table in (
        ("time_of_day", lexicon.times),
        ("pace", lexicon.paces),
        ("voice", lexicon.voice),
    )
    for value, terms in table.items()
    for term in terms
]


@pytest.mark.parametrize(
    ("language", "field", "value", "term"),
    CHOICE_TERMS,
    ids=[f"{lang}-{field}-{term}" for lang, field, _, term in CHOICE_TERMS],
)
def test_every_choice_term_is_understood_on_its_own(
    language: str, field: str, value: str, term: str
) -> None:
    """Each term, typed alone by a user of its language, means its value: no other
    term of any language (a longer one, or the same word elsewhere) takes it over."""
    assert FIELDS[field].parse(term.rstrip("*"), language).value == value


FEELING_TERMS = [
    (lexicon.language, value, term)
    for lexicon in LEXICONS
    if lexicon.language != "en"
    for value, terms in lexicon.feelings.items()
    for term in terms
]


@pytest.mark.parametrize(
    ("language", "value", "term"),
    FEELING_TERMS,
    ids=[f"{lang}-{term}" for lang, _, term in FEELING_TERMS],
)
def test_every_feeling_term_names_its_feeling(language: str, value: str, term: str) -> None:
    assert reading.read_feeling(term.rstrip("*"), language) == value


@pytest.mark.parametrize("value", sorted(LEXICONS[0].feelings))
def test_the_composer_understands_every_canonical_feeling(value: str) -> None:
    """What a feeling is stored as must be a feeling the scripts meet in their own words."""
    assert feeling_lines(value) != NO_FEELING


@pytest.mark.parametrize("lexicon", LEXICONS, ids=lambda lex: lex.language)
def test_every_content_name_reads_as_its_type(lexicon: Lexicon) -> None:
    for content_type, terms in lexicon.content_names.items():
        for term in terms:
            assert reading.content_type_in(term.rstrip("*"), hints=False) is content_type


def test_a_number_word_means_one_number_in_every_language() -> None:
    """The same word never stands for two numbers (the user's language would then
    have to decide, and an unknown one could not)."""
    clashes = {w: m for w, m in reading.NUMBERS.items() if len(set(m.values())) > 1}
    assert clashes == {}
