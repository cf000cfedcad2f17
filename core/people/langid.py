"""Which of a bot's languages a user writes in, read from their text, offline.

Used where the platform does not say (WhatsApp, the terminal, a widget whose browser
sent no language). The model is py3langid's naive Bayes classifier over byte n-grams,
which ships inside the package (numpy only, nothing downloaded): it is loaded on the
first text worth reading, never at start-up, and asked only to choose among the
languages the bot offers. A guess is trusted only on text with enough letters and a
probability well above the rest, so "ok" or "👍" decides nothing; ``bench/langid.py``
measures how often it is right on short chat messages and what a call costs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("chorus.langid")

#: fewer letters than this say too little about a language ("ok", "thanks!", "да")
MIN_LETTERS = 12
#: below this probability (among the bot's languages) a guess is not trusted
MIN_PROBABILITY = 0.8


@dataclass(frozen=True, slots=True)
class Guess:
    """A language the text is in, and how sure the model is (0 to 1, among the offered)."""

    language: str
    probability: float


def letters(text: str) -> int:
    """How many letters the text has (digits, signs, emoji and spaces do not count)."""
    return sum(1 for character in text if character.isalpha())


class LanguageIdentifier:
    """Guesses the language of short texts among a given set, once they say enough.

    Thread-safe: the model loads once, under a lock, in whichever thread first needs it;
    each set of languages gets its own restricted classifier, made on first use from the
    loaded model's tables (no second load).
    """

    def __init__(
        self, *, min_letters: int = MIN_LETTERS, min_probability: float = MIN_PROBABILITY
    ) -> None:
        if min_letters < 1 or not 0 < min_probability <= 1:
            raise ValueError("min_letters must be positive and min_probability in (0, 1]")
        self.min_letters = min_letters
        self.min_probability = min_probability
        self._lock = threading.Lock()
        self._model: Any = None  # py3langid's LanguageIdentifier over every language
        self._restricted: dict[frozenset[str], Any] = {}

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (it is, after the first text worth reading)."""
        return self._model is not None

    def guess(self, text: str, languages: tuple[str, ...]) -> Guess | None:
        """The language of ``text`` among ``languages`` (primary codes such as ``es``),
        or None when the text is too short, the guess unsure, or no language is known
        to the model. CPU-bound: well under a millisecond once loaded."""
        if letters(text) < self.min_letters:
            return None
        classifier = self._classifier(languages)
        if classifier is None:
            return None
        language, probability = classifier.classify(text)
        if probability < self.min_probability:
            return None
        return Guess(str(language), float(probability))

    def rank(self, text: str, languages: tuple[str, ...]) -> list[tuple[str, float]]:
        """Every language of ``languages`` the model knows with its probability, best
        first, whatever the text's length (for the benchmark and for diagnosis)."""
        classifier = self._classifier(languages)
        if classifier is None:
            return []
        return [(str(code), float(p)) for code, p in classifier.rank(text)]

    def _classifier(self, languages: tuple[str, ...]) -> Any:
        wanted = frozenset(languages)
        found = self._restricted.get(wanted)
        if found is not None:
            return found
        with self._lock:
            model = self._load()
            known = wanted & set(model.nb_classes)
            if len(known) < 2:  # one language or none: nothing to tell apart
                return None
            classifier = type(model)(
                model.nb_ptc,
                model.nb_pc,
                model.nb_classes,
                model.tk_nextmove,
                model.tk_output,
                norm_probs=True,
                tk_row=model.tk_row,
            )
            classifier.set_languages(sorted(known))
            self._restricted[wanted] = classifier
            return classifier

    def _load(self) -> Any:
        if self._model is None:
            from py3langid.langid import MODEL_FILE
            from py3langid.langid import LanguageIdentifier as Model

            started = time.perf_counter()
            self._model = Model.from_model_file(MODEL_FILE, norm_probs=True)
            log.info("language identifier loaded in %.0f ms", (time.perf_counter() - started) * 1e3)
        return self._model
