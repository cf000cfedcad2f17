"""Language tags, the language identifier on each shipped language, and bots' language
settings as kept in their settings."""

from __future__ import annotations

import pytest

from bots.profile import BotLanguages, BotProfile, LanguageError
from core.people.langid import LanguageIdentifier
from core.text import SHIPPED, is_known, matching, native_name, normalise

# real sentences, as users write them to a bot, none of them from bench/langid_messages.py
SENTENCES = {
    "en": [
        "Could you help me relax before my job interview tomorrow?",
        "I have been waking up at four every night and I don't know why",
    ],
    "es": [
        "¿Podrías ayudarme a relajarme antes de la entrevista de mañana?",
        "Me despierto todas las noches a las cuatro y no sé por qué",
    ],
    "pt": [
        "Você pode me ajudar a relaxar antes da entrevista de amanhã?",
        "Eu acordo todas as noites às quatro horas e não sei por quê",
    ],
    "de": [
        "Kannst du mir helfen, mich vor dem Vorstellungsgespräch morgen zu entspannen?",
        "Ich wache jede Nacht um vier Uhr auf und weiß nicht warum",
    ],
    "fr": [
        "Tu peux m'aider à me détendre avant mon entretien de demain ?",
        "Je me réveille toutes les nuits à quatre heures et je ne sais pas pourquoi",
    ],
    "ru": [
        "Помоги мне расслабиться перед завтрашним собеседованием",
        "Я просыпаюсь каждую ночь в четыре часа и не понимаю почему",
    ],
    "uk": [
        "Допоможи мені розслабитися перед завтрашньою співбесідою",
        "Я прокидаюся щоночі о четвертій і не розумію чому",
    ],
    "tr": [
        "Yarınki iş görüşmesinden önce rahatlamama yardım eder misin?",
        "Her gece saat dörtte uyanıyorum ve nedenini bilmiyorum",
    ],
}


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize("language", SHIPPED)
def test_each_shipped_language_is_identified(identifier: LanguageIdentifier, language: str) -> None:
    for sentence in SENTENCES[language]:
        guess = identifier.guess(sentence, SHIPPED)
        assert guess is not None, sentence
        assert guess.language == language, sentence
        assert guess.probability >= identifier.min_probability


def test_short_texts_decide_nothing_and_load_no_model() -> None:
    fresh = LanguageIdentifier()
    for text in ("ok", "👍👍👍", "thanks!", "да", "1234567890 12345", "merci 🙏"):
        assert fresh.guess(text, SHIPPED) is None
    assert not fresh.loaded


def test_only_the_offered_languages_are_guessed(identifier: LanguageIdentifier) -> None:
    spanish = SENTENCES["es"][0]
    guess = identifier.guess(spanish, ("es", "en"))
    assert guess is not None
    assert guess.language == "es"
    # a bot that doesn't speak Spanish gets Spanish read as one of its own, or nothing
    guess = identifier.guess(spanish, ("en", "de", "ru"))
    assert guess is None or guess.language in ("en", "de", "ru")
    # one language, or none the model knows: nothing to tell apart
    assert identifier.guess(spanish, ("es",)) is None
    assert identifier.guess(spanish, ("xx", "qq")) is None


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="min_probability"):
        LanguageIdentifier(min_probability=0)
    with pytest.raises(ValueError, match="min_letters"):
        LanguageIdentifier(min_letters=0)


def test_tags_are_normalised_and_matched() -> None:
    assert normalise("pt-BR") == "pt-br"
    assert normalise("EN") == "en"
    assert normalise(" pt_BR ") == "pt-br"
    assert normalise("zh-Hant-TW") == "zh-hant-tw"
    for bad in ("", "e", "english!", "<script>", "en--us", "x" * 40, None, 7, ["en"]):
        assert normalise(bad) is None, bad
    assert matching("pt-br", SHIPPED) == "pt"
    assert matching("pt", ("en", "pt-br")) == "pt-br"
    assert matching("it", SHIPPED) is None
    assert matching(None, SHIPPED) is None


def test_languages_are_named_in_themselves() -> None:
    names = {code: native_name(code) for code in SHIPPED}
    assert names == {
        "en": "English",
        "es": "Español",
        "pt": "Português",
        "de": "Deutsch",
        "fr": "Français",
        "ru": "Русский",
        "uk": "Українська",
        "tr": "Türkçe",
    }
    assert native_name("qq") == "qq"
    assert is_known("pt-br")
    assert not is_known("xx")
    assert not is_known("und")


def test_a_bots_languages_resolve_users_to_what_it_offers() -> None:
    languages = BotLanguages.parse(default="es", offered=["es", "EN", "pt_BR"])
    assert languages.offered == ("es", "en", "pt-br")
    assert languages.resolve("en-GB") == "en"
    assert languages.resolve("pt") == "pt-br"
    assert languages.resolve("it") == "es"  # not offered: the default
    assert languages.resolve(None) == "es"
    assert BotLanguages.from_dict(languages.to_dict()) == languages
    assert BotLanguages().to_dict() is None


def test_unusable_language_settings_are_refused() -> None:
    with pytest.raises(LanguageError, match="isn't a language code"):
        BotLanguages.parse(offered=["en", "xx"])
    with pytest.raises(LanguageError, match="must be one it offers"):
        BotLanguages.parse(default="de", offered=["en", "es"])
    with pytest.raises(LanguageError, match="at least one"):
        BotLanguages.parse(offered=[])
    with pytest.raises(LanguageError, match="at most"):
        BotLanguages.parse(greetings={"es": "x" * 5000})
    # what is kept but unreadable falls back to the defaults rather than breaking the bot
    assert BotLanguages.from_dict({"offered": "everything"}) == BotLanguages()


def test_greeting_and_persona_per_language_fall_back_to_the_bots_own() -> None:
    bot = BotProfile(
        id="b",
        name="Mira",
        persona="Calm and warm.",
        greeting="Hello, I'm Mira.",
        languages=BotLanguages.parse(
            greetings={"es": "¡Hola! Soy Mira.", "pt-BR": "Oi! Eu sou a Mira."},
            personas={"es": "Tranquila y cálida."},
        ),
    )
    spanish = bot.speaking("es")
    assert (spanish.welcome, spanish.persona) == ("¡Hola! Soy Mira.", "Tranquila y cálida.")
    portuguese = bot.speaking("pt")
    assert (portuguese.welcome, portuguese.persona) == ("Oi! Eu sou a Mira.", "Calm and warm.")
    assert bot.speaking("de") is bot
