"""Reading the guided flow's free-text answers in every shipped language at once.

The words live in :mod:`core.conversation.words`, one module a language; here they are
folded and compiled, once at import, into one pattern per kind of answer, so a turn costs
a few regular-expression searches (microseconds). Every language is matched together: "10
минут", "diez minutos" and "yarım saat" are read whatever language the user is known to
speak. Where languages disagree about a word, the user's language (when known) decides.
Number words come from num2words (all eight languages), with each language's extra forms
(feminine and case forms: "одну", "две") from its lexicon. What is read is language-neutral:
minutes, "bedtime", "anxious", a content type.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from num2words import num2words

from core.content import ContentType
from core.conversation.words import LEXICONS, Lexicon, Terms

LANGUAGES = frozenset(lexicon.language for lexicon in LEXICONS)
_APOSTROPHES = re.compile(r"[’‘ʼ`´]")
# punctuation becomes space; an apostrophe inside a word and a decimal point stay
_PUNCTUATION = re.compile(r"(?:(?<!\d)[.,]|[.,](?!\d)|(?<!\w)'|'(?!\w)|[^\w'.,]|_)+")


def fold(text: str) -> str:
    """``text`` as the patterns see it: case-folded, accents and the Turkish dotless i
    folded away (so "Schlafengehen" and "yarım" match however they are typed), punctuation
    and hyphens as single spaces."""
    text = text.replace("ı", "i").replace("İ", "i").casefold()
    text = _APOSTROPHES.sub("'", text)
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFC", bare)).split())


# a term begins a word; one joined to a number may follow a digit ("1.5h", "10min")
_START = r"(?<![\w'])"
_JOINED_START = r"(?<![^\W\d])"


def _pattern(term: str) -> str:
    """The regular expression of one lexicon term, without its start (:data:`_START`, put
    once before all of a pattern's terms so that only word starts are tried): whole words,
    or a stem ("minut*")."""
    body = re.escape(fold(term.rstrip("*"))).replace(r"\ ", " ")
    return body + (r"\w*" if term.endswith("*") else r"(?![\w'])")


@dataclass(frozen=True, slots=True)
class Found:
    """One term found in a message: what it means in each language that has it, and how
    long the term is (the longest term mentioned wins)."""

    meanings: Mapping[str, str]  # language -> canonical value
    size: int

    def values(self, language: str | None = None) -> frozenset[str]:
        """What the term means: in ``language`` if it has the term, else in any."""
        if language is not None and language in self.meanings:
            return frozenset({self.meanings[language]})
        return frozenset(self.meanings.values())


class Vocabulary:
    """Terms of every language for one kind of answer, compiled into one pattern.

    Each distinct term is a named group, so a match says which term it was; longer terms
    come first, so "no audio" is found rather than "no".
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """``entries``: (language, canonical value, term) triples."""
        meanings: defaultdict[str, dict[str, str]] = defaultdict(dict)
        sizes: dict[str, int] = {}
        for language, value, term in entries:
            pattern = _pattern(term)
            meanings[pattern].setdefault(language, value)
            sizes[pattern] = len(fold(term.rstrip("*")))
        ordered = sorted(meanings, key=lambda p: -sizes[p])
        self._found = [Found(meanings[p], sizes[p]) for p in ordered]
        #: every value a term means, in any language ("morning", "bedtime"…)
        self.canonical = frozenset(v for found in self._found for v in found.meanings.values())
        alternatives = "|".join(f"(?P<t{i}>{p})" for i, p in enumerate(ordered))
        self._regex = re.compile(f"{_START}(?:{alternatives})" if ordered else r"(?!)")

    def search(self, folded: str) -> Iterator[Found]:
        """The terms in a folded message, left to right."""
        for match in self._regex.finditer(folded):
            yield self._found[int(str(match.lastgroup)[1:])]

    def values(self, folded: str, language: str | None = None) -> frozenset[str]:
        """Every value a folded message mentions."""
        return frozenset(v for found in self.search(folded) for v in found.values(language))

    def choose(self, folded: str, language: str | None = None) -> str | None:
        """The one value whose longest term mentioned is longer than any other value's
        ("audio and text" is on, not off for "text"), or None when none or a tie."""
        chosen = _longest(list(self.search(folded)), None)
        if chosen is None and language is not None:  # languages disagree: the user's wins
            mine = [f for f in self.search(folded) if language in f.meanings]
            chosen = _longest(mine, language)
        return chosen


def _longest(found: list[Found], language: str | None) -> str | None:
    best: dict[str, int] = {}
    for item in found:
        for value in item.values(language):
            best[value] = max(best.get(value, 0), item.size)
    if not best:
        return None
    longest = max(best.values())
    winners = [value for value, size in best.items() if size == longest]
    return winners[0] if len(winners) == 1 else None


def _entries(pick: Callable[[Lexicon], Mapping[str, Terms]]) -> Iterator[tuple[str, str, str]]:
    for lexicon in LEXICONS:
        for value, terms in pick(lexicon).items():
            yield from ((lexicon.language, value, term) for term in terms)


def _listed(pick: Callable[[Lexicon], Terms]) -> Vocabulary:
    return Vocabulary((lex.language, "", term) for lex in LEXICONS for term in pick(lex))


def _alternation(terms: Iterable[str], *, start: str = _START) -> str:
    patterns = sorted({_pattern(t) for t in terms}, key=len, reverse=True)
    return start + "(?:" + "|".join(patterns) + ")"


class Navigation:
    """A message that is nothing but words of one kind ("back", "да, создавай", "sí,
    por favor"), in any shipped language."""

    def __init__(self, pick: Callable[[Lexicon], Terms]) -> None:
        words = _alternation(t for lexicon in LEXICONS for t in pick(lexicon))
        polite = _alternation(t for lexicon in LEXICONS for t in lexicon.polite)
        self._only = re.compile(rf"(?:{words})(?: (?:{words}))*")
        self._polite = re.compile(rf" ?(?:{polite}) ?")

    def __call__(self, text: str) -> bool:
        folded = fold(text)
        if self._only.fullmatch(folded):
            return True
        return bool(self._only.fullmatch(self._polite.sub(" ", folded).strip()))


# --- durations ---------------------------------------------------------------------------------


def _number_words(lexicon: Lexicon) -> dict[str, int]:
    """A language's number words 0-60 as num2words writes them, with the tens and units
    apart ("yirmi beş" as well as "yirmibeş") and the lexicon's own extra forms."""
    said = {n: fold(num2words(n, lang=lexicon.language)) for n in range(61)}
    words = {word: n for n, word in said.items()}
    extras = {fold(word): n for word, n in lexicon.numbers.items()}
    units = {word: n for word, n in {**words, **extras}.items() if 0 < n < 10}
    for tens in range(10, 60, 10):
        words.update({f"{said[tens]} {unit}": tens + n for unit, n in units.items()})
    return {**words, **extras}


def _numbers() -> Mapping[str, Mapping[str, int]]:
    numbers: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for lexicon in LEXICONS:
        for word, n in _number_words(lexicon).items():
            numbers[word][lexicon.language] = n
    return numbers


NUMBERS = _numbers()
_LONGEST_NUMBER = max(len(word.split()) for word in NUMBERS)  # in words: "vingt et un"
_MINUTE = re.compile(_alternation(t for lexicon in LEXICONS for t in lexicon.minute_units))
_HOUR = re.compile(_alternation(t for lexicon in LEXICONS for t in lexicon.hour_units))
_JOINED_HOURS = _alternation((t for lex in LEXICONS for t in lex.hour_units), start=_JOINED_START)
_DIGITS = re.compile(rf"(\d+(?:[.,]\d+)?) ?(?P<hours>{_JOINED_HOURS})?")
_FRACTIONS = Vocabulary(
    (lexicon.language, str(minutes), phrase)
    for lexicon in LEXICONS
    for phrase, minutes in lexicon.fractions.items()
)


def _numbers_in(words: list[str], language: str | None) -> Iterator[tuple[int, str]]:
    """Each number word in a folded message's words, with the word after it (a unit?);
    the longest number phrase at each place wins ("twenty five", not "twenty")."""
    start = 0
    while start < len(words):
        for size in range(min(_LONGEST_NUMBER, len(words) - start), 0, -1):
            meanings = NUMBERS.get(" ".join(words[start : start + size]))
            if meanings is not None:
                after = words[start + size] if start + size < len(words) else ""
                n = meanings.get(language or "", next(iter(meanings.values())))
                yield n, after
                start += size
                break
        else:
            start += 1


def _unit(word: str) -> bool:
    return bool(_MINUTE.fullmatch(word) or _HOUR.fullmatch(word))


def read_minutes(text: str, language: str | None = None) -> float | None:
    """How many minutes a message says, in any shipped language: "10", "1.5 h", "ten
    minutes", "пять минут", "zehn Minuten", "un quart d'heure", "yarım saat"; None when it
    says no length or more than one ("ten or fifteen")."""
    folded = fold(text)
    if match := _DIGITS.search(folded):
        minutes = float(match.group(1).replace(",", "."))
        return minutes * 60 if match.group("hours") else minutes
    numbers = list(_numbers_in(folded.split(), language))
    # a number with its unit says the length: "um, ten minutes" is 10
    counted = {n * 60 if _HOUR.fullmatch(after) else n for n, after in numbers if _unit(after)}
    if len(counted) == 1:
        return float(counted.pop())
    if not counted and (fraction := _FRACTIONS.choose(folded, language)):
        return float(fraction)
    lone = {n for n, _after in numbers}
    return float(lone.pop()) if len(lone) == 1 and not counted else None


# --- choices, feelings, navigation, content types ------------------------------------------------

TIMES = Vocabulary(_entries(lambda lexicon: lexicon.times))
PACES = Vocabulary(_entries(lambda lexicon: lexicon.paces))
VOICE = Vocabulary(_entries(lambda lexicon: lexicon.voice))
FEELINGS = Vocabulary(_entries(lambda lexicon: lexicon.feelings))
FIELD_WORDS = Vocabulary(_entries(lambda lexicon: lexicon.field_words))
EDIT_VERBS = _listed(lambda lexicon: lexicon.edit_verbs)
CREATE_VERBS = _listed(lambda lexicon: lexicon.create_verbs)
_QUESTION_START = re.compile(_alternation(t for lex in LEXICONS for t in lex.question_words))
_CONTENT_NAMES = Vocabulary(
    _entries(lambda lexicon: {t.value: terms for t, terms in lexicon.content_names.items()})
)
_CONTENT_HINTS = Vocabulary(
    _entries(lambda lexicon: {t.value: terms for t, terms in lexicon.content_hints.items()})
)

is_confirm = Navigation(lambda lexicon: lexicon.confirm)
is_back = Navigation(lambda lexicon: lexicon.back)
is_cancel = Navigation(lambda lexicon: lexicon.cancel)


def read_feeling(text: str, language: str | None = None) -> str | None:
    """The canonical feeling ("anxious", "tired"…) an answer in another language than
    English names, or None: an English answer, or one naming no feeling or several, is
    kept in the user's own words (the composer and the language models read English)."""
    if language == "en":
        return None
    found = list(FEELINGS.search(fold(text)))
    if language not in LANGUAGES and any("en" in f.meanings for f in found):
        return None
    values = {v for f in found for v in f.values(language)}
    return values.pop() if len(values) == 1 else None


def content_type_in(text: str, *, hints: bool = True) -> ContentType | None:
    """The content type a message asks for, if it names exactly one, in any shipped
    language ("quiero una meditación", "хочу аффирмации", "ritüel").

    With ``hints`` false only the types' own names count ("meditation", "ritual"), so a
    question about breathing in chat is not mistaken for a request for a meditation.
    """
    folded = fold(text)
    found = _CONTENT_NAMES.values(folded)
    if hints and not found:
        found = _CONTENT_HINTS.values(folded)
    return ContentType(next(iter(found))) if len(found) == 1 else None


def asks_question(text: str) -> bool:
    """Whether a message is a question: a question mark, or a question word first."""
    return "?" in text or bool(_QUESTION_START.match(fold(text)))
